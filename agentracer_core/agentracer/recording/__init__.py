"""Recording: adapter events become Steps and OpenTelemetry spans, exporters, and redaction.

Plugins report to a :class:`Recorder`; it builds the :class:`~agentracer.trace.Trace` and the spans.
Import recording names from this package (``from agentracer.recording import Recorder``); the modules
behind it are its own business. The exporters are in :mod:`agentracer.recording.export` (they load
OpenTelemetry's SDK) and redaction in :mod:`agentracer.recording.redact`.
"""

from __future__ import annotations

from .recorder import (
    Recorder,
    ReplayLLM,
    Run,
    Sink,
    StepHandle,
    _current_run,
    _current_step,
    guarded,
    last_trace,
    llm_call_key,
    llm_key_part,
    run_span_attributes,
    safe,
)

__all__ = [
    "Recorder",
    "ReplayLLM",
    "Run",
    "Sink",
    "StepHandle",
    "current_run",
    "current_step",
    "guarded",
    "last_trace",
    "llm_call_key",
    "llm_key_part",
    "run_span_attributes",
    "safe",
]


def current_run() -> Run | None:
    """The run open in the caller's context (``with recorder.run(...)`` or a plugin's run), if any."""
    return _current_run.get()


def current_step() -> StepHandle | None:
    """The agent step open in the caller's context, if any (the parent of LLM and tool calls made now)."""
    return _current_step.get()
