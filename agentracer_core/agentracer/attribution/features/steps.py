"""Per-step feature extraction: :func:`extract` reads a trace once (:func:`~.view.read_steps`), lets each
feature group fill its columns (position and structure, speaker, content cues, outcome of the step's
action, value provenance, ground truth, consistency checks), lays the columns out in the order of
:data:`~.names.STEP_FEATURES`, crosses a few cues with trace-level context, and adds the agent rows."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...trace import Step, Trace, normalize_agent
from .agents import agent_rows
from .consistency import consistency_columns
from .evidence import evidence_columns
from .names import _BASE_FEATURES, _CONTEXTS, _CUES, EVIDENCE_GROUP, TRANSFER_GROUPS, TraceFeatures
from .outcomes import outcome_provenance_columns
from .provenance import answer_columns, final_value_columns, ground_truth_columns, new_facts
from .roles import role_columns
from .text import (
    _AGREE,
    _ANSWER,
    _ASSUME,
    _CLAIM_DONE,
    _ERROR_TALK,
    _ESTIMATE,
    _MANUAL,
    _PLAN,
    _PROMISE,
    _UNABLE,
    _URL,
    _VERIFIER,
    _WORD4,
    _has,
    has_code_block,
    installs,
)
from .view import StepView, at, first, flags, read_steps

Columns = dict[str, list[float]]
DRIFT_MIN_WORDS = 3


@dataclass
class StepMarks:
    """The per-step cues that the trace-level context and the agent rows also read."""

    code: list[bool]
    coders: list[int]  # the code-writing steps, in order
    assume: list[bool]
    manual: list[bool]
    unsupported: list[bool]  # claims of results that no tool output supports

    def any_fail(self, v: StepView) -> list[bool]:
        """Whether each step's action failed (the next tool output, or a tool call nested under it)."""
        return [v.nxt_out[i][0] or v.own_fail[i] for i in range(v.n)]


def extract(trace: Trace, ground_truth: str | None = None) -> TraceFeatures:
    """Feature rows for the candidate steps and the agents of ``trace`` (see :data:`STEP_FEATURES`).

    ``ground_truth`` (w/ G) adds the features that compare steps with the expected answer; without it
    those columns are zero. Never raises on odd content (empty steps, no agents, no tools).
    """
    cands = candidate_steps(trace)
    if not cands:
        return TraceFeatures([], [], [], [], [])
    v = read_steps(trace, cands)
    final_cols, origin, final_tok = final_value_columns(v)
    marks, cue_cols = content_columns(v)
    r_cols, r_scores = role_columns(v) if TRANSFER_GROUPS else ({}, None)
    cols: Columns = {
        **position_columns(v),
        **speaker_columns(v),
        **cue_cols,
        **outcome_columns(v, marks),
        **final_cols,
        **answer_columns(v, final_tok),
        **ground_truth_columns(v, ground_truth),
        **consistency_columns(v),
        **r_cols,
        **(outcome_provenance_columns(v, final_tok) if TRANSFER_GROUPS else {}),
        **(evidence_columns(v) if EVIDENCE_GROUP else {}),
    }
    rows = [[cols[name][i] for name in _BASE_FEATURES] for i in range(v.n)]
    _cross_with_context(rows, v, marks)
    return TraceFeatures(cands, rows, v.agents, v.agent_idx, agent_rows(v, marks, origin, r_scores))


_TASK_GIVERS = frozenset({"human"})  # an agent of this name is the person who asked, never a candidate


def candidate_steps(trace: Trace) -> list[Step]:
    """The steps an attribution may name: the top-level agent steps, less the messages of the person who gave
    the task (an agent named "human", or a "user" message that repeats the task, as chat transcripts open), so
    that positions count from the first agent step whether or not an export includes the user's request. A
    "user" agent that does work (CAMEL's AI user, whose messages are instructions) stays a candidate."""
    steps = trace.agent_steps()
    task = " ".join((trace.task or "").split()).lower()[:200]

    def gives_task(s: Step) -> bool:
        who = normalize_agent(s.agent)
        if who in _TASK_GIVERS:
            return True
        return who == "user" and bool(task) and task in " ".join((s.content or "").split()).lower()

    kept = [s for s in steps if not gives_task(s)]
    return kept or steps


