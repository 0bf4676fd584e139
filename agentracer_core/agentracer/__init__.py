"""AgenTracer: who, at which step, caused a multi-agent run to fail, and how to fix it next time.

The public one-liners::

    graph = agentracer.instrument(graph)          # record every agent step, LLM call and tool call
    graph.invoke(...)
    trace = agentracer.last_trace()               # the run that just finished
    att = agentracer.attribute(trace)             # Attribution(agent, step, reason)

Nothing here imports torch or any agent framework; those load lazily, behind extras.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .recording import Recorder, ReplayLLM, last_trace
from .trace import AnnotatedTrace, Attribution, Step, Trace, TraceError

if TYPE_CHECKING:
    from .recording import Sink

__all__ = [
    "AnnotatedTrace",
    "Attribution",
    "Recorder",
    "ReplayLLM",
    "Step",
    "Trace",
    "TraceError",
    "__version__",
    "attribute",
    "fork",
    "inject_feedback",
    "instrument",
    "last_trace",
    "load_trace",
    "recorder_of",
    "refine",
]

_RECORDER_ATTR = "_agentracer_recorder"


def instrument(
    system: Any,
    *,
    tracer_provider: Any = None,
    capture_content: bool | None = None,
    sink: Sink | str | Path | None = None,
    recorder: Recorder | None = None,
) -> Any:
    """Instrument a multi-agent ``system`` in one line; returns the system to run.

    Each installed plugin (entry-point group ``agentracer``) is asked in turn; the first that
    recognises the system wraps it. Steps go to OpenTelemetry spans on ``tracer_provider`` (default:
    the global provider, never replaced) and to a :class:`Trace`, available after the run from
    :func:`last_trace` or ``recorder_of(system).last_trace()``. ``sink`` streams finished steps to a
    JSONL path or a :class:`~agentracer.recording.Sink`. ``capture_content`` puts message content on
    spans (default: the ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` env flag, off).

    Raises ``TypeError`` (listing the installed plugins) when no plugin recognises the system.
    """
    from .hooks import get_plugin_manager, list_plugins

    rec = recorder or Recorder(tracer_provider=tracer_provider, capture_content=capture_content, sink=sink)
    pm = get_plugin_manager()
    result = pm.hook.agentracer_wrap(system=system, recorder=rec)
    if result is None:
        names = ", ".join(f"{p['name']} ({p.get('framework')})" for p in list_plugins()) or "none"
        raise TypeError(
            f"agentracer.instrument: no installed plugin recognises {type(system).__module__}."
            f"{type(system).__qualname__}. Installed plugins: {names}."
        )
    for obj in (result, system):
        try:
            object.__setattr__(obj, _RECORDER_ATTR, rec)
        except Exception:  # some systems (slots, frozen) refuse attributes; last_trace() still works
            pass
    return result


def recorder_of(system: Any) -> Recorder | None:
    """The :class:`Recorder` that :func:`instrument` attached to ``system``, if any."""
    return getattr(system, _RECORDER_ATTR, None)


def fork(system: Any, trace: Trace, step: int, replacement: str) -> Any:
    """A runnable that resumes ``trace`` at ``step`` with that step's output replaced by ``replacement``.

    Calling it returns ``(result, new_trace)``-style output as defined by the framework's plugin.
    """
    from .hooks import get_plugin_manager

    res = get_plugin_manager().hook.agentracer_fork(system=system, trace=trace, step=step, replacement=replacement)
    if res is None:
        raise TypeError(f"agentracer.fork: no installed plugin can fork {type(system).__qualname__}")
    return res


def inject_feedback(system: Any, agent: str, text: str) -> Any:
    """Tell ``agent`` of ``system`` the feedback ``text`` for its next runs (only that agent)."""
    from .hooks import get_plugin_manager

    res = get_plugin_manager().hook.agentracer_inject_feedback(system=system, agent=agent, text=text)
    if res is None:
        raise TypeError(f"agentracer.inject_feedback: no installed plugin handles {type(system).__qualname__}")
    return res


def attribute(
    trace: Trace | AnnotatedTrace | str | Path,
    ground_truth: str | None = None,
    method: str = "embedded",
    **options: Any,
) -> Attribution:
    """Name the responsible agent, the decisive step and a reason for a failed ``trace``.

    ``ground_truth``: the correct answer, if known (the w/ G setting); default w/o G.
    ``method``: ``embedded`` (default: offline, CPU, nothing to download), a baseline such as
    ``first-speaker``, or a model backend such as ``transformers:PATH``, ``vllm:PATH`` or
    ``openai:MODEL@URL`` (see :func:`agentracer.attribution.get_attributor`).
    """
    from .attribution import get_attributor
    from .formats import load_trace as _load

    if isinstance(trace, (str, Path)):
        trace = _load(trace)
    if isinstance(trace, AnnotatedTrace):
        trace = trace.trace
    return get_attributor(method, **options).attribute(trace, ground_truth=ground_truth)


def load_trace(path: str | Path) -> Trace:
    """Load the first trace in a file of any supported format (JSONL, Who&When, OTLP JSON)."""
    from .formats import load_trace as _load

    return _load(path)


def refine(system: Any, tasks: Any, checker: Any = None, rounds: int = 3, **kwargs: Any) -> Any:
    """Self-refinement rounds: run, check, attribute failures, feed back to the responsible agent.

    See :func:`agentracer.refinement.refine` for every option; ``checker`` defaults to a numeric match
    of the final answer against the task's expected answer. The module loads on first call.
    """
    from . import refinement

    if checker is None:
        checker = refinement.numeric_match
    return refinement.refine(system, tasks, checker, rounds=rounds, **kwargs)
