"""Per-agent features: one row per agent of the trace (:data:`~.names.AGENT_FEATURES`), and those rows with
the step ranker's probability mass and maximum per agent filled in (what the agent ranker reads)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .names import TraceFeatures
from .text import _VERIFIER, _has

if TYPE_CHECKING:
    from .steps import StepMarks
    from .view import StepView


def agent_rows(
    v: StepView, marks: StepMarks, origin: int, roles: list[list[float]] | None = None
) -> list[list[float]]:
    """One row per agent of ``v``; the first two columns (step mass, max step probability) are zero here.
    ``origin`` is the step where the final answer's value first appears (-1 if none); ``roles`` the agents'
    role scores (:func:`.roles.role_scores`), appended when given (see ``names.TRANSFER_GROUPS``)."""
    n, tool, nt, agents, agent_idx = v.n, v.tool, v.nt, v.agents, v.agent_idx
    code, coders, fail = marks.code, marks.coders, marks.any_fail(v)
    turns = [0] * len(agents)
    for i in range(n):
        if nt[i]:
            turns[agent_idx[i]] += 1
    total_turns = max(1, sum(turns))
    members: list[list[int]] = [[] for _ in agents]
    for i, a in enumerate(agent_idx):
        members[a].append(i)
    rows = []
    for a, name in enumerate(agents):
        idx = members[a]
        rows.append(
            [
                0.0,
                0.0,
                1.0 if a == agent_idx[0] else 0.0,
                a / max(1, len(agents) - 1),
                v.counts[a] / n,
                1.0 if all(tool[i] for i in idx) else 0.0,
                1.0 if _has((name or "").lower(), _VERIFIER) else 0.0,
                1.0 if any(code[i] for i in idx) else 0.0,
                1.0 if any(fail[i] for i in idx) else 0.0,
                1.0 if any(marks.assume[i] for i in idx) else 0.0,
                1.0 if origin in idx else 0.0,
                1.0 if any(marks.unsupported[i] for i in idx) else 0.0,
                1.0 if coders and coders[0] in idx else 0.0,
                1.0 if v.last_subst in idx else 0.0,
                math.log1p(turns[a]),
                turns[a] / total_turns,
                *(roles[a] if roles is not None else ()),
            ]
        )
    return rows


def with_step_mass(feats: TraceFeatures, p_step: list[float]) -> list[list[float]]:
    """Agent feature rows with the step model's mass and max probability per agent filled in."""
    rows = [list(r) for r in feats.agent_rows]
    for p, a in zip(p_step, feats.agent_of_candidate, strict=True):
        rows[a][0] += p
        rows[a][1] = max(rows[a][1], p)
    return rows
