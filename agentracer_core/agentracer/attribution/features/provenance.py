"""Where values come from: the step that first states the final answer's values (and the step whose code
produced them), the step that first states the explicit answer span, where the ground truth appears
(w/ G), and the numbers and names a step introduces that nothing earlier supports."""

from __future__ import annotations

import math

from .text import _CAP, _answer_tokens, _contains_gt, _num_set, _span_tokens, answer_span
from .view import StepView, at, author, first, flags

Columns = dict[str, list[float]]


def final_value_columns(v: StepView) -> tuple[Columns, int, set[str]]:
    """Provenance of the final message's value tokens (all of them): the columns, the origin step (-1 if
    none) and the tokens."""
    n, lows, tool = v.n, v.lows, v.tool
    final_tok: set[str] = set()
    if v.trace.final_answer:
        final_tok = _answer_tokens(v.trace.final_answer) - v.known
    if not final_tok:
        for i in reversed(v.subst_idx):
            final_tok = _answer_tokens(v.bodies[i]) - v.known
            if final_tok:
                break
    intro = [0.0] * n
    if final_tok:
        first_seen: dict[str, int] = {}
        for i in range(n):
            for t in v.step_tok[i]:
                first_seen.setdefault(t, i)
        for t in final_tok:
            j = first_seen.get(t)
            if j is None and len(t) >= 3:
                j = first([t in lows[i] for i in range(n)])
            if j is not None and j >= 0:
                intro[j] += 1.0 / len(final_tok)
    credit = [0.0] * n
    code_for = [0.0] * n
    for j in range(n):
        if intro[j] <= 0:
            continue
        k = author(j, tool)
        if k >= 0:
            credit[k] += intro[j]
            if k != j:
                code_for[k] += intro[j]
    origin = max(range(n), key=lambda i: (credit[i], -i)) if any(credit) else -1
    states_final = [bool(final_tok and (v.step_tok[i] & final_tok)) and not tool[i] for i in range(n)]
    cols = {
        "intro_final": intro,
        "code_for_final": code_for,
        "origin_final": at(origin, n),
        "states_final": flags(states_final),
        "first_states_final": at(first(states_final), n),
    }
    return cols, origin, final_tok


def answer_columns(v: StepView, final_tok: set[str]) -> Columns:
    """Provenance of the explicit answer span (boxed, "answer: X", bold value, "... is X") of the last
    substantive steps, else of the final message's value tokens."""
    n, tool, step_nums, lows = v.n, v.tool, v.step_nums, v.lows
    ans_step, ans_tok = -1, set()
    for looked, i in enumerate(reversed(v.subst_idx)):
        if looked >= 4:
            break
        span = answer_span(v.bodies[i])
        if span:
            tok = _span_tokens(span, v.task + "\n" + (v.texts[0] if i > 0 else "")) - v.known
            if tok:
                ans_step, ans_tok = i, tok
                break
    if ans_step < 0 and final_tok:
        ans_step = v.last_subst
        ans_tok = set(final_tok)

    def _mention(t: str, i: int) -> bool:
        return (t in step_nums[i]) if t[:1].isdigit() or t[:1] == "-" else (t in lows[i])

    mentions = [bool(ans_tok) and any(_mention(t, i) for t in ans_tok) for i in range(n)]
    origin_ans = origin_author = -1
    if ans_tok:
        first_at = {}
        for t in ans_tok:
            j = first([_mention(t, i) for i in range(n)])
            if j >= 0:
                first_at[t] = j
        if first_at:
            origin_ans = max(first_at.values())  # the latest-introduced part of the answer
            origin_author = author(origin_ans, tool)
    return {
        "ans_origin": at(origin_ans, n),
        "ans_origin_author": at(origin_author, n),
        "ans_mentions": flags([mentions[i] and not tool[i] for i in range(n)]),
        "ans_first_mention": at(first([mentions[j] and not tool[j] for j in range(n)]), n),
        "ans_stated": at(ans_step, n),
    }


def ground_truth_columns(v: StepView, ground_truth: str | None) -> Columns:
    """Where the steps state the ground truth (w/ G; all zero without it)."""
    n, tool = v.n, v.tool
    gt_in = [False] * n
    if ground_truth is not None and str(ground_truth).strip():
        g = str(ground_truth).strip()
        gt_low = g.lower()
        gt_nums = _num_set(g)
        in_task = len(gt_low) >= 2 and gt_low in v.task.lower()
        gt_in = [
            _contains_gt(v.lows[i], v.step_nums[i], gt_low, gt_nums) and not (i == 0 and in_task) for i in range(n)
        ]
    gt_last = max((i for i in range(n) if gt_in[i]), default=-1)
    after_gt = first([not t for t in tool], gt_last + 1) if gt_last >= 0 else -1
    return {
        "gt_in_step": flags(gt_in),
        "gt_first": at(first(gt_in), n),
        "gt_last": at(gt_last, n),
        "after_gt_lost": at(after_gt, n),
    }


def new_facts(v: StepView) -> tuple[list[float], list[float]]:
    """Per step, log(1 + count) of the numbers and of the names that neither the task nor any earlier step
    mentioned (unsupported facts; zero for tool steps)."""
    n = v.n
    seen_nums = set(v.known)
    seen_names = {m.lower() for m in _CAP.findall(v.task)}
    new_nums = [0.0] * n
    new_names = [0.0] * n
    for i in range(n):
        names = {m.lower() for m in _CAP.findall(v.texts[i])}
        if not v.tool[i]:
            new_nums[i] = math.log1p(sum(1 for x in v.step_nums[i] - seen_nums if len(x.lstrip("-")) >= 2))
            new_names[i] = math.log1p(len(names - seen_names))
        seen_nums |= v.step_nums[i]
        seen_names |= names
    return new_nums, new_names
