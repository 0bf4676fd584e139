"""The feature columns: the names of the step features (:data:`STEP_FEATURES`, base cues and cues crossed with
trace-level context) and of the agent features (:data:`AGENT_FEATURES`), and the :class:`TraceFeatures` rows."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...trace import Step
from .evidence import EVIDENCE_FEATURES
from .outcomes import OUTCOME_FEATURES
from .roles import ROLE_AGENT_FEATURES, ROLE_STEP_FEATURES

# The role (:mod:`.roles`) and action-outcome / provenance (:mod:`.outcomes`) groups are built and tested but
# NOT in the shipped feature set: leave one system out (7 sources, issue 14, branch xsys2) they raised the mean
# (agent +1.2, step +2.0) and the two orchestrator-led systems (MagenticOne team step +2.7, LangGraph supervisor
# step +12.8), but Who&When scored from the others fell below its step-1 floor (26.2 < 27.0) and its 5-fold CV
# lost 1.9 / 2.4 points. True adds their columns (then rebuild the parameters).
TRANSFER_GROUPS = False
# The evidence group (:mod:`.evidence`: values a step states that what it just read does not hold, hand-offs
# answered from nowhere, quoted strings nothing mentioned) IS in the shipped feature set: leave one system out
# over eight sources (issue 14) it raised the mean from 60.2 / 40.3 to 69.0 / 54.4 and Who&When scored from the
# others from 52.4 / 23.0 (below its step floor) to 54.8 / 31.0; with its last columns, as shipped, 69.1 / 55.2 and
# Who&When 50.0 / 28.6 (BENCHMARKS.md).
EVIDENCE_GROUP = True

_BASE_FEATURES: tuple[str, ...] = (
    "pos0",
    "pos1",
    "pos2",
    "rel_pos",
    "is_last",
    "last_substantive",
    "last_subst_x_terminated",
    "second_last_substantive",
    "is_tool",
    "first_speaker",
    "agent_first_turn",
    "new_agent",
    "agent_turn_idx",
    "agent_share",
    "verifier_name",
    "same_agent_as_prev",
    "log_len",
    "has_code",
    "n_code",
    "install",
    "first_coder",
    "second_coder",
    "last_coder",
    "coder_rank",
    "assume",
    "first_assume",
    "estimate",
    "unable",
    "first_unable",
    "agree",
    "claim_done",
    "claim_unsupported",
    "first_unsupported",
    "manual",
    "promise",
    "answer_claim",
    "terminate_only",
    "terminate",
    "error_talk",
    "plan_like",
    "pos0_code",
    "pos0_results",
    "pos0_assume",
    "next_fail",
    "next_ok",
    "next_empty",
    "next_noop",
    "prev_fail",
    "prev_empty",
    "prev_tool",
    "own_tool_fail",
    "first_fail_cause",
    "first_empty_cause",
    "later_fixes",
    "new_numbers",
    "new_names",
    "urls",
    "intro_final",
    "code_for_final",
    "origin_final",
    "states_final",
    "first_states_final",
    "ans_origin",
    "ans_origin_author",
    "ans_mentions",
    "ans_first_mention",
    "ans_stated",
    "first_non_tool_after0",
    "terminated",
    "longest",
    "len_rank",
    "len_ratio",
    "code_len_ratio",
    "first_new_numbers",
    "first_manual",
    "ok_coder",
    "first_ok_coder",
    "gt_in_step",
    "gt_first",
    "gt_last",
    "after_gt_lost",
    "pos0_task_drift",
    "wrong_equation",
    "first_wrong_equation",
    "restate_drops",
    "answer_mismatch",
    "tool_arg_unseen",
    "first_tool_arg_unseen",
    "contradicts_task",
    "first_contradicts_task",
    "noop_code",
    "first_noop_code",
    "unit_slip",
    "percent_slip",
    "rounding_slip",
) + ((*ROLE_STEP_FEATURES, *OUTCOME_FEATURES) if TRANSFER_GROUPS else ()) + (EVIDENCE_FEATURES if EVIDENCE_GROUP else ())
# step cues crossed with trace-level context (the same cue means different things in a run that concluded
# with an answer and in one that ran out of turns, or in a run with failed executions)
_CUES: tuple[str, ...] = (
    "first_coder",
    "has_code",
    "next_fail",
    "next_empty",
    "next_ok",
    "claim_unsupported",
    "manual",
    "assume",
    "last_substantive",
    "longest",
    "states_final",
    "ans_origin_author",
    "unable",
    "agree",
    "pos0",
    "first_manual",
    "first_new_numbers",
)
_CONTEXTS: tuple[str, ...] = ("terminated", "any_fail", "any_unsupported", "n_coders")
STEP_FEATURES: tuple[str, ...] = _BASE_FEATURES + tuple(f"{c}*{x}" for x in _CONTEXTS for c in _CUES)

AGENT_FEATURES: tuple[str, ...] = (
    "a_step_mass",
    "a_max_step",
    "a_first_speaker",
    "a_order",
    "a_share",
    "a_is_tool",
    "a_verifier_name",
    "a_has_code",
    "a_caused_fail",
    "a_assume",
    "a_origin_final",
    "a_claim_unsupported",
    "a_first_coder",
    "a_last_substantive",
    "a_turns",
    "a_turn_share",
) + (ROLE_AGENT_FEATURES if TRANSFER_GROUPS else ())


@dataclass
class TraceFeatures:
    """Feature rows of one trace: ``step_rows`` (one per candidate step) and ``agent_rows`` (one per agent).

    ``agent_of_candidate[i]`` is the position in ``agents`` of candidate ``i``'s agent. The first two
    agent columns (step mass, max step probability) are zero here; the model fills them in.
    """

    candidates: list[Step]
    step_rows: list[list[float]]
    agents: list[str]
    agent_of_candidate: list[int]
    agent_rows: list[list[float]] = field(default_factory=list)
