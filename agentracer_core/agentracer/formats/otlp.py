"""OTLP: traces as OpenTelemetry spans, in OTLP/JSON files and over OTLP/HTTP; the one place that decides
which importer reads a trace's spans.

- :func:`to_otlp_json` / :func:`write_otlp_json`: a Trace (or AnnotatedTrace) becomes an OTLP/JSON
  ``{"resourceSpans": [...]}`` document with our span conventions
  (:mod:`agentracer.formats.agentracer_spans`), so :func:`from_otlp_json` gives back an equal Trace.
- :func:`from_otlp_json`: reads our spans losslessly, spans of the AutoGen AgentChat OpenInference
  instrumentor through :mod:`agentracer.formats.openinference_autogen`, and other OpenInference or OTel
  GenAI spans through :mod:`agentracer.formats.openinference`.

Also importable from here, as before: :func:`parse_otlp_spans` and :func:`spans_to_otlp_json` (the wire
format, :mod:`agentracer.formats.otlp_json`), :func:`trace_to_spans`, and :func:`send_otlp` /
:func:`otlp_tracer_provider` (live export, :mod:`agentracer.formats.otlp_live`).

Import arrows: this module -> the importers (``agentracer_spans``, ``openinference_autogen``,
``openinference``) -> ``otlp_json``; nothing imports back up.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..recording.redact import redacts
from ..trace import AnnotatedTrace, Trace, TraceError
from .agentracer_spans import is_agentracer_spans, spans_to_trace, trace_to_spans
from .openinference import from_openinference_spans, is_openinference
from .openinference_autogen import is_openinference_autogen, openinference_autogen_traces
from .otlp_json import parse_otlp_spans, spans_document, spans_to_otlp_json
from .otlp_live import otlp_tracer_provider, send_otlp

__all__ = [
    "from_otlp_json",
    "otlp_tracer_provider",
    "parse_otlp_spans",
    "send_otlp",
    "spans_to_otlp_json",
    "to_otlp_json",
    "trace_to_spans",
    "write_otlp_json",
]


def to_otlp_json(traces: Trace | AnnotatedTrace | Iterable[Trace | AnnotatedTrace]) -> dict[str, Any]:
    """OTLP/JSON (``{"resourceSpans": [...]}``) of one or more traces; :func:`from_otlp_json` inverts it."""
    items = [traces] if isinstance(traces, (Trace, AnnotatedTrace)) else list(traces)
    spans: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        spans.extend(trace_to_spans(item, i))
    return spans_document(spans)


@redacts("items")
def write_otlp_json(items: Trace | AnnotatedTrace | Iterable[Trace | AnnotatedTrace], path: str | Path) -> Path:
    """Write OTLP/JSON to ``path`` atomically (a temp file renamed over it), redacted."""
    path = Path(path)
    text = json.dumps(to_otlp_json(items), ensure_ascii=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def from_otlp_json(d: Mapping[str, Any], name: str = "<otlp>") -> list[Trace | AnnotatedTrace]:
    """Every trace in an OTLP/JSON document, one per trace id, in order of first appearance.

    Traces written by :func:`to_otlp_json` come back exactly; spans from the AutoGen AgentChat
    OpenInference instrumentor go through :mod:`agentracer.formats.openinference_autogen`, and other
    OpenInference or OTel GenAI spans (LangChain/LangGraph, our live spans...) through
    :func:`agentracer.formats.openinference.from_openinference_spans`.
    """
    if not isinstance(d, Mapping):
        raise TraceError(f"expected an object, got {type(d).__name__}", file=name)
    try:
        return _from_otlp_json(d, name)
    except TraceError as e:
        raise (e if e.file else e.with_file(name)) from None
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError, OverflowError) as e:
        raise TraceError(f"malformed OTLP JSON ({type(e).__name__}: {e})", file=name) from None


def _from_otlp_json(d: Mapping[str, Any], name: str) -> list[Trace | AnnotatedTrace]:
    spans = parse_otlp_spans(d, name)
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        groups.setdefault(s["trace_id"], []).append(s)
    out: list[Trace | AnnotatedTrace] = []
    empty = 0
    for tid, group in groups.items():
        ours = is_agentracer_spans(group)
        if ours and any("agentracer.step.content" in s["attributes"] for s in group):
            out.append(spans_to_trace(group, name))
            continue
        if is_openinference_autogen(group):
            imported = openinference_autogen_traces(group, name=name)
        elif not is_openinference(group) and not ours:
            raise TraceError(f"trace {tid}: spans carry neither agentracer, OpenInference nor GenAI attributes", file=name)
        else:
            imported = [from_openinference_spans(group, name=name)]
        # spans with no agent step (AutoGen's `create_agent` spans, each in a trace id of its own) are no run
        kept = [t for t in imported if t.steps]
        empty += len(imported) - len(kept)
        out.extend(kept)
    if not out:
        raise TraceError("holds spans but no agent step" if empty else "holds no spans", file=name)
    return out
