"""Recording: adapter events become Steps and OpenTelemetry spans, exporters, and redaction.

Plugins report to a :class:`Recorder`; it builds the :class:`~agentracer.trace.Trace` and the spans.
Import recording names from this package (``from agentracer.recording import Recorder``); the modules
behind it (recorder: the run lifecycle; steps, llm: step and LLM-call building and replay; spans; clean;
handles; sink; guard) are its own business. The exporters are in :mod:`agentracer.recording.export` (they load
OpenTelemetry's SDK) and redaction in :mod:`agentracer.recording.redact`.
"""

from __future__ import annotations

from .clean import _redact_obj as redact_obj
from .guard import guarded, safe
from .handles import NullHandle, Run, StepHandle, _current_run, _current_step
from .llm import ReplayLLM, llm_call_key, llm_key_part
from .recorder import Recorder, last_trace
from .sink import JsonlSink, Sink
from .spans import run_span_attributes

__all__ = [
    "JsonlSink",
    "NullHandle",
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
    "redact_obj",
    "run_span_attributes",
    "safe",
]


def current_run() -> Run | None:
    """The run open in the caller's context (``with recorder.run(...)`` or a plugin's run), if any."""
    return _current_run.get()


def current_step() -> StepHandle | None:
    """The agent step open in the caller's context, if any (the parent of LLM and tool calls made now)."""
    return _current_step.get()
