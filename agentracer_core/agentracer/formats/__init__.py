"""Importers and exporters. :func:`read` detects the format of a file or folder; :func:`write` picks one.

Formats: ``jsonl`` (native, streamable), ``whowhen`` (Who&When JSON), ``otlp`` (OTLP JSON, our spans or
OpenInference spans), ``json`` (one trace as a JSON document).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..recording.redact import redacts
from ..trace import AnnotatedTrace, Trace, TraceError

__all__ = ["FORMATS", "load_annotated", "load_trace", "read", "write"]

FORMATS = ("jsonl", "whowhen", "otlp", "json")


def _read_file(path: Path) -> list[Trace | AnnotatedTrace]:
    if path.suffix == ".jsonl":
        from .jsonl import read_jsonl

        return read_jsonl(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise TraceError(f"not UTF-8 text: {e.reason}", file=str(path)) from None
    except OSError as e:
        raise TraceError(f"cannot read: {e.strerror}", file=str(path)) from None
    try:
        d = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        # maybe JSONL under another name
        if text.lstrip().startswith("{") and "\n{" in text:
            from .jsonl import parse_jsonl

            return parse_jsonl(text, str(path))
        raise TraceError(f"malformed JSON: {e}", file=str(path)) from None
    return read_obj(d, str(path))


def read_obj(d: object, name: str = "<input>") -> list[Trace | AnnotatedTrace]:
    """Convert an already-parsed JSON value of any supported format."""
    from .whowhen import from_whowhen, is_whowhen

    try:
        if isinstance(d, dict) and ("resourceSpans" in d or "resource_spans" in d):
            from .otlp import from_otlp_json

            return list(from_otlp_json(d, name=name))
        if is_whowhen(d):
            return [from_whowhen(d, name=name)]
        if isinstance(d, dict) and ("run_id" in d or "steps" in d):
            return [AnnotatedTrace.from_dict(d) if "annotation" in d else Trace.from_dict(d)]
        if isinstance(d, list):
            out: list[Trace | AnnotatedTrace] = []
            for x in d:
                out.extend(read_obj(x, name))
            return out
    except TraceError as e:
        raise (e if e.file else e.with_file(name)) from None
    raise TraceError("unrecognised format (expected Who&When, agentracer JSON/JSONL or OTLP JSON)", file=name)


def read(path: str | Path) -> list[Trace | AnnotatedTrace]:
    """Every trace in a file, or in every ``.json``/``.jsonl`` file of a folder (sorted naturally)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(
            (p for p in path.iterdir() if p.suffix in (".json", ".jsonl")),
            key=lambda p: (int(p.stem) if p.stem.isdigit() else float("inf"), p.name),
        )
        out: list[Trace | AnnotatedTrace] = []
        for f in files:
            out.extend(_read_file(f))
        return out
    if not path.exists():
        raise TraceError("no such file", file=str(path))
    return _read_file(path)


def load_trace(path: str | Path) -> Trace:
    """The first trace in ``path`` (the gold label, if any, is dropped; see :func:`load_annotated`)."""
    items = read(path)
    if not items:
        raise TraceError("holds no trace", file=str(path))
    first = items[0]
    return first.trace if isinstance(first, AnnotatedTrace) else first


def load_annotated(path: str | Path) -> list[AnnotatedTrace]:
    """Every trace in ``path`` that carries a gold attribution."""
    return [x for x in read(path) if isinstance(x, AnnotatedTrace)]


@redacts("items")
def write(items: list[Trace | AnnotatedTrace] | Trace | AnnotatedTrace, path: str | Path, fmt: str | None = None) -> Path:
    """Write ``items`` to ``path`` in ``fmt`` (default: from the suffix; ``.jsonl`` or ``.json``), redacted.

    Every string of every trace goes through :func:`agentracer.recording.redact.redact` on the way out,
    imported traces included.
    """
    path = Path(path)
    if isinstance(items, (Trace, AnnotatedTrace)):
        items = [items]
    fmt = fmt or ("jsonl" if path.suffix == ".jsonl" else "json")
    if fmt == "jsonl":
        from .jsonl import write_jsonl

        return write_jsonl(items, path)
    if fmt == "whowhen":
        from .whowhen import write_whowhen

        if len(items) != 1:
            raise TraceError("Who&When holds one trace per file", file=str(path))
        return write_whowhen(items[0], path)
    if fmt == "otlp":
        from .otlp import write_otlp_json

        return write_otlp_json(items, path)
    if fmt == "json":
        import os

        body = [x.to_dict() for x in items]
        text = json.dumps(body[0] if len(body) == 1 else body, ensure_ascii=False, indent=2)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        return path
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
