"""The search strategies over a failed trace's steps (linear, bisect, prior) and :func:`find_decisive`;
:func:`rank_candidates` orders steps for the prior-guided search."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ...trace import Trace, TraceError
from .outcome import Replayable, ReplayOutcome, ReplayResult
from .session import ReplaySession

if TYPE_CHECKING:
    from ..oracle import Oracle

__all__ = ["STRATEGIES", "bisect_search", "find_decisive", "rank_candidates", "replay_budget"]

STRATEGIES = ("linear", "bisect", "prior")


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




def _linear(s: ReplaySession) -> ReplayResult:
    for pos, idx in enumerate(s.positions):
        if s.single(idx):
            agent = s.trace.steps[idx].agent
            return s.result(
                "linear", "found", pos,
                f"replacing step {idx} ({agent}) with the oracle's action flips the run to success; "
                f"no earlier step does",
            )
    return s.result("linear", "none", reason=f"no single-step replacement among {s.n} steps flips the run")


def _bisect_window(s: ReplaySession, lo: int, hi: int, strategy: str, probes: int) -> ReplayResult:
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


def bisect_search(s: ReplaySession, probes: int) -> ReplayResult:
    """The ``bisect`` strategy on session ``s``: P(0), the binary search for the boundary, the confirmation."""
    if s.n == 0:
        return s.result("bisect", "none", reason="the trace has no agent step")
    if not s.pred(0):
        return s.result("bisect", "none", reason="the oracle does not solve the task even from the first step")
    return _bisect_window(s, 0, s.n, "bisect", probes)


def _prior(s: ReplaySession, candidates: list[int], max_candidates: int, probes: int) -> ReplayResult:
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
    s = ReplaySession(trace, system, oracle, checker, ground_truth, strict, skip_identical)
    if strategy == "linear":
        return _linear(s)
    if strategy == "bisect":
        return bisect_search(s, probes)
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

