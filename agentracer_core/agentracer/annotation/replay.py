"""Counterfactual replay: find the decisive step of a failed run by re-running it with one step changed.

A *decisive step* (the paper's definition) is the earliest agent step whose replacement by an oracle's
action turns the failed run into a success, every other step being redone by the system's own agents.
Three strategies find it over any :class:`Replayable` system:

``linear`` (the paper)
    For k = 0, 1, ... replace step k with the oracle's action, re-run the suffix, stop at the first
    success. Up to n replays.

``bisect``
    Uses the predicate ``P(m)``: *keep the recorded steps before m, let the oracle take every step from m
    on; does the run succeed?* ``P(0)`` asks whether the oracle can solve the task at all; ``P(n)`` is the
    recorded run (a failure, known without a replay). A success means the recorded prefix holds no
    decisive error. **Assumption: P is monotone** (true up to a boundary b, false after), which holds
    when an error, once made, is not undone by later correct steps and no two errors cancel. Binary
    search finds b in ``ceil(log2 n)`` replays; the answer is then *confirmed* with the paper's
    single-step replay at b. If the confirmation does not flip the run, or any evaluation contradicts
    monotonicity (see ``probes``), the answer is **unsure** rather than a possibly wrong step. Budget:
    ``1 + ceil(log2 n) + 1`` replays (``P(0)``, the search, the confirmation).

``prior``
    Candidate steps in the order of an attributor's ranking (its predicted step, its evidence, then the
    neighbours of the prediction). A candidate c is accepted when its single-step replay flips the run
    *and* ``P(c)`` holds (nothing before c is decisive, under the same monotone assumption). A flipping
    candidate whose ``P(c)`` fails narrows the search to steps before c. After ``max_candidates`` the
    search falls back to bisection on the remaining window, reusing every predicate value already known.

In every strategy the recorded prefix is served by the record/replay LLM layer
(:class:`~agentracer.recording.ReplayLLM`): each :class:`ReplayOutcome` reports how many *live* LLM calls
happened before its fork point, and :func:`find_decisive` raises :class:`ReplayError` when that is not 0
(``strict=True``) — so "no fresh call before the fork point" is checked on every replay, not assumed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..trace import AnnotatedTrace, Attribution, Trace, TraceError

if TYPE_CHECKING:
    from .oracle import Oracle

__all__ = [
    "STRATEGIES",
    "ForkReplayable",
    "Probe",
    "ReplayError",
    "ReplayOutcome",
    "ReplayResult",
    "Replayable",
    "count_live_calls_before",
    "find_decisive",
    "rank_candidates",
]

STRATEGIES = ("linear", "bisect", "prior")


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


def rank_candidates(trace: Trace, attributor: Any, ground_truth: str | None = None, *, limit: int | None = None) -> list[int]:
    """Agent-step indices of ``trace`` in the order an attributor suggests checking them.

    Uses ``attributor.rank(trace, ground_truth)`` when it exists (a list of step indices, or of
    ``(step, score)`` pairs, best first), or the step distribution of ``attributor.distributions`` (the
    embedded attributor); otherwise its :meth:`attribute` answer: the predicted step, its evidence, then
    the other steps by distance from the prediction (earlier first on ties).
    A prediction that points at a nested step (an LLM or tool call) is moved to its agent step.
    """
    agent_idx = [s.index for s in trace.agent_steps()]
    valid = set(agent_idx)

    def lift(i: Any) -> int | None:
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(trace.steps):
            return None
        s = trace.steps[i]
        while s.parent is not None:
            s = trace.steps[s.parent]
        return s.index if s.index in valid else None

    order: list[int] = []

    def push(i: Any) -> None:
        j = lift(i)
        if j is not None and j not in order:
            order.append(j)

    ranked = None
    rank = getattr(attributor, "rank", None)
    dist = getattr(attributor, "distributions", None)
    if callable(rank):
        try:
            ranked = rank(trace, ground_truth)
        except TypeError:
            ranked = rank(trace)
    elif callable(dist):  # the embedded attributor: a probability per candidate step
        try:
            feats, p_step, _ = dist(trace, ground_truth)
            cands = list(getattr(feats, "candidates", []) or [])
            if cands and len(cands) == len(p_step):
                # candidates are Steps: rank their trace indices
                ranked = [getattr(c, "index", c) for _, c in sorted(zip(p_step, cands, strict=True), key=lambda pc: -pc[0])]
        except Exception:  # an attributor that cannot rank: fall back to its single answer
            ranked = None
    if ranked is not None:
        for r in ranked:
            push(r[0] if isinstance(r, (tuple, list)) else r)
        anchor = order[0] if order else None
    else:
        att = attributor.attribute(trace, ground_truth=ground_truth)
        push(att.step)
        for e in att.evidence or []:
            push(e)
        anchor = lift(att.step)
    if anchor is None:
        anchor = agent_idx[0] if agent_idx else None
    if anchor is not None:
        pos = {i: p for p, i in enumerate(agent_idx)}
        a = pos[anchor]
        for i in sorted(agent_idx, key=lambda i: (abs(pos[i] - a), pos[i])):
            push(i)
    return order[:limit] if limit is not None else order


class _Session:
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


# --------------------------------------------------------------------------------------- strategies
def _linear(s: _Session) -> ReplayResult:
    for pos, idx in enumerate(s.positions):
        if s.single(idx):
            agent = s.trace.steps[idx].agent
            return s.result(
                "linear", "found", pos,
                f"replacing step {idx} ({agent}) with the oracle's action flips the run to success; "
                f"no earlier step does",
            )
    return s.result("linear", "none", reason=f"no single-step replacement among {s.n} steps flips the run")


def _bisect_window(s: _Session, lo: int, hi: int, strategy: str, probes: int) -> ReplayResult:
    """Binary search for the boundary in [lo, hi] where P(lo) is True and P(hi) is False, then confirm."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if s.pred(mid):
            lo = mid
        else:
            hi = mid
    b = lo
    # optional extra monotonicity probes: every P(pos) with pos <= b must hold, every pos > b must not
    if probes:
        import random

        rng = random.Random(f"{s.trace.run_id}:{b}")
        pool = [p for p in range(s.n) if p not in s.pred_cache]
        for p in rng.sample(pool, min(probes, len(pool))):
            s.pred(p)
    if s.non_monotone():
        return s.result(strategy, "unsure", reason="the predicate P(m) was seen non-monotone; no answer given")
    idx = s.positions[b]
    if not s.single(idx):
        return s.result(
            strategy, "unsure",
            reason=f"bisection boundary at step {idx}, but replacing that step alone does not flip the run "
            "(the monotone assumption does not hold here); no answer given",
        )
    agent = s.trace.steps[idx].agent
    return s.result(
        strategy, "found", b,
        f"the recorded prefix up to step {idx} is recoverable but not through it, and replacing step {idx} "
        f"({agent}) with the oracle's action flips the run to success",
    )


