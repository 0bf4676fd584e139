"""Which steps fail a consistency check that needs no knowledge of the task's answer: the checks of
:mod:`.checks` applied to each step, plus a restated task that drops some of its numbers, a final answer
that does not match its source step, and a tool called with an argument that nothing earlier mentions."""

from __future__ import annotations

from .checks import (
    _PERCENT_TASK,
    _ROUND_TASK,
    _bounds,
    _entity_like,
    noop_code,
    percent_slip,
    rounding_slip,
    unit_slips,
    wrong_equations,
)
from .text import _num_set, answer_span
from .view import StepView, at, first, flags

Columns = dict[str, list[float]]


def consistency_columns(v: StepView) -> Columns:
    """The consistency-check columns (``wrong_equation`` ... ``rounding_slip``) of every step."""
    n, nt, texts, task = v.n, v.nt, v.texts, v.task
    wrong_eq = [min(wrong_equations(texts[i]), 3) / 3.0 if nt[i] else 0.0 for i in range(n)]
    final_step = next((i for i in range(n - 1, -1, -1) if nt[i] and v.bodies[i]), -1)
    span = answer_span(v.bodies[final_step]) if final_step >= 0 else None
    arg_unseen = _tool_args_unseen(v)
    contra = _contradicts_task(v)
    noop = [nt[i] and noop_code(texts[i]) for i in range(n)]
    # the task's units, percentages and rounding instruction handled wrongly
    units = [nt[i] and unit_slips(task, texts[i]) > 0 for i in range(n)]
    percent = [nt[i] and percent_slip(task, texts[i]) for i in range(n)] if _PERCENT_TASK.search(task) else [False] * n
    rounding = [False] * n
    if final_step >= 0 and _ROUND_TASK.search(task):
        rounding[final_step] = rounding_slip(task, span if span else v.bodies[final_step][-200:])
    return {
        "wrong_equation": wrong_eq,
        "first_wrong_equation": at(first([w > 0 for w in wrong_eq]), n),
        "restate_drops": at(_restate_drops(v), n),
        "answer_mismatch": flags(_answer_mismatch(v, final_step, span)),
        "tool_arg_unseen": flags(arg_unseen),
        "first_tool_arg_unseen": at(first(arg_unseen), n),
        "contradicts_task": flags(contra),
        "first_contradicts_task": at(first(contra), n),
        "noop_code": flags(noop),
        "first_noop_code": at(first(noop), n),
        "unit_slip": flags(units),
        "percent_slip": flags(percent),
        "rounding_slip": flags(rounding),
    }


def _restate_drops(v: StepView) -> int:
    """The first step that restates most of the task's numbers (a plan, a spec) if it leaves some out, else -1."""
    if len(v.task_nums) >= 3:
        nt = v.nt
        for i in range(v.n):
            cover = len(v.task_nums & v.step_nums[i]) / len(v.task_nums)
            if nt[i] and cover >= 0.6:
                return i if cover < 1.0 else -1
    return -1


def _answer_mismatch(v: StepView, final_step: int, span: str | None) -> list[bool]:
    """The final answer states a number that the step just before it (its source) does not contain."""
    mismatch = [False] * v.n
    span_nums = _num_set(span) if span else set()
    if span_nums:
        j = next((k for k in range(final_step - 1, -1, -1) if v.step_nums[k]), -1)
        mismatch[final_step] = j >= 0 and not (span_nums & v.step_nums[j])
    return mismatch


# How far back an argument is looked for: the task always, and the last this many characters of earlier
# steps and tool outputs (~12k tokens: what an agent has just read). Who&When transcripts have no nested tool calls,
# so the check never runs there; the bound keeps a 100,000-step trace linear (one search per argument
# over at most this window, not over the whole history).
ARG_LOOKBACK_CHARS = 50_000


def _tool_args_unseen(v: StepView) -> list[bool]:
    """A tool called with an entity-like argument (a name, an id, a number; not code or a query sentence)
    that neither the task nor any earlier step or tool output (within :data:`ARG_LOOKBACK_CHARS`) mentioned."""
    arg_unseen = [False] * v.n
    children = v.children
    calls = any(k.kind == "tool_call" and k.tool_args for s in v.cands for k in children.get(s.index, []))
    if not calls:
        return arg_unseen
    # the text seen before step i is seen[:ends[i]]: built once, searched in place (no growing copies)
    task_low = v.task.lower()
    parts = [task_low]
    ends = []
    size = len(task_low)
    for i, s in enumerate(v.cands):
        ends.append(size)
        kids = children.get(s.index, [])
        part = (
            "\n"
            + v.lows[i]
            + "\n"
            + "\n".join(
                ((k.content or "") + " " + (str(k.tool_result) if k.tool_result is not None else "")).lower()
                for k in kids
            )
        )
        parts.append(part)
        size += len(part)
    seen = "".join(parts)
    del parts
    n_task = len(task_low)
    for i, s in enumerate(v.cands):
        end = ends[i]
        lo = end - ARG_LOOKBACK_CHARS
        for k in children.get(s.index, []):
            if k.kind == "tool_call" and k.tool_args:
                args = k.tool_args.values() if isinstance(k.tool_args, dict) else k.tool_args
                if isinstance(args, str):
                    args = [args]
                try:
                    vals = [str(a).strip().lower() for a in args]
                except TypeError:
                    vals = [str(args).strip().lower()]
                for x in vals:
                    if not _entity_like(x):
                        continue
                    if lo <= n_task:
                        hit = seen.find(x, 0, end) >= 0
                    else:
                        hit = seen.find(x, 0, n_task) >= 0 or seen.find(x, lo, end) >= 0
                    if not hit:
                        arg_unseen[i] = True
                        break
    return arg_unseen


def _contradicts_task(v: StepView) -> list[bool]:
    """A bound on one of the task's numbers turned the other way ("greater than 5" in the task, ``x <= 5`` here)."""
    task_dirs: dict[float, set[str]] = {}
    for d, x in _bounds(v.task, code=False):
        task_dirs.setdefault(x, set()).add(d)
    nt = v.nt
    return [
        bool(task_dirs)
        and nt[i]
        and any(x in task_dirs and d not in task_dirs[x] for d, x in _bounds(v.texts[i], code=True))
        for i in range(v.n)
    ]
