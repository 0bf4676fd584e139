"""Injecting a fault into one step of a recorded run and keeping it only if the run now fails.

:func:`context_for` gathers what a mutator may draw on (agents, names and values of the run);
:func:`inject` mutates step k, re-runs the suffix on a Replayable system and labels the result;
:func:`scrub_fork_markers` removes what a fork left in the trace that would give the label away.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...trace import AnnotatedTrace, Attribution, Trace, TraceError
from .taxonomy import FAULTS, MutationContext, mutate

if TYPE_CHECKING:
    from ..replay import Replayable

__all__ = ["context_for", "inject", "scrub_fork_markers"]


_NAME = re.compile(r"\b[A-Z][a-z]+(?:[ \t]+[A-Z][a-z]+)*\b(?!\s*:)")
_STOP = {"The", "This", "That", "It", "We", "I", "A", "An", "Then", "Now", "Plan", "Start", "Step", "Hop", "Fact",
         "Task", "Final", "Answer", "Correction", "Verified", "Current", "Nothing", "All", "There", "Finally",
         "Specification", "Write", "Use", "What", "Reply", "Agent", "Tool"}


def context_for(trace: Trace, step: int) -> MutationContext:
    """The :class:`MutationContext` of ``step``: the run's agents, the speaker, and names/values seen elsewhere.

    The vocabulary lists what tools returned and were called with first (real entities of the run), then
    capitalised names from other steps' text (sentence starts, labels such as ``Plan:`` and a stop list
    are left out).
    """
    vocab: list[str] = []

    def add(v: Any) -> None:
        if isinstance(v, str) and v and v not in vocab and len(vocab) < 200 and v not in _STOP:
            vocab.append(v)

    for s in trace.steps:
        if s.index == step or s.kind not in ("tool_call", "tool_result"):
            continue
        add(s.tool_result if isinstance(s.tool_result, str) else None)
        args = s.tool_args.values() if isinstance(s.tool_args, dict) else s.tool_args if isinstance(s.tool_args, list) else []
        for a in args:
            add(a)
    for s in trace.steps:
        if s.index == step:
            continue
        for w in _NAME.findall(s.content or ""):
            add(w)
    agents = set(trace.agents)
    vocab = [v for v in vocab if v not in agents and not re.fullmatch(r"[a-z_]+|NOT FOUND|-?\d+", v)]
    vocab = [v for v in vocab if " " in v or not any(v in w.split() for w in vocab if w != v)]  # no name fragments
    return MutationContext(agents=list(trace.agents), speaker=trace.steps[step].agent, vocabulary=vocab)


def inject(
    trace: Trace,
    step: int,
    fault: str,
    *,
    system: Replayable | None = None,
    seed: int | random.Random = 0,
    checker: Callable[[Any], bool] | None = None,
    require_failure: bool = True,
) -> AnnotatedTrace | None:
    """Inject ``fault`` into agent step ``step`` of the successful ``trace``.

    With a ``system`` (bound to ``trace``) the mutated step is replayed and the suffix re-run; the
    sample is kept (returned) only if the run now fails (``checker(outcome)`` or ``outcome.success``
    false), else None. The returned trace is the re-run's trace, labelled with the injected step and
    its agent. Without a system, the trace with that step's text mutated is returned, marked
    ``metadata["verified"] = False`` (the suffix was not re-run; its outcome is ``unknown``).
    """
    if not 0 <= step < len(trace.steps):
        raise TraceError(f"no step {step} (the trace has {len(trace.steps)})", field="step")
    target = trace.steps[step]
    if target.parent is not None:
        raise TraceError(f"step {step} is a nested {target.kind}; inject into its agent step {target.parent}",
                         field="step", step=step)
    rng = seed if isinstance(seed, random.Random) else random.Random(f"{seed}:{trace.run_id}:{step}:{fault}")
    original = target.content or ""
    mutated = mutate(fault, original, rng=rng, ctx=context_for(trace, step))
    reason = f"injected fault '{fault}' ({FAULTS[fault].description.split(' (')[0]}) into step {step} ({target.agent})"
    gold = Attribution(agent=target.agent, step=step, reason=reason, confidence=1.0, method="injection")
    meta: dict[str, Any] = {"original": original, "mutated": mutated, "source_run_id": trace.run_id}
    if system is None:
        new = copy.deepcopy(trace)
        new.steps[step].content = mutated
        new.outcome = "unknown"
        new.run_id = f"{trace.run_id}-inj{step}-{fault}"
        meta["verified"] = False
        return AnnotatedTrace(new, gold, source="injection", counterfactual=original, fault_type=fault, metadata=meta)
    out = system.run_with(step, mutated)
    failed = not (checker(out) if checker is not None else out.success)
    meta["verified"] = True
    meta["live_calls_before_fork"] = out.live_calls_before_fork
    if require_failure and not failed:
        return None
    new = copy.deepcopy(out.trace) if out.trace is not None else copy.deepcopy(trace)
    if out.trace is None:
        new.steps[step].content = mutated
    new.outcome = "failure" if failed else "success"
    scrub_fork_markers(new, step, mutated)
    return AnnotatedTrace(new, gold, source="injection", counterfactual=original, fault_type=fault, metadata=meta)


_STEP_MARKERS = ("replaced", "replaced_output", "injected", "resynced")
_REPLAY_MARKERS = ("overridden", "served_from", "parent_run_id", "fork_of", "fork_step", "parent_step", "source")


def scrub_fork_markers(trace: Trace, step: int, text: str) -> Trace:
    """Make a forked run look like a plain run whose step ``step`` said ``text`` (for training data).

    Removes what would give the label away: fork and replay markers on steps and on the trace (which step
    was overridden, which calls were served from the recording), and makes the LLM calls under the
    injected step say what the step says (a fork that patched the output after the call keeps the old
    answer there). ``AnnotatedTrace.metadata`` keeps the original and mutated texts.
    """
    trace.metadata.pop("fork", None)
    for key in ("maas", "camel"):
        if isinstance(trace.metadata.get(key), dict):
            trace.metadata[key].pop("fork", None)
    for s in trace.steps:
        for k in _STEP_MARKERS:
            s.metadata.pop(k, None)
        for k in _REPLAY_MARKERS:
            s.replay.pop(k, None)
        if s.parent == step and s.kind == "llm_call" and step < len(trace.steps) and trace.steps[step].content == text:
            s.content = text
            if isinstance(s.replay.get("response"), dict):
                s.replay["response"] = {"text": text}
    return trace