def position_columns(v: StepView) -> Columns:
    """Position and structure: first steps, relative position, the last substantive steps, conclusion, length."""
    n, texts, nt = v.n, v.texts, v.nt
    last_subst = v.last_subst
    lens = [len(t) for t in texts]
    pool = sorted((i for i in range(1, n) if nt[i]), key=lambda i: -lens[i])
    len_rank = {i: r for r, i in enumerate(pool)}
    max_len = max((lens[i] for i in pool), default=1) or 1
    return {
        "pos0": at(0, n),
        "pos1": at(1, n),
        "pos2": at(2, n),
        "rel_pos": [i / (n - 1) if n > 1 else 0.0 for i in range(n)],
        "is_last": at(n - 1 if n > 1 else -1, n),
        "last_substantive": at(last_subst, n),
        "last_subst_x_terminated": [v.terminated if i == last_subst else 0.0 for i in range(n)],
        "second_last_substantive": at(v.second_last_subst, n),
        "log_len": [math.log1p(len(t)) / 8.0 for t in texts],
        "terminate_only": flags([len(v.bodies[i]) < 3 and "TERMINATE" in texts[i] for i in range(n)]),
        "terminate": flags(["TERMINATE" in t for t in texts]),
        "first_non_tool_after0": at(first(nt, 1), n),
        "terminated": [v.terminated] * n,
        "longest": flags([len_rank.get(i, -1) == 0 for i in range(n)]),
        "len_rank": [1.0 / (1.0 + len_rank[i]) if i in len_rank else 0.0 for i in range(n)],
        "len_ratio": [lens[i] / max_len if i in len_rank else 0.0 for i in range(n)],
        "urls": [math.log1p(len(_URL.findall(t))) for t in texts],
    }


def speaker_columns(v: StepView) -> Columns:
    """Speaker: tool turns, the first speaker, the agent's n-th turn, its share of the steps, verifier names."""
    n, nt, agent_idx = v.n, v.nt, v.agent_idx
    first_agent = agent_idx[0]
    turn_seen = [0] * len(v.agents)
    turns: list[int] = []
    same_as_prev: list[bool] = []
    prev_agent = -1  # the agent of the last non-tool step
    for i, a in enumerate(agent_idx):
        turns.append(turn_seen[a])
        turn_seen[a] += 1
        same_as_prev.append(a == prev_agent)
        if nt[i]:
            prev_agent = a
    return {
        "is_tool": flags(v.tool),
        "first_speaker": flags([a == first_agent for a in agent_idx]),
        "agent_first_turn": flags([t == 0 for t in turns]),
        "new_agent": flags([turns[i] == 0 and agent_idx[i] != first_agent and nt[i] for i in range(n)]),
        "agent_turn_idx": [math.log1p(t) for t in turns],
        "agent_share": [v.counts[a] / n for a in agent_idx],
        "verifier_name": flags([_has((s.agent or "").lower(), _VERIFIER) for s in v.cands]),
        "same_agent_as_prev": flags(same_as_prev),
    }


