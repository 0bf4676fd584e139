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
]

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
