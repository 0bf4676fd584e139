"""What every feature group reads about a trace's candidate steps, computed once per trace: the capped
texts, which steps are tool/executor turns, the agents, the outcomes of tool outputs, the substantive
steps, whether the run concluded, and the numbers and answer-like tokens of the task and of each step."""

from __future__ import annotations

from dataclasses import dataclass

from ...trace import Step, Trace, normalize_agent
from . import quoted
from .quoted import mask_quoted
from .text import (
    _ANSWER,
    _EXIT,
    _HEAD,
    _TAIL,
    _TOOL_NAME,
    _answer_tokens,
    _has,
    _num_set,
    _outcome,
    _step_text,
)

Outcome = tuple[bool, bool, bool, bool]  # (failed, ok, empty, noop) of a tool output
_NONE4: Outcome = (False, False, False, False)


@dataclass
class StepView:
    """The candidate steps of one trace and what the feature groups share about them (index ``i`` = candidate)."""

    trace: Trace
    cands: list[Step]
    children: dict[int, list[Step]]
    texts: list[str]
    lows: list[str]
    bodies: list[str]  # the text without ``TERMINATE``
    tool: list[bool]
    agents: list[str]
    agent_idx: list[int]
    counts: list[int]  # candidate steps per agent
    outcomes: list[Outcome]  # of the step itself, when it is a tool output
    own_fail: list[bool]  # a tool call/result nested under the step failed
    nxt_out: list[Outcome]  # of the tool output right after an agent step
    subst_idx: list[int]  # substantive agent steps (30 characters or more)
    terminated: float
    task: str
    task_nums: set[str]
    known: set[str]  # the task's numbers and answer-like tokens
    step_nums: list[set[str]]
    step_tok: list[set[str]]
    cue_texts: list[str]  # the texts with quoted boilerplate masked, for the content cues (:mod:`.quoted`)
    cue_lows: list[str]

    @property
    def n(self) -> int:
        return len(self.cands)

    @property
    def nt(self) -> list[bool]:
        """Whether each step is an agent speaking (not a tool/executor turn)."""
        return [not t for t in self.tool]

    @property
    def last_subst(self) -> int:
        return self.subst_idx[-1] if self.subst_idx else -1

    @property
    def second_last_subst(self) -> int:
        return self.subst_idx[-2] if len(self.subst_idx) > 1 else -1


def read_steps(trace: Trace, cands: list[Step]) -> StepView:
    """The :class:`StepView` of ``trace``'s candidate steps ``cands`` (not empty)."""
    n = len(cands)
    children: dict[int, list[Step]] = {}
    for s in trace.steps:
        if s.parent is not None:
            children.setdefault(s.parent, []).append(s)
    texts = [_step_text(s) for s in cands]
    lows = [t.lower() for t in texts]
    cue_texts = mask_quoted(trace, texts) if quoted.MASK_QUOTED else texts
    bodies = [t.replace("TERMINATE", "").strip() for t in texts]
    tool = _tool_flags(cands)
    agents, agent_idx = _agent_index(cands)
    counts = [0] * len(agents)
    for a in agent_idx:
        counts[a] += 1
    outcomes = [_outcome(lows[i]) if tool[i] else _NONE4 for i in range(n)]
    nxt_out = [_NONE4] * n
    for i in range(n - 1):
        if not tool[i] and tool[i + 1]:
            nxt_out[i] = outcomes[i + 1]
    subst_idx = [i for i in range(n) if not tool[i] and len(bodies[i]) >= 30]
    tail_low = " ".join(lows[max(0, n - 2) :])
    terminated = 1.0 if ("terminate" in tail_low or _has(tail_low, _ANSWER) or trace.final_answer) else 0.0
    task = trace.task or ""
    task_nums = _num_set(task)
    step_nums = [_num_set(t) for t in texts]
    return StepView(
        trace=trace,
        cands=cands,
        children=children,
        texts=texts,
        lows=lows,
        bodies=bodies,
        tool=tool,
        agents=agents,
        agent_idx=agent_idx,
        counts=counts,
        outcomes=outcomes,
        own_fail=_own_failures(cands, children),
        nxt_out=nxt_out,
        subst_idx=subst_idx,
        terminated=terminated,
        task=task,
        task_nums=task_nums,
        known=_answer_tokens(task, task_nums) | task_nums,
        step_nums=step_nums,
        step_tok=[_answer_tokens(t, step_nums[i]) for i, t in enumerate(texts)],
        cue_texts=cue_texts,
        cue_lows=[t.lower() for t in cue_texts] if cue_texts is not texts else lows,
    )


def _tool_flags(cands: list[Step]) -> list[bool]:
    """Which candidates are tool/executor turns (as :func:`~.text.is_tool_step`, the name test cached per agent)."""
    tool_agent: dict[str, bool] = {}
    tool = []
    for s in cands:
        if s.kind in ("tool_result", "tool_call") or s.role == "tool":
            tool.append(True)
            continue
        if s.agent not in tool_agent:
            tool_agent[s.agent] = bool(_TOOL_NAME.search(s.agent or ""))
        tool.append(tool_agent[s.agent] or bool(_EXIT.match((s.content or "").lstrip()[:40])))
    return tool


def _agent_index(cands: list[Step]) -> tuple[list[str], list[int]]:
    """The agents in order of first appearance and, per candidate, the position of its agent."""
    agents: list[str] = []
    akey: dict[str, int] = {}
    agent_idx: list[int] = []
    for s in cands:
        k = normalize_agent(s.agent)
        if k not in akey:
            akey[k] = len(agents)
            agents.append(s.agent)
        agent_idx.append(akey[k])
    return agents, agent_idx


def _own_failures(cands: list[Step], children: dict[int, list[Step]]) -> list[bool]:
    """Whether a tool call or result nested under each candidate failed."""
    own_fail = [False] * len(cands)
    for i, s in enumerate(cands):
        for k in children.get(s.index, []):
            if k.kind in ("tool_result", "tool_call"):
                txt = (k.content or "") + " " + (str(k.tool_result) if k.tool_result is not None else "")
                if _outcome(txt[: _HEAD + _TAIL].lower())[0]:
                    own_fail[i] = True
                    break
    return own_fail


def first(flags: list[bool], start: int = 0) -> int:
    """The first position at or after ``start`` whose flag is set, else -1."""
    for i in range(start, len(flags)):
        if flags[i]:
            return i
    return -1


def author(i: int, tool: list[bool]) -> int:
    """The nearest non-tool step at or before ``i`` (the step whose action a tool output reports on)."""
    while i >= 0 and tool[i]:
        i -= 1
    return i


def flags(values: list[bool] | list[float]) -> list[float]:
    """1.0 where a value is true, else 0.0."""
    return [1.0 if v else 0.0 for v in values]


def at(k: int, n: int) -> list[float]:
    """1.0 at position ``k`` (none when ``k`` is -1), else 0.0."""
    return [1.0 if i == k else 0.0 for i in range(n)]
