"""Operations on a user's multi-agent system, through the plugin of its framework: instrument, fork, tell.

These are the public one-liners ``agentracer.instrument``, ``agentracer.fork``, ``agentracer.inject_feedback``
and ``agentracer.recorder_of``, kept here (below the features that use them: annotation, refinement, the
samples) so that no part of the core has to import the package root.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .recording import Recorder, Sink
from .recording.latest import Capture
from .trace import Trace

__all__ = ["fork", "inject_feedback", "instrument", "recorder_of", "run"]

_RECORDER_ATTR = "_agentracer_recorder"


def instrument(
    system: Any,
    *,
    tracer_provider: Any = None,
    capture_content: bool | None = None,
    sink: Sink | str | Path | None = None,
    recorder: Recorder | None = None,
    max_steps_in_memory: int | None = None,
) -> Any:
    """Instrument a multi-agent ``system`` in one line; returns the system to run.

    Each installed plugin (entry-point group ``agentracer``) is asked in turn; the first that
    recognises the system wraps it. Steps go to OpenTelemetry spans on ``tracer_provider`` (default:
    the global provider, never replaced) and to a :class:`Trace`, available after the run from
    :func:`last_trace` or ``recorder_of(system).last_trace()``. ``sink`` streams finished steps to a
    JSONL path or a :class:`~agentracer.recording.Sink`. ``capture_content`` puts message content on
    spans (default: the ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` env flag, off). A sink that
    cannot be opened is logged, never raised. ``max_steps_in_memory`` (with a ``sink``): keep the content of
    only the last N finished steps in memory; older steps spill to the sink (read the whole run back with
    ``agentracer.formats.read``).

    Raises ``TypeError`` (listing the installed plugins) when no plugin recognises the system.
    """
    from .hooks import get_plugin_manager, list_plugins  # pluggy loads on first use, not on import agentracer

    rec = recorder or Recorder(
        tracer_provider=tracer_provider, capture_content=capture_content, sink=sink,
        max_steps_in_memory=max_steps_in_memory,
    )
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


def run(system: Any = None) -> Capture:
    """``with agentracer.run(graph) as r: graph.invoke(...)`` then ``r.trace``: the runs started inside the
    block (and in tasks and threads started from it with a copied context) that finished there, in
    ``r.traces``; with ``system``, only those of its recorder. The recommended way to get a trace when
    several runs go on at once (:func:`~agentracer.recording.last_trace` is per task and per thread)."""
    rec = system if isinstance(system, Recorder) else recorder_of(system) if system is not None else None
    return Capture(rec)


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
