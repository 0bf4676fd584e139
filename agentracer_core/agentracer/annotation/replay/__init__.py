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

Modules: :mod:`.outcome` (the protocol and results), :mod:`.session` (caching and counting replays),
:mod:`.strategies` (the searches, :func:`find_decisive`), :mod:`.fork` (:class:`ForkReplayable`).
"""

from __future__ import annotations

from .fork import ForkReplayable
from .outcome import Probe, Replayable, ReplayError, ReplayOutcome, ReplayResult, count_live_calls_before
from .session import ReplaySession
from .strategies import STRATEGIES, bisect_search, find_decisive, rank_candidates, replay_budget

__all__ = [
    "STRATEGIES",
    "ForkReplayable",
    "Probe",
    "ReplayError",
    "ReplayOutcome",
    "ReplayResult",
    "ReplaySession",
    "Replayable",
    "bisect_search",
    "count_live_calls_before",
    "find_decisive",
    "rank_candidates",
    "replay_budget",
]