def content_columns(v: StepView) -> tuple[StepMarks, Columns]:
    """Content cues: code, assumptions, inability, agreement, claims of results (and the unsupported ones),
    manual work, promises, answers, talk of errors, plans, the first step's drift from the task."""
    n, nt, lows, texts, tool = v.n, v.nt, v.cue_lows, v.cue_texts, v.tool  # quoted boilerplate masked
    new_nums, new_names = new_facts(v)
    code = [nt[i] and has_code_block(texts[i]) for i in range(n)]
    coders = [i for i in range(n) if code[i]]
    rank = {c: r for r, c in enumerate(coders)}
    assume = [nt[i] and _has(lows[i], _ASSUME) for i in range(n)]
    unable = [nt[i] and _has(lows[i], _UNABLE) for i in range(n)]
    claim = [nt[i] and _has(lows[i], _CLAIM_DONE) for i in range(n)]
    manual = [nt[i] and _has(lows[i], _MANUAL) for i in range(n)]
    unsupported = [
        claim[i]
        and not code[i]
        and not (i > 0 and tool[i - 1] and v.outcomes[i - 1][1])
        and new_nums[i] + new_names[i] > 0
        for i in range(n)
    ]
    code_lens = [sum(len(b) for b in texts[i].split("```")[1::2]) if code[i] else 0 for i in range(n)]
    max_code = max(code_lens) or 1

    def cue(words: tuple[str, ...]) -> list[float]:
        return flags([nt[i] and _has(lows[i], words) for i in range(n)])

    cols = {
        "has_code": flags(code),
        "n_code": [math.log1p(t.count("```") // 2) if code[i] else 0.0 for i, t in enumerate(texts)],
        "install": flags([nt[i] and installs(texts[i], lows[i]) for i in range(n)]),
        "first_coder": flags([rank.get(i, -1) == 0 for i in range(n)]),
        "second_coder": flags([rank.get(i, -1) == 1 for i in range(n)]),
        "last_coder": flags([bool(coders) and i == coders[-1] for i in range(n)]),
        "coder_rank": [math.log1p(rank[i]) if i in rank else 0.0 for i in range(n)],
        "code_len_ratio": [c / max_code for c in code_lens],
        "assume": flags(assume),
        "first_assume": at(first(assume, 1), n),
        "estimate": cue(_ESTIMATE),
        "unable": flags(unable),
        "first_unable": at(first(unable, 1), n),
        "agree": cue(_AGREE),
        "claim_done": flags(claim),
        "claim_unsupported": flags(unsupported),
        "first_unsupported": at(first(unsupported), n),
        "manual": flags(manual),
        "first_manual": at(first(manual, 1), n),
        "promise": cue(_PROMISE),
        "answer_claim": cue(_ANSWER),
        "error_talk": cue(_ERROR_TALK),
        "plan_like": cue(_PLAN),
        "pos0_code": at(0 if code[0] else -1, n),
        "pos0_results": at(0 if "results from last response" in lows[0] else -1, n),
        "pos0_assume": at(0 if assume[0] else -1, n),
        "pos0_task_drift": [_task_drift(v)] + [0.0] * (n - 1),
        "new_numbers": new_nums,
        "new_names": [x / 3.0 for x in new_names],
        "first_new_numbers": at(first([nt[i] and not code[i] and new_nums[i] > 0 for i in range(n)], 1), n),
    }
    return StepMarks(code, coders, assume, manual, unsupported), cols


def _task_drift(v: StepView) -> float:
    """How much of the task's vocabulary the first step (minus a verbatim copy of the task) leaves out; 0 when
    the task has fewer than :data:`DRIFT_MIN_WORDS` words of four letters or more (nothing to leave out: "What is
    17 * 23?" has one, and a plan that answers it without the word "what" has not drifted)."""
    task_words = set(_WORD4.findall(v.task.lower()))
    if len(task_words) >= DRIFT_MIN_WORDS and not v.tool[0]:
        rest = v.lows[0].replace(v.task.lower(), " ") if v.task else v.lows[0]
        return 1.0 - len(task_words & set(_WORD4.findall(rest))) / len(task_words)
    return 0.0


def outcome_columns(v: StepView, marks: StepMarks) -> Columns:
    """Outcome of the step's action (the next tool output, nested tool calls) and of the step before it."""
    n, tool, nxt_out, outcomes, code, coders = v.n, v.tool, v.nxt_out, v.outcomes, marks.code, marks.coders
    ok_coder = [code[i] and nxt_out[i][1] for i in range(n)]
    later_fix = [bool(code[i] and (nxt_out[i][0] or nxt_out[i][2]) and coders and coders[-1] > i) for i in range(n)]
    return {
        "next_fail": flags([o[0] for o in nxt_out]),
        "next_ok": flags([o[1] for o in nxt_out]),
        "next_empty": flags([o[2] for o in nxt_out]),
        "next_noop": flags([o[3] for o in nxt_out]),
        "prev_fail": flags([i > 0 and tool[i - 1] and outcomes[i - 1][0] for i in range(n)]),
        "prev_empty": flags([i > 0 and tool[i - 1] and outcomes[i - 1][2] for i in range(n)]),
        "prev_tool": flags([i > 0 and tool[i - 1] for i in range(n)]),
        "own_tool_fail": flags(v.own_fail),
        "first_fail_cause": at(first(marks.any_fail(v)), n),
        "first_empty_cause": at(first([o[2] for o in nxt_out]), n),
        "later_fixes": flags(later_fix),
        "ok_coder": flags(ok_coder),
        "first_ok_coder": at(first(ok_coder), n),
    }


def _cross_with_context(rows: list[list[float]], v: StepView, marks: StepMarks) -> None:
    """Append to each row its cues (:data:`_CUES`) crossed with the trace-level contexts (:data:`_CONTEXTS`)."""
    bi = {name: k for k, name in enumerate(_BASE_FEATURES)}
    ctx = {
        "terminated": v.terminated,
        "any_fail": 1.0 if any(marks.any_fail(v)) else 0.0,
        "any_unsupported": 1.0 if any(marks.unsupported[i] or marks.manual[i] for i in range(v.n)) else 0.0,
        "n_coders": math.log1p(len(marks.coders)),
    }
    cue_cols = [bi[c] for c in _CUES]
    for row in rows:
        row.extend(row[c] * ctx[x] for x in _CONTEXTS for c in cue_cols)
