"""The bookkeeping of one trace's replays: :class:`ReplaySession` caches, counts and checks every replay."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ...trace import Trace
from .outcome import Probe, Replayable, ReplayError, ReplayOutcome, ReplayResult

if TYPE_CHECKING:
    from ..oracle import Oracle

__all__ = ["ReplaySession"]


class ReplaySession:
    """Caches and counts the replays of one trace."""

    def __init__(
        self,
        trace: Trace,
        system: Replayable,
        oracle: Oracle,
        checker: Callable[[ReplayOutcome], bool] | None,
        ground_truth: str | None,
        strict: bool,
        skip_identical: bool,
    ) -> None:
        self.trace = trace
        self.system = system
        self.oracle = oracle
        self.checker = checker
        self.ground_truth = ground_truth
        self.strict = strict
        self.skip_identical = skip_identical
        self.positions = [s.index for s in trace.agent_steps()]
        self.n = len(self.positions)
        self.single_cache: dict[int, bool] = {}
        self.pred_cache: dict[int, bool] = {self.n: False}  # P(n): the recorded run, which failed
        self.repl: dict[int, str] = {}
        self.probes: list[Probe] = []
        self.live = 0
        self.executions = 0

    def _ok(self, out: ReplayOutcome) -> bool:
        return bool(self.checker(out)) if self.checker is not None else bool(out.success)

    def _account(self, kind: str, step: int, out: ReplayOutcome) -> bool:
        ok = self._ok(out)
        self.live += out.live_calls_before_fork
        self.executions += out.executions
        self.probes.append(Probe(kind, step, ok, out.live_calls_before_fork, out.executions))
        if self.strict and out.live_calls_before_fork:
            raise ReplayError(
                f"replay {kind} at step {step} of {self.trace.run_id} made {out.live_calls_before_fork} live LLM "
                "call(s) before the fork point; the prefix must come from the record/replay layer"
            )
        return ok

    def replacement(self, idx: int) -> str:
        if idx not in self.repl:
            self.repl[idx] = self.oracle.act(self.trace, idx, ground_truth=self.ground_truth)
        return self.repl[idx]

    def single(self, idx: int) -> bool:
        """Single-step replay at trace index ``idx``: does replacing it flip the run?"""
        if idx in self.single_cache:
            return self.single_cache[idx]
        r = self.replacement(idx)
        if self.skip_identical and r == self.trace.steps[idx].content:
            self.single_cache[idx] = False  # no counterfactual: the suffix would redo the recorded failure
            return False
        ok = self._account("single", idx, self.system.run_with(idx, r))
        self.single_cache[idx] = ok
        return ok

    def pred(self, pos: int) -> bool:
        """P(pos): recorded agent steps before position ``pos`` kept, the oracle from there on."""
        if pos in self.pred_cache:
            return self.pred_cache[pos]
        idx = self.positions[pos]
        ok = self._account("from", idx, self.system.run_from(idx, self.oracle))
        self.pred_cache[pos] = ok
        return ok

    def non_monotone(self) -> bool:
        """Whether the predicate values seen so far contradict monotonicity (a success after a failure)."""
        last_false = None
        for pos in sorted(self.pred_cache):
            v = self.pred_cache[pos]
            if not v:
                last_false = pos if last_false is None else min(last_false, pos)
            elif last_false is not None and pos > last_false:
                return True
        return False

    def result(self, strategy: str, status: str, pos: int | None = None, reason: str = "") -> ReplayResult:
        idx = self.positions[pos] if pos is not None else None
        return ReplayResult(
            strategy=strategy,
            status=status,
            step=idx,
            agent=self.trace.steps[idx].agent if idx is not None else None,
            counterfactual=self.repl.get(idx) if idx is not None else None,
            replays=len(self.probes),
            executions=self.executions,
            live_calls_before_fork=self.live,
            reason=reason,
            probes=list(self.probes),
            non_monotone=self.non_monotone(),
        )