def _bisect(s: _Session, probes: int) -> ReplayResult:
    if s.n == 0:
        return s.result("bisect", "none", reason="the trace has no agent step")
    if not s.pred(0):
        return s.result("bisect", "none", reason="the oracle does not solve the task even from the first step")
    return _bisect_window(s, 0, s.n, "bisect", probes)


def _prior(s: _Session, candidates: list[int], max_candidates: int, probes: int) -> ReplayResult:
    pos_of = {idx: p for p, idx in enumerate(s.positions)}
    lo, hi = 0, s.n  # P(hi) False is known; P(lo) is assumed until checked
    tried = 0
    for idx in candidates:
        if tried >= max_candidates:
            break
        c = pos_of.get(idx)
        if c is None or not lo <= c < hi:
            continue
        tried += 1
        if not s.single(idx):
            continue
        if c == 0 or s.pred(c):  # nothing before c is decisive (trivially so for the first step)
            agent = s.trace.steps[idx].agent
            return s.result(
                "prior", "found", c,
                f"candidate step {idx} ({agent}) from the attributor: replacing it flips the run, and the recorded "
                "prefix before it is recoverable",
            )
        hi = c  # the prefix before c already holds an unrecoverable error
    # fall back to bisection on what is left, reusing every predicate value already known
    known_true = [p for p, v in s.pred_cache.items() if v and p < hi]
    known_false = [p for p, v in s.pred_cache.items() if not v and p > lo]
    lo = max([lo, *known_true])
    hi = min([hi, *known_false])
    if lo == 0 and not s.pred(0):
        return s.result("prior", "none", reason="the oracle does not solve the task even from the first step")
    if lo >= hi:
        return s.result("prior", "unsure", reason="the predicate was seen non-monotone; no answer given")
    return _bisect_window(s, lo, hi, "prior", probes)


def find_decisive(
    trace: Trace,
    system: Replayable,
    oracle: Oracle,
    *,
    strategy: str = "bisect",
    checker: Callable[[ReplayOutcome], bool] | None = None,
    ground_truth: str | None = None,
    attributor: Any = None,
    candidates: Iterable[int] | None = None,
    max_candidates: int = 3,
    probes: int = 0,
    strict: bool = True,
    skip_identical: bool = False,
) -> ReplayResult:
    """Find the decisive step of the failed ``trace`` by counterfactual replay on ``system``.

    ``oracle`` redoes a step (:class:`~agentracer.annotation.oracle.Oracle`; w/ G when
    ``ground_truth`` is given). ``checker`` decides success from a :class:`ReplayOutcome` (default:
    ``outcome.success``). ``strategy``: ``linear``, ``bisect`` or ``prior`` (see the module docstring);
    ``prior`` needs an ``attributor`` or explicit ``candidates`` (trace indices, best first).
    ``probes``: extra predicate evaluations that check monotonicity (off by default, to keep bisection
    within ``ceil(log2 n) + 2`` replays). ``skip_identical``: treat a step whose oracle action equals the
    recorded output as not flipping, without running it. ``strict``: raise :class:`ReplayError` when a
    replay made a live LLM call before its fork point.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    if not isinstance(trace, Trace):
        raise TraceError(f"expected a Trace, got {type(trace).__name__}")
    if trace.outcome == "success":
        raise TraceError("the trace succeeded; replay annotates failed runs (inject faults into successes)",
                         field="outcome")
    s = _Session(trace, system, oracle, checker, ground_truth, strict, skip_identical)
    if strategy == "linear":
        return _linear(s)
    if strategy == "bisect":
        return _bisect(s, probes)
    if candidates is None:
        if attributor is None:
            raise ValueError("strategy 'prior' needs an attributor or candidates")
        candidates = rank_candidates(trace, attributor, ground_truth)
    return _prior(s, list(candidates), max_candidates, probes)


def replay_budget(n: int, strategy: str) -> int:
    """The most replays ``strategy`` may use on n agent steps (prior: unbounded in theory; reported)."""
    if strategy == "linear":
        return n
    return math.ceil(math.log2(max(n, 1))) + 2


# ------------------------------------------------------------------------- systems forked by plugins
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
        import agentracer

        runnable = agentracer.fork(self.system, trace, step, replacement)
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
    import agentracer

    return agentracer.last_trace()


def _live_before_position(trace: Trace, pos: int) -> int:
    """Live LLM calls of ``trace`` before its agent step at position ``pos`` (the fork point)."""
    steps = trace.agent_steps()
    fork_index = steps[pos].index if pos < len(steps) else len(trace.steps)
    return count_live_calls_before(trace, fork_index)
