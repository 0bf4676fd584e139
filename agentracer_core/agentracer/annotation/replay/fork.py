"""Replay over any system a framework plugin can fork: :class:`ForkReplayable` (through ``agentracer.fork``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...trace import Trace, TraceError
from .outcome import ReplayOutcome, count_live_calls_before

if TYPE_CHECKING:
    from ..oracle import Oracle

__all__ = ["ForkReplayable"]


class ForkReplayable:
    """A :class:`Replayable` over any system a framework plugin can fork (``agentracer.fork``).

    ``run_with`` calls the plugin's ``agentracer_fork(system, trace, step, replacement)`` runnable once.
    ``run_from`` chains forks: the oracle redoes step m, the run resumes, then the oracle redoes the next
    agent step of the *new* trace, and so on to the end (one execution per remaining step; reported in
    ``ReplayOutcome.executions``). ``checker(result, new_trace)`` decides success; by default a new
    trace whose ``outcome`` is ``success``.

    The fork runnable's return value is searched for a :class:`Trace` (the value itself, a tuple/dict
    holding one, or :func:`agentracer.last_trace`). Live calls before the fork point are counted on the
    steps of the new trace that precede the fork (a checkpoint fork executes none of them).
    """

    def __init__(
        self,
        system: Any,
        trace: Trace,
        checker: Callable[[Any, Trace | None], bool] | None = None,
        *,
        max_chain: int = 200,
    ) -> None:
        self.system = system
        self.trace = trace
        self.checker = checker
        self.max_chain = max_chain

    def _fork_once(self, trace: Trace, step: int, replacement: str) -> tuple[Any, Trace | None]:
        from ...systems import fork

        runnable = fork(self.system, trace, step, replacement)
        result = runnable() if callable(runnable) else runnable
        return result, _find_trace(result)

    def _ordinal(self, step: int) -> int:
        for pos, s in enumerate(self.trace.agent_steps()):
            if s.index == step:
                return pos
        raise TraceError(f"step {step} is not an agent step of the recorded trace", field="step", step=step)

    def _outcome(self, result: Any, new: Trace | None, pos: int, executions: int) -> ReplayOutcome:
        if self.checker is not None:
            ok = bool(self.checker(result, new))
        else:
            ok = new is not None and new.outcome == "success"
        live = _live_before_position(new, pos) if new is not None else 0
        return ReplayOutcome(ok, new, new.final_answer if new else None, live, executions, {"result": result})

    def run_with(self, step: int, replacement: str) -> ReplayOutcome:
        pos = self._ordinal(step)
        result, new = self._fork_once(self.trace, step, replacement)
        return self._outcome(result, new, pos, 1)

    def run_from(self, step: int, oracle: Oracle) -> ReplayOutcome:
        pos = first = self._ordinal(step)
        result, new = self._fork_once(self.trace, step, oracle.act(self.trace, step))
        live = _live_before_position(new, first) if new is not None else 0
        executions = 1
        # the prefix keeps its length, so the next agent step to hand to the oracle is the next position
        while new is not None and executions < self.max_chain:
            steps = new.agent_steps()
            pos += 1
            if pos >= len(steps):
                break
            idx = steps[pos].index
            result, new = self._fork_once(new, idx, oracle.act(new, idx))
            executions += 1
        out = self._outcome(result, new, first, executions)
        out.live_calls_before_fork = live
        return out


def _find_trace(result: Any) -> Trace | None:
    if isinstance(result, Trace):
        return result
    if isinstance(result, dict):
        for v in result.values():
            if isinstance(v, Trace):
                return v
    if isinstance(result, (tuple, list)):
        for v in result:
            if isinstance(v, Trace):
                return v
    t = getattr(result, "trace", None)
    if isinstance(t, Trace):
        return t
    from ...recording import last_trace

    return last_trace()


def _live_before_position(trace: Trace, pos: int) -> int:
    """Live LLM calls of ``trace`` before its agent step at position ``pos`` (the fork point)."""
    steps = trace.agent_steps()
    fork_index = steps[pos].index if pos < len(steps) else len(trace.steps)
    return count_live_calls_before(trace, fork_index)
