"""JSONL: the native, streamable trace format.

A file holds one or more traces. Each line is a JSON object with a ``type``:

- ``trace``: a whole trace (``Trace.to_dict()``), optionally with an ``annotation`` (an AnnotatedTrace);
- ``run_start`` / ``step`` / ``run_end``: the streamed form written live by
  :class:`~agentracer.recording.JsonlSink` (re-exported here), one line per finished step, appended and
  flushed, so a process killed mid-run leaves a readable partial trace.

Readers accept a truncated last line (a crash mid-write) and reassemble streamed runs by ``run_id``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..recording import JsonlSink
from ..recording.redact import redacts
from ..trace import AnnotatedTrace, Step, Trace, TraceError

__all__ = ["JsonlSink", "dumps", "read_jsonl", "write_jsonl"]


def dumps(item: Trace | AnnotatedTrace) -> str:
    """One JSONL line (no newline) holding a whole trace or annotated trace."""
    d = item.to_dict()
    d["type"] = "trace"
    return json.dumps(d, ensure_ascii=False)


@redacts("items")
def write_jsonl(items: list[Trace | AnnotatedTrace] | Trace | AnnotatedTrace, path: str | Path) -> Path:
    """Write traces to ``path`` atomically (a temp file renamed over it): nothing is half written. Redacted."""
    if isinstance(items, (Trace, AnnotatedTrace)):
        items = [items]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [dumps(t) for t in items]  # serialise everything before touching the file
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_jsonl(path: str | Path) -> list[Trace | AnnotatedTrace]:
    """Read every trace in a JSONL file; errors are :class:`TraceError` naming the file, line and field."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise TraceError(f"not UTF-8 text: {e.reason}", file=str(path)) from None
    return parse_jsonl(raw, str(path))


def parse_jsonl(raw: str, name: str = "<jsonl>") -> list[Trace | AnnotatedTrace]:
    """Parse JSONL text (see the module docstring for the line types)."""
    lines = raw.split("\n")
    out: list[Trace | AnnotatedTrace] = []
    streams: dict[str, dict[str, Any]] = {}
    order: list[Any] = []
    last = max((i for i, ln in enumerate(lines) if ln.strip()), default=-1)
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as e:
            if i == last:  # a truncated last line: the writer died mid-line; keep what came before
                if not out and not streams:
                    at = sum(len(ln.encode("utf-8")) + 1 for ln in lines[:i]) + len(line.encode("utf-8"))
                    raise TraceError(f"truncated: line {i + 1}, its only record, is cut at byte {at}", file=name) from None
                break
            raise TraceError(f"line {i + 1}: malformed JSON ({e})", file=name) from None
        if not isinstance(obj, dict):
            raise TraceError(f"line {i + 1}: expected an object, got {type(obj).__name__}", file=name)
        kind = obj.get("type", "trace")
        try:
            if kind == "trace":
                body = {k: v for k, v in obj.items() if k != "type"}
                item: Trace | AnnotatedTrace = (
                    AnnotatedTrace.from_dict(body) if "annotation" in body else Trace.from_dict(body)
                )
                out.append(item)
                order.append(item)
            elif kind in ("run_start", "step", "run_end"):
                rid = obj.get("run_id")
                if not isinstance(rid, str):
                    raise TraceError("missing or not a string", field="run_id")
                st = streams.get(rid)
                if st is None:
                    st = streams[rid] = {"header": {"run_id": rid}, "steps": {}, "end": None}
                    order.append(rid)
                if kind == "run_start":
                    st["header"] = {k: v for k, v in obj.items() if k != "type"}
                elif kind == "step":
                    s = Step.from_dict(obj.get("step"), position=None)
                    st["steps"][s.index] = s
                else:
                    st["end"] = obj
            else:
                raise TraceError(f"unknown line type {kind!r}", field="type")
        except TraceError as e:
            raise TraceError(f"line {i + 1}: {e.reason}", file=name, field=e.field, step=e.step) from None
    # assemble streamed runs (possibly partial) in first-seen order
    result: list[Trace | AnnotatedTrace] = []
    for key in order:
        if not isinstance(key, str):
            result.append(key)
            continue
        st = streams[key]
        d = dict(st["header"])
        idx = sorted(st["steps"])
        steps = [st["steps"][i] for i in idx]
        if idx != list(range(len(idx))):
            # a crash can lose the steps still open; renumber densely, keep the original index
            remap = {old: new for new, old in enumerate(idx)}
            for s in steps:
                s.metadata.setdefault("original_index", s.index)
                s.index = remap[s.index]
                s.parent = remap.get(s.parent) if s.parent is not None else None
        d["steps"] = []  # the parsed steps go in directly below (no dict round trip: linear and cheap)
        end = st["end"]
        if end is None:
            d.setdefault("metadata", {})
            d["metadata"] = dict(d["metadata"] or {}, partial=True)
        else:
            for k in ("outcome", "final_answer", "ground_truth", "agents", "task"):
                if end.get(k) is not None:
                    d[k] = end[k]
            if isinstance(end.get("metadata"), dict):
                d["metadata"] = end["metadata"]
        try:
            tr = Trace.from_dict(d)
            tr.steps = steps
            for s in steps:
                if s.agent and s.agent not in tr.agents:
                    tr.agents.append(s.agent)
            result.append(tr.validate())
        except TraceError as e:
            raise e.with_file(name) from None
    return result

