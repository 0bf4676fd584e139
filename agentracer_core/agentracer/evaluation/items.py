"""Loading what an evaluation scores: every annotated trace under a file or folder, with its subset labels."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..trace import AnnotatedTrace, TraceError

__all__ = ["EvalItem", "load_items", "natural_key"]


@dataclass
class EvalItem:
    """One annotated trace to score, with the file it came from and its subset labels."""

    item: AnnotatedTrace
    file: str
    subsets: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Unique id of the item within an evaluation: file and run id."""
        return f"{self.file}#{self.item.trace.run_id}"


def natural_key(p: Path) -> tuple[Any, ...]:
    """Sort key for paths with numbers in them (``2.json`` before ``10.json``)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in p.with_suffix("").parts)


def _files(src: Path) -> list[Path]:
    if src.is_dir():
        return sorted((p for p in src.rglob("*") if p.suffix in (".json", ".jsonl") and p.is_file()), key=natural_key)
    if not src.exists():
        raise TraceError("no such file or folder", file=str(src))
    return [src]


_TRACE_KEYS = ("run_id", "steps", "history", "resourceSpans", "resource_spans")


def _looks_like_traces(path: Path) -> bool:
    """Whether the first JSON value of ``path`` (its first line for JSONL) has the keys of a trace."""
    try:
        with path.open(encoding="utf-8") as fh:
            head = fh.readline() if path.suffix == ".jsonl" else fh.read()
        d = json.loads(head)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return True  # unreadable: let the reader's error stand
    if isinstance(d, list):
        d = d[0] if d else {}
    return isinstance(d, dict) and any(k in d for k in _TRACE_KEYS)


def _subsets(it: AnnotatedTrace, rel_folder: str) -> dict[str, str]:
    tr = it.trace
    out = {"folder": rel_folder or "."}
    ww = tr.metadata.get("whowhen") if isinstance(tr.metadata.get("whowhen"), dict) else {}
    level = ww.get("level", tr.metadata.get("level"))
    if level is not None:
        out["level"] = str(level)
    out["source"] = it.source
    if it.fault_type:
        out["fault_type"] = it.fault_type
    out["framework"] = tr.framework
    for key in ("domain", "subset"):
        v = tr.metadata.get(key, it.metadata.get(key))
        if isinstance(v, (str, int)):
            out[key] = str(v)
    return out


def load_items(src: str | Path | Sequence[str | Path]) -> tuple[list[EvalItem], list[str]]:
    """Every annotated trace under ``src`` (a file or a folder, searched recursively), and warnings.

    Files that hold traces without a gold attribution, and (in a folder) JSON files that are not traces
    at all (manifests, ledgers), are skipped and named in the warnings; a malformed trace file raises
    :class:`TraceError` naming it.
    """
    from ..formats import read

    srcs = [Path(s) for s in ([src] if isinstance(src, (str, Path)) else src)]
    items: list[EvalItem] = []
    warnings: list[str] = []
    for root in srcs:
        for f in _files(root):
            try:
                got = read(f)
            except TraceError as e:
                # a folder may also hold manifests, ledgers, dataset metadata: skip what is not a trace
                if root.is_dir() and (e.reason.startswith("unrecognised format") or not _looks_like_traces(f)):
                    warnings.append(f"{f}: not a trace file, skipped")
                    continue
                raise
            rel = f.parent.relative_to(root).as_posix() if root.is_dir() else ""
            n_plain = 0
            for x in got:
                if isinstance(x, AnnotatedTrace) and x.gold is not None:
                    items.append(EvalItem(x, str(f), _subsets(x, rel)))
                else:
                    n_plain += 1
            if n_plain:
                warnings.append(f"{f}: {n_plain} trace(s) without a gold attribution skipped")
    return items, warnings
