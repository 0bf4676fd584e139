"""What a replay produces and what drives it: :class:`Replayable`, :class:`ReplayOutcome`, :class:`Probe`,
:class:`ReplayResult`, :class:`ReplayError`, and :func:`count_live_calls_before` (the prefix-is-served check)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ...trace import AnnotatedTrace, Attribution, Trace

if TYPE_CHECKING:
    from ..oracle import Oracle

__all__ = ["Probe", "ReplayError", "ReplayOutcome", "ReplayResult", "Replayable", "count_live_calls_before"]


class ReplayError(RuntimeError):
    """A replay broke an invariant: a live LLM call before the fork point, or a system that cannot fork."""


@dataclass
class ReplayOutcome:
    """What one replay produced: did the run succeed, its new trace, and how clean its prefix was.

    ``live_calls_before_fork`` counts LLM calls made live (not served from the recording) by steps before
    the fork point; it must be 0. ``executions`` is how many suffix executions the replay took (1 for a
    system that can put the oracle in charge of a suffix directly; more when that is done fork by fork).
    """

    success: bool
    trace: Trace | None = None
    final_answer: str | None = None
    live_calls_before_fork: int = 0
    executions: int = 1
    metadata: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Replayable(Protocol):
    """A system that can re-run a recorded trace with a change (what replay drives).

    ``step`` is a trace index of a top-level (agent) step of the recorded trace the system is bound to.
    ``run_with`` replaces that step's output with ``replacement`` and re-runs the suffix with the
    system's own agents (the paper's single-step replay). ``run_from`` keeps the recorded steps before
    ``step`` and lets ``oracle`` take every step from ``step`` on (the bisection predicate). Both serve
    the prefix from the recording, never from live calls.
    """

    def run_with(self, step: int, replacement: str) -> ReplayOutcome: ...

    def run_from(self, step: int, oracle: Oracle) -> ReplayOutcome: ...


@dataclass
class Probe:
    """One replay: ``kind`` is ``single`` (run_with) or ``from`` (run_from), at trace index ``step``."""

    kind: str
    step: int
    success: bool
    live_calls_before_fork: int = 0
    executions: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "step": self.step, "success": self.success,
                "live_calls_before_fork": self.live_calls_before_fork, "executions": self.executions}


@dataclass
class ReplayResult:
    """The answer of one strategy on one trace, and what it cost.

    ``status`` is ``found`` (``step``/``agent`` set), ``unsure`` (the strategy declined to answer, e.g.
    bisection on a non-monotone predicate) or ``none`` (no single step flips the run, or the oracle
    cannot solve the task). ``replays`` counts replays actually run (cached ones count once).
    """

    strategy: str
    status: str
    step: int | None = None
    agent: str | None = None
    counterfactual: str | None = None
    replays: int = 0
    executions: int = 0
    live_calls_before_fork: int = 0
    reason: str = ""
    probes: list[Probe] = field(default_factory=list)
    non_monotone: bool = False

    @property
    def found(self) -> bool:
        return self.status == "found"

    def attribution(self) -> Attribution:
        """The result as an :class:`Attribution` (``agent``/``step`` None unless found)."""
        return Attribution(
            agent=self.agent,
            step=self.step,
            reason=self.reason,
            confidence=1.0 if self.found else None,
            method=f"replay:{self.strategy}",
            evidence=[p.step for p in self.probes if p.kind == "single" and p.success],
            parsed=self.found,
            metadata={"status": self.status, "replays": self.replays},
        )

    def annotated(self, trace: Trace) -> AnnotatedTrace | None:
        """``trace`` labelled by this result (``source="replay"``), or None when nothing was found."""
        if not self.found:
            return None
        return AnnotatedTrace(
            trace=trace,
            gold=self.attribution(),
            source="replay",
            counterfactual=self.counterfactual,
            metadata={"strategy": self.strategy, "replays": self.replays, "executions": self.executions},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy, "status": self.status, "step": self.step, "agent": self.agent,
            "counterfactual": self.counterfactual, "replays": self.replays, "executions": self.executions,
            "live_calls_before_fork": self.live_calls_before_fork, "reason": self.reason,
            "non_monotone": self.non_monotone, "probes": [p.to_dict() for p in self.probes],
        }


# ----------------------------------------------------------------------------------------- helpers
def count_live_calls_before(trace: Trace, fork_step: int) -> int:
    """LLM calls of ``trace`` owned by steps before ``fork_step`` that were made live, not served.

    A call is *served* when the record/replay layer answered it (``step.replay["served_from"]``); a call
    a checkpoint fork copied from the recording without running it (``replay["source"] == "recorded"``)
    is not live either. The owner of a call is its enclosing agent step (or the call itself when top-level).
    """
    n = 0
    for s in trace.steps:
        if s.kind != "llm_call":
            continue
        owner = s.parent if s.parent is not None else s.index
        recorded = s.replay.get("source") == "recorded"  # copied from the recording by a checkpoint fork
        if owner < fork_step and "served_from" not in s.replay and not recorded:
            n += 1
    return n


