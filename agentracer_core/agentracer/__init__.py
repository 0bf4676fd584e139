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
from typing import Any

from ._version import __version__
from .recording import Recorder, ReplayLLM, last_trace
from .systems import fork, inject_feedback, instrument, recorder_of, run
from .trace import AnnotatedTrace, Attribution, Step, Trace, TraceError

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
    "run",
    "verify",
]


def attribute(
    trace: Trace | AnnotatedTrace | str | Path,
    ground_truth: str | None = None,
    method: str = "embedded",
    force: bool = False,
    **options: Any,
) -> Attribution:
    """Name the responsible agent, the decisive step and a reason for a failed ``trace``.

    A trace whose ``outcome`` is ``success`` is not blamed: the answer has ``agent = step = None``,
    ``confidence = 0.0`` and ``metadata["abstained"] == "success"`` (no exception); ``force=True``
    attributes it anyway. An ``unknown`` outcome gives a one-line :class:`UserWarning`. Answers the
    attributor is unsure of carry ``metadata["low_confidence"]`` and a plain-words ``metadata["note"]``
    (see :mod:`agentracer.attribution.confidence`); ``candidates`` holds the top-3 steps.

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
    from .attribution.confidence import outcome_guard

    att = get_attributor(method, **options)
    skip = outcome_guard(trace, method=getattr(att, "name", method), force=force)
    return skip if skip is not None else att.attribute(trace, ground_truth=ground_truth)


def load_trace(path: str | Path) -> Trace:
    """Load the first trace in a file of any supported format (JSONL, Who&When, OTLP JSON)."""
    from .formats import load_trace as _load

    return _load(path)


def verify(system: Any, trace: Trace, checker: Any = None, *, oracle: Any, **kwargs: Any) -> Attribution:
    """Attribute ``trace`` and check the answer by counterfactual replay on ``system``, in one call.

    ``oracle``: a function ``(trace, step, ground_truth) -> str``, a backend string such as
    ``llamacpp:PATH.gguf`` or ``openai:MODEL@URL``, or an oracle object. The result's
    ``metadata["verification"]["status"]`` is ``confirmed``, ``refuted`` or ``unverifiable``. See
    :func:`agentracer.annotation.verify.verify` for the options. The module loads on first call.
    """
    from .annotation.verify import verify as _verify

    return _verify(system, trace, checker, oracle=oracle, **kwargs)


def refine(system: Any, tasks: Any, checker: Any = None, rounds: int = 3, **kwargs: Any) -> Any:
    """Self-refinement rounds: run, check, attribute failures, feed back to the responsible agent.

    See :func:`agentracer.refinement.refine` for every option; ``checker`` defaults to a numeric match
    of the final answer against the task's expected answer. The module loads on first call.
    """
    from . import refinement

    if checker is None:
        checker = refinement.numeric_match
    return refinement.refine(system, tasks, checker, rounds=rounds, **kwargs)
