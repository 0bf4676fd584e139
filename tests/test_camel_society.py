"""CAMEL plugin: RolePlaying and an OWL-style society — names and order, runs, forks, feedback."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("camel")

import agentracer  # noqa: E402
import agentracer_camel  # noqa: E402
from agentracer import Trace, TraceError  # noqa: E402
from agentracer_camel import memory as camel_memory  # noqa: E402
from agentracer_camel.testing import arithmetic_society, owl_style_society  # noqa: E402


def _shape(trace):
    return [(s.index, s.agent, s.kind, s.parent) for s in trace.steps]


def _recorded_society():
    society, user_m, asst_m = arithmetic_society()
    agentracer.instrument(society)
    answer, history, tokens = agentracer_camel.run_society(society, round_limit=6, check=lambda a: "42" in a)
    return society, user_m, asst_m, agentracer.last_trace(), answer, history


def test_role_playing_names_and_order() -> None:
    society, user_m, asst_m, tr, answer, history = _recorded_society()
    assert answer == "Final answer: 41" and len(history) == 3 and history[2]["user"] == "TASK_DONE"
    expected = []
    for r in range(3):
        base = 4 * r
        expected += [(base, "Planner", "agent_message", None), (base + 1, "Planner", "llm_call", base),
                     (base + 2, "Solver", "agent_message", None), (base + 3, "Solver", "llm_call", base + 2)]
    assert _shape(tr) == expected
    assert tr.agents == ["Planner", "Solver"] and tr.framework == "camel"
    assert tr.outcome == "failure" and tr.final_answer == "Final answer: 41" and tr.task == "What is 6 * 7?"
    assert [s.metadata["round"] for s in tr.agent_steps()] == [0, 0, 1, 1, 2, 2]
    assert tr.steps[2].content == "Solution: 6 * 7 = 41" and tr.steps[2].metadata["input"] == "Instruction: compute 6 * 7."
    meta = tr.metadata["camel"]
    assert meta["kind"] == "role_playing" and meta["round_limit"] == 6
    assert meta["rounds"] == [{"round": 0, "first_step": 0}, {"round": 1, "first_step": 4}, {"round": 2, "first_step": 8}]
    assert len(user_m.calls) == 3 and len(asst_m.calls) == 3
    Trace.from_json(tr.to_json())  # the recorded trace validates and round-trips


def test_manual_loop_like_owl_run_society_is_one_run() -> None:
    """A caller's own loop (OWL's run_society shape): init_chat starts the run, TASK_DONE closes it."""
    society, _, _ = arithmetic_society()
    rec = agentracer.Recorder()
    agentracer.instrument(society, recorder=rec)
    input_msg = society.init_chat("Start.")
    for _ in range(10):
        a, u = society.step(input_msg)
        if a.terminated or u.terminated or "TASK_DONE" in u.msg.content:
            break
        input_msg = a.msg
    tr = rec.last_trace()
    assert tr is not None and [s.agent for s in tr.agent_steps()] == ["Planner", "Solver"] * 3
    assert tr.final_answer == "Final answer: 41" and tr.metadata["camel"]["init_prompt"] == "Start."
    agentracer_camel.end_run(society, outcome="failure")
    assert tr.outcome == "failure"
    # a second init_chat starts a second run
    society.init_chat("Again.")
    society.step(society.init_chat("Again."))
    assert agentracer_camel.end_run(society).run_id != tr.run_id


def test_owl_style_society_with_tools_sync_and_async() -> None:
    society, user_m, asst_m = owl_style_society()
    agentracer.instrument(society)
    answer, history, _ = agentracer_camel.run_society(society, round_limit=6, check=lambda a: "89" in a)
    tr = agentracer.last_trace()
    assert answer == "Final answer: 88" and tr.outcome == "failure"
    assert tr.metadata["camel"]["system"] == "OwlStyleRolePlaying"
    assert [s.agent for s in tr.agent_steps()] == ["user", "assistant"] * 3
    assert _shape(tr)[:6] == [(0, "user", "agent_message", None), (1, "user", "llm_call", 0),
                              (2, "assistant", "agent_message", None), (3, "assistant", "llm_call", 2),
                              (4, "assistant", "tool_call", 2), (5, "assistant", "llm_call", 2)]
    assert tr.steps[4].tool_name == "multiply" and tr.steps[4].tool_result == 84
    assert history[0]["tool_calls"][0]["tool_name"] == "multiply"
    # OWL appends the task to each instruction: the assistant's recorded input shows it
    assert "<task>What is 12 * 7 + 5?</task>" in tr.steps[2].metadata["input"]

    society2, _, _ = owl_style_society()
    agentracer.instrument(society2)
    answer2, _, _ = asyncio.run(agentracer_camel.arun_society(society2, round_limit=6))
    tr2 = agentracer.last_trace()
    assert answer2 == answer and _shape(tr2) == _shape(tr)
    assert [s.content for s in tr2.steps] == [s.content for s in tr.steps]


@pytest.mark.parametrize("how", ["snapshot", "replay"])
def test_fork_reuses_the_prefix_and_reruns_the_suffix(how: str) -> None:
    society, user_m, asst_m, tr, _, _ = _recorded_society()
    if how == "replay":  # as if loaded from disk in another process: no in-process snapshot
        tr = Trace.from_json(tr.to_json())
        camel_memory._SNAPSHOTS.pop(tr.run_id)
    k = 2  # Solver's first answer, 6 * 7 = 41: the decisive mistake
    n_user, n_asst = len(user_m.calls), len(asst_m.calls)
    (answer, history, _), new = agentracer.fork(society, tr, k, "Solution: 6 * 7 = 42")()
    assert answer == "Final answer: 42"
    assert new.metadata["camel"]["fork"]["method"] == how
    assert new.metadata["camel"]["fork"]["parent_run_id"] == tr.run_id
    # steps before k are reproduced exactly, step k carries the replacement, the suffix changed
    assert [(s.agent, s.kind, s.content) for s in new.steps[:k]] == [(s.agent, s.kind, s.content) for s in tr.steps[:k]]
    assert new.steps[k].content == "Solution: 6 * 7 = 42" and new.steps[k].replay["overridden"] is True
    assert _shape(new) == _shape(tr)
    assert [s.content for s in new.agent_steps()][2:] != [s.content for s in tr.agent_steps()][2:]
    assert new.final_answer == "Final answer: 42"
    # the prefix was not regenerated: the Planner's round-0 call was served, the Solver's step k overridden;
    # only rounds 1 and 2 reached the models
    assert len(user_m.calls) - n_user == 2 and len(asst_m.calls) - n_asst == 2
    assert new.steps[1].replay["served_from"] == 1
    assert all("Instruction: compute 6 * 7." not in c[-1]["content"] for c in user_m.calls[n_user:])


def test_fork_at_a_later_round_copies_earlier_rounds() -> None:
    society, user_m, asst_m, tr, _, _ = _recorded_society()
    k = 4  # the Planner's second instruction (round 1)
    n_user, n_asst = len(user_m.calls), len(asst_m.calls)
    (answer, history, _), new = agentracer.fork(society, tr, k, "Instruction: recompute 6 * 7 carefully.")()
    assert len(user_m.calls) - n_user == 1 and len(asst_m.calls) - n_asst == 2  # rounds 0..k untouched
    assert all(new.steps[i].metadata.get("copied_from") == tr.run_id for i in range(4))
    assert new.steps[k].content == "Instruction: recompute 6 * 7 carefully."
    assert new.steps[k + 2].metadata["input"] == "Instruction: recompute 6 * 7 carefully."
    assert len(history) == 2  # the rounds run again: 1 and 2
    # a fork of the fork works too (snapshots of the fork's rounds are kept)
    (answer2, _, _), newer = agentracer.fork(society, new, 2, "Solution: 6 * 7 = 42")()
    assert answer2 == "Final answer: 42" and newer.metadata["camel"]["fork"]["parent_run_id"] == new.run_id


def test_fork_of_the_owl_style_society() -> None:
    society, user_m, asst_m = owl_style_society()
    agentracer.instrument(society)
    agentracer_camel.run_society(society, round_limit=6)
    tr = agentracer.last_trace()
    k = next(s.index for s in tr.agent_steps() if s.content == "Solution: 84 + 5 = 88")
    n_user, n_asst = len(user_m.calls), len(asst_m.calls)
    (answer, _, _), new = agentracer.fork(society, tr, k, "Solution: 84 + 5 = 89")()
    assert answer == "Final answer: 89"
    assert len(user_m.calls) - n_user == 1 and len(asst_m.calls) - n_asst == 1  # only round 2 ran live
    assert [s.content for s in new.steps[:k]] == [s.content for s in tr.steps[:k]]


def test_fork_rejects_bad_steps() -> None:
    society, _, _, tr, _, _ = _recorded_society()
    with pytest.raises(TraceError, match="out of range"):
        agentracer.fork(society, tr, 99, "x")
    with pytest.raises(TraceError, match=r"llm_call inside agent step 0.*fork at an agent step"):
        agentracer.fork(society, tr, 1, "x")


def test_feedback_reaches_only_the_target_agent() -> None:
    society, user_m, asst_m, tr, _, _ = _recorded_society()
    assert sorted(agentracer_camel.agent_names(society)) == ["Planner", "Solver"]
    feedback = "FEEDBACK: multiply carefully, 6 * 7 is 42."
    assert agentracer.inject_feedback(society, "solver", feedback) is society  # names match loosely
    n_user, n_asst = len(user_m.calls), len(asst_m.calls)
    agentracer_camel.run_society(society, round_limit=6)
    assert asst_m.calls[n_asst:] and all(feedback in p for p in asst_m.prompts()[n_asst:])
    assert user_m.calls[n_user:] and not any(feedback in p for p in user_m.prompts()[n_user:])
    with pytest.raises(ValueError, match="'Planner', 'Solver'|'Solver', 'Planner'"):
        agentracer.inject_feedback(society, "Critic", "x")


def test_feedback_mid_run_keeps_memory() -> None:
    """reset_memory=False: the conversation so far stays, and the very next prompt carries the feedback."""
    society, user_m, asst_m = arithmetic_society()
    agentracer.instrument(society)
    a, _ = society.step(society.init_chat("Start."))
    records_before = len(society.assistant_agent.memory.retrieve())
    agentracer_camel.inject_feedback(society, "Solver", "FEEDBACK: check products.")
    assert len(society.assistant_agent.memory.retrieve()) == records_before
    n_user = len(user_m.calls)
    society.step(a.msg)
    last = asst_m.calls[-1]
    assert "FEEDBACK: check products." in last[0]["content"] and "Solution: 6 * 7 = 41" in str(last)
    assert not any("FEEDBACK" in p for p in user_m.prompts()[n_user:])


def test_secrets_in_what_the_plugin_files_are_redacted() -> None:
    secret = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    society, _, _ = arithmetic_society()
    agentracer.instrument(society)
    agentracer_camel.run_society(society, round_limit=6, init_prompt=f"Start. My key is {secret}")
    tr = agentracer.last_trace()
    _, new = agentracer.fork(society, tr, 2, f"Solution: 42 (key {secret})")()
    for t in (tr, new):
        assert secret not in t.to_json()
    assert "[REDACTED]" in tr.metadata["camel"]["init_prompt"] and "[REDACTED]" in new.steps[2].content
