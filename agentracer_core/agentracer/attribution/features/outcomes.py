"""Action outcomes and where information enters the run, reading the tool results nested under a step
(a framework run records a tool call as a child of the agent step that made it; a chat transcript as the
executor's next turn).

- the outcome of a step's own tool calls: one returned nothing (``own_empty``);
- numbers a step states that neither the task, nor any earlier step, nor any earlier **tool output** holds
  (``unseen_vs_tools``: a misreading or a made-up value, which the plain ``new_numbers`` cannot tell from a
  value read off a tool result it never sees) and the first such step;
- where the final answer's values enter the run: the step whose own tool output first holds one of them
  (``final_from_tool``: the action that fetched it) and the first step that states it in words after that
  (``final_read_by``: who acted on it); when no tool output ever held them, the step that first states them
  (``final_not_from_tool``: the value was made up or mis-copied in prose).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .text import _HEAD, _TAIL, _has, _num_set, _outcome
from .view import at, first, flags

if TYPE_CHECKING:
    from .view import StepView

Columns = dict[str, list[float]]

OUTCOME_FEATURES: tuple[str, ...] = (
    "own_empty",
    "unseen_vs_tools",
    "first_unseen_vs_tools",
    "final_from_tool",
    "final_read_by",
    "final_not_from_tool",
)
_EMPTY_RESULT = ("no results", "not found", "no matches", "nothing found", "0 results", "empty")


def tool_outputs(v: StepView) -> list[str]:
    """Per candidate, the text its nested tool calls returned (capped; empty when none)."""
    out = []
    for s in v.cands:
        parts = []
        for k in v.children.get(s.index, []):
            if k.kind in ("tool_call", "tool_result"):
                parts.append(str(k.tool_result) if k.tool_result is not None else (k.content or ""))
        txt = "\n".join(parts)
        out.append(txt[:_HEAD] + "\n" + txt[-_TAIL:] if len(txt) > _HEAD + _TAIL else txt)
    return out


def outcome_provenance_columns(v: StepView, final_tok: set[str]) -> Columns:
    """The columns of :data:`OUTCOME_FEATURES` (``final_tok``: the final answer's value tokens)."""
    n, nt = v.n, v.nt
    outs = tool_outputs(v)
    out_nums = [_num_set(t) if t else set() for t in outs]
    own_empty = []
    for i, t in enumerate(outs):
        called = any(k.kind in ("tool_call", "tool_result") for k in v.children.get(v.cands[i].index, []))
        failed, _, empty, _ = _outcome(t.lower()[-400:]) if t.strip() else (False, False, True, False)
        own_empty.append(called and not failed and (empty or _has(t[:200].lower(), _EMPTY_RESULT)))
    seen = set(v.known)
    unseen = [0.0] * n
    for i in range(n):
        if nt[i]:
            unseen[i] = math.log1p(sum(1 for x in v.step_nums[i] - seen if len(x.lstrip("-")) >= 2))
        seen |= v.step_nums[i] | out_nums[i]
    from_tool = read_by = not_from_tool = -1
    nums = {t for t in final_tok if t[:1].isdigit() or t[:1] == "-"}
    if nums:
        from_tool = first([bool(out_nums[i] & nums) or (v.tool[i] and bool(v.step_nums[i] & nums)) for i in range(n)])
        if from_tool >= 0:
            read_by = first([nt[i] and bool(v.step_nums[i] & nums) for i in range(n)], from_tool + 1)
        else:
            not_from_tool = first([nt[i] and bool(v.step_nums[i] & nums) for i in range(n)])
    return {
        "own_empty": flags(own_empty),
        "unseen_vs_tools": unseen,
        "first_unseen_vs_tools": at(first([u > 0 for u in unseen], 1), n),
        "final_from_tool": at(from_tool, n),
        "final_read_by": at(read_by, n),
        "final_not_from_tool": at(not_from_tool, n),
    }
