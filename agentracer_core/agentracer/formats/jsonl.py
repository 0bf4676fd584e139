"""JSONL: the native, streamable trace format.

A file holds one or more traces. Each line is a JSON object with a ``type``:

- ``trace``: a whole trace (``Trace.to_dict()``), optionally with an ``annotation`` (an AnnotatedTrace);
- ``run_start`` / ``step`` / ``run_end``: the streamed form written live by
  :class:`~agentracer.recording.JsonlSink` (re-exported here), one line per finished step, appended and
  flushed, so a process killed mid-run leaves a readable partial trace.

Readers reassemble streamed runs by ``run_id``; a ``run_start`` for a run id whose run already started begins
a new trace (files written before run ids were unique per run reused a thread id). A malformed line anywhere
(a crash or a full disk tore it) is skipped with a :class:`SkippedLineWarning` naming the file and the line,
and every run around it is kept; the writer starts on a fresh line after a torn one, so a torn line never
swallows the next. The file stays plain JSONL (``jq``, ``pandas.read_json(lines=True)``).

For very long files, :func:`scan_jsonl` makes one pass that builds no step (each trace's header, size and
counts per agent and kind, as :class:`TraceEntry`), and :func:`load_steps` then reads just the steps asked for
by seeking to their lines: ``agentracer show`` prints the first page of a 100,000-step file that way.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..recording import JsonlSink
from ..recording.redact import redacts
from ..trace import AnnotatedTrace, Step, Trace, TraceError

__all__ = ["JsonlSink", "SkippedLineWarning", "TraceEntry", "dumps", "load_steps", "read_jsonl", "scan_jsonl", "write_jsonl"]


class SkippedLineWarning(UserWarning):
    """A JSONL line that is not a JSON object (torn by a crash or a full disk) was skipped."""


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
        data = path.read_bytes()
    except OSError as e:
        raise TraceError(f"cannot read: {e.strerror}", file=str(path)) from None
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError:  # a line torn inside a multi-byte character: skip that line, keep the rest
        parts = []
        for i, b in enumerate(data.split(b"\n")):
            try:
                parts.append(b.decode("utf-8"))
            except UnicodeDecodeError as e:
                warnings.warn(f"{path}: line {i + 1}: skipped a line that is not UTF-8 ({e.reason})",
                              SkippedLineWarning, stacklevel=2)
                parts.append("")
        raw = "\n".join(parts)
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
            if i == last and not out and not streams:  # the file's only record, cut mid-line
                at = sum(len(ln.encode("utf-8")) + 1 for ln in lines[:i]) + len(line.encode("utf-8"))
                raise TraceError(f"truncated: line {i + 1}, its only record, is cut at byte {at}", file=name) from None
            warnings.warn(f"{name}: line {i + 1}: skipped a malformed line ({e})", SkippedLineWarning, stacklevel=2)
            continue
        if not isinstance(obj, dict):
            warnings.warn(f"{name}: line {i + 1}: skipped a line that is not a JSON object", SkippedLineWarning,
                          stacklevel=2)
            continue
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
                if st is None or (kind == "run_start" and (st["started"] or st["end"] is not None)):
                    st = streams[rid] = {"header": {"run_id": rid}, "steps": {}, "end": None, "started": False}
                    order.append(st)
                if kind == "run_start":
                    st["header"] = {k: v for k, v in obj.items() if k != "type"}
                    st["started"] = True
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
    for st in order:
        if not isinstance(st, dict):
            result.append(st)
            continue
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



# ---------------------------------------------------------------------------------------------- fast pass
@dataclass
class TraceEntry:
    """One trace of a JSONL file as :func:`scan_jsonl` sees it: its header, its size and its step counts per
    agent and kind, without building its steps (:func:`load_steps` reads a page of them on demand)."""

    header: dict[str, Any]  # run_id, task, framework, outcome, final_answer, ground_truth, agents, metadata
    gold: dict[str, Any] | None = None  # the annotation's gold attribution (an annotated "trace" line)
    whole_at: int | None = None  # byte offset of a "trace" line
    n_whole: int = 0  # steps of a "trace" line
    whole_counts: dict[str, Counter[str]] = field(default_factory=dict)
    streamed: dict[int, tuple[int, str, str]] = field(default_factory=dict)  # index -> (offset, agent, kind)
    started: bool = False
    ended: bool = False

    @property
    def run_id(self) -> str:
        return str(self.header.get("run_id", ""))

    @property
    def session_id(self) -> str | None:
        """The thread or session the run belongs to (``metadata["session_id"]``), if any."""
        meta = self.header.get("metadata")
        sid = meta.get("session_id") if isinstance(meta, dict) else None
        return str(sid) if sid not in (None, "") else None

    @property
    def n_steps(self) -> int:
        return self.n_whole if self.whole_at is not None else len(self.streamed)

    @property
    def counts(self) -> dict[str, Counter[str]]:
        """Steps per agent and kind, agents in order of first appearance."""
        if self.whole_at is not None:
            return self.whole_counts
        out: dict[str, Counter[str]] = {}
        for i in sorted(self.streamed):
            _, agent, kind = self.streamed[i]
            out.setdefault(agent, Counter())[kind] += 1
        return out


def scan_jsonl(path: str | Path) -> list[TraceEntry]:
    """One fast pass over a JSONL file: every trace's :class:`TraceEntry`, in the order :func:`read_jsonl`
    returns them (same run-id rules, same :class:`SkippedLineWarning` for malformed lines, same "truncated"
    error for a file whose only record is cut). Lines are parsed but no :class:`Step` is built, and no step
    content is kept: memory grows with the number of steps, not with their text."""
    path = Path(path)
    out: list[TraceEntry] = []
    streams: dict[str, TraceEntry] = {}
    pending: tuple[int, int, str] | None = None  # a malformed line seen before any record: (line, byte end, why)
    try:
        f = path.open("rb")
    except OSError as e:
        raise TraceError(f"cannot read: {e.strerror}", file=str(path)) from None
    with f:
        offset = 0
        for lineno, line in enumerate(f, 1):
            at = offset
            offset += len(line)
            if not line.strip():
                continue
            if pending is not None:
                warnings.warn(f"{path}: line {pending[0]}: skipped a malformed line ({pending[2]})",
                              SkippedLineWarning, stacklevel=2)
                pending = None
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, RecursionError, UnicodeDecodeError) as e:
                if not out:
                    pending = (lineno, offset - (1 if line.endswith(b"\n") else 0), str(e))
                else:
                    warnings.warn(f"{path}: line {lineno}: skipped a malformed line ({e})", SkippedLineWarning,
                                  stacklevel=2)
                continue
            if not isinstance(obj, dict):
                warnings.warn(f"{path}: line {lineno}: skipped a line that is not a JSON object",
                              SkippedLineWarning, stacklevel=2)
                continue
            kind = obj.get("type", "trace")
            if kind == "trace":
                steps = obj.get("steps") or []
                counts: dict[str, Counter[str]] = {}
                for s in steps if isinstance(steps, list) else ():
                    if isinstance(s, dict):
                        counts.setdefault(str(s.get("agent")), Counter())[str(s.get("kind", "agent_message"))] += 1
                ann = obj.get("annotation")
                head = {k: v for k, v in obj.items() if k not in ("type", "steps", "annotation")}
                out.append(TraceEntry(header=head, gold=ann.get("gold") if isinstance(ann, dict) else None,
                                      whole_at=at, n_whole=len(steps) if isinstance(steps, list) else 0,
                                      whole_counts=counts))
            elif kind in ("run_start", "step", "run_end"):
                rid = obj.get("run_id")
                if not isinstance(rid, str):
                    raise TraceError(f"line {lineno}: missing or not a string", file=str(path), field="run_id")
                st = streams.get(rid)
                if st is None or (kind == "run_start" and (st.started or st.ended)):
                    st = streams[rid] = TraceEntry(header={"run_id": rid})
                    out.append(st)
                if kind == "run_start":
                    st.header = {k: v for k, v in obj.items() if k != "type"}
                    st.started = True
                elif kind == "step":
                    s = obj.get("step")
                    idx = s.get("index") if isinstance(s, dict) else None
                    if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0:
                        raise TraceError(f"line {lineno}: must be a non-negative integer, got {idx!r}",
                                         file=str(path), field="index")
                    st.streamed[idx] = (at, str(s.get("agent")), str(s.get("kind", "agent_message")))
                else:
                    st.ended = True
                    for k in ("outcome", "final_answer", "ground_truth", "agents", "task"):
                        if obj.get(k) is not None:
                            st.header[k] = obj[k]
                    if isinstance(obj.get("metadata"), dict):
                        st.header["metadata"] = obj["metadata"]
            else:
                raise TraceError(f"line {lineno}: unknown line type {kind!r}", file=str(path), field="type")
    if pending is not None:
        if not out:
            raise TraceError(f"truncated: line {pending[0]}, its only record, is cut at byte {pending[1]}",
                             file=str(path))
        warnings.warn(f"{path}: line {pending[0]}: skipped a malformed line ({pending[2]})", SkippedLineWarning,
                      stacklevel=2)
    for st in out:
        if st.whole_at is None and not st.ended:
            st.header["metadata"] = dict(st.header.get("metadata") or {}, partial=True)
    return out


def load_steps(path: str | Path, entry: TraceEntry, rows: range) -> list[Step]:
    """The steps at positions ``rows`` of the trace ``entry`` (from :func:`scan_jsonl` on ``path``), read by
    seeking to their lines; a streamed run missing some steps is renumbered densely as :func:`read_jsonl` does."""
    with Path(path).open("rb") as f:
        if entry.whole_at is not None:
            f.seek(entry.whole_at)
            steps = json.loads(f.readline()).get("steps") or []
            return [Step.from_dict(steps[i], position=i) for i in rows if 0 <= i < len(steps)]
        order = sorted(entry.streamed)
        dense = order == list(range(len(order)))
        pos = {old: new for new, old in enumerate(order)} if not dense else None
        out = []
        for i in rows:
            if not 0 <= i < len(order):
                continue
            f.seek(entry.streamed[order[i]][0])
            s = Step.from_dict(json.loads(f.readline()).get("step"), position=None)
            if pos is not None:
                s.metadata.setdefault("original_index", s.index)
                s.index = i
                s.parent = pos.get(s.parent) if s.parent is not None else None
            out.append(s)
        return out
