"""Roles inferred from the trace itself, not from agent names: who **orchestrates** (plans and addresses the
other agents by name, hands work over), who **acts** with tools (its steps call tools, or post code that an
executor runs), who **reviews** (talks of checking and verifying without acting), and who **answers** (states
the final answer). A team's names and prompts vary from system to system; what an agent *does* in the run
does not, so these columns transfer where name cues (``verifier_name``) do not.

Each agent gets a score in [0, 1] per role (the share of its speaking steps that show the role); each step
reads its agent's scores, plus a few step-level marks: a hand-off (a step that names another agent, after
which that agent speaks), the first action of each acting agent, and the first step in which an agent
reads a tool's result back in words (where a worker's reading of a result enters the run).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .text import _has, has_code_block
from .view import at, flags

if TYPE_CHECKING:
    from .view import StepView

Columns = dict[str, list[float]]

ROLE_STEP_FEATURES: tuple[str, ...] = (
    "role_orch",
    "role_act",
    "role_review",
    "role_answer",
    "handoff",
    "first_action_of_agent",
    "first_orch_action",
    "reads_result",
)
ROLE_AGENT_FEATURES: tuple[str, ...] = ("a_role_orch", "a_role_act", "a_role_review", "a_role_answer")

_REVIEW = ("verif", "double-check", "double check", "let me check", "i checked", "review", "looks correct",
           "is correct", "confirm", "validat", "cross-check")
_READS = ("shows", "states", "lists", "the page", "the file", "the result", "according to", "i read", "reports",
          "returned", "the output", "it says")
_WORD = re.compile(r"[a-z][a-z0-9_]+")


def _acts(v: StepView, i: int) -> bool:
    """Whether candidate ``i`` acts: a tool call/result nested under it, or a tool turn right after its code."""
    if any(k.kind in ("tool_call", "tool_result") for k in v.children.get(v.cands[i].index, [])):
        return True
    return i + 1 < v.n and v.tool[i + 1] and has_code_block(v.texts[i])


def role_scores(v: StepView) -> tuple[list[list[float]], list[bool], list[bool]]:
    """Per agent, its scores (orchestrates, acts, reviews, answers); per step, whether it acts and whether
    it hands work to another agent."""
    n, nt, agent_idx = v.n, v.nt, v.agent_idx
    names = [(a or "").lower() for a in v.agents]
    # an agent is addressed by its name (as one word, or in pieces such as "web surfer" for "WebSurfer")
    keys = [{k for k in {nm, nm.replace("_", " "), re.sub(r"(?<=[a-z])(?=[A-Z])", " ", a or "").lower()}
             if len(k) >= 3} for nm, a in zip(names, v.agents, strict=True)]
    acts = [_acts(v, i) for i in range(n)]
    hands = [False] * n
    speaking = [0] * len(names)
    orch = [0.0] * len(names)
    act = [0.0] * len(names)
    rev = [0.0] * len(names)
    for i in range(n):
        if not nt[i]:
            continue
        a = agent_idx[i]
        speaking[a] += 1
        low = v.lows[i]
        others = [b for b in range(len(names)) if b != a and any(k in low for k in keys[b])]
        nxt = next((agent_idx[j] for j in range(i + 1, n) if nt[j] and agent_idx[j] != a), None)
        if others and not acts[i]:
            orch[a] += 1.0
            hands[i] = nxt is not None and nxt in others
        if acts[i]:
            act[a] += 1.0
        elif _has(low, _REVIEW):
            rev[a] += 1.0
    answer = -1
    if v.subst_idx:
        answer = agent_idx[v.last_subst]
    scores = []
    for a in range(len(names)):
        k = max(1, speaking[a])
        scores.append([orch[a] / k, act[a] / k, rev[a] / k, 1.0 if a == answer else 0.0])
    return scores, acts, hands


def role_columns(v: StepView) -> tuple[Columns, list[list[float]]]:
    """The step columns of :data:`ROLE_STEP_FEATURES` and the agent rows of :data:`ROLE_AGENT_FEATURES`."""
    n, nt, agent_idx = v.n, v.nt, v.agent_idx
    scores, acts, hands = role_scores(v)
    seen: set[int] = set()
    first_act = [False] * n
    for i in range(n):
        if acts[i] and agent_idx[i] not in seen:
            seen.add(agent_idx[i])
            first_act[i] = True
    lead = max(range(len(scores)), key=lambda a: (scores[a][0], -a)) if scores else -1
    first_orch = next((i for i in range(n) if nt[i] and agent_idx[i] == lead and scores[lead][0] > 0), -1)
    # a step that reads a tool's result back in words: its agent's previous step acted, this one does not
    reads = [False] * n
    last_own: dict[int, int] = {}
    for i in range(n):
        a = agent_idx[i]
        j = last_own.get(a, -1)
        reads[i] = nt[i] and not acts[i] and j >= 0 and acts[j] and _has(v.lows[i], _READS)
        last_own[a] = i
    cols = {
        "role_orch": [scores[a][0] for a in agent_idx],
        "role_act": [scores[a][1] for a in agent_idx],
        "role_review": [scores[a][2] for a in agent_idx],
        "role_answer": [scores[a][3] for a in agent_idx],
        "handoff": flags(hands),
        "first_action_of_agent": flags(first_act),
        "first_orch_action": at(first_orch, n),
        "reads_result": flags(reads),
    }
    return cols, scores
