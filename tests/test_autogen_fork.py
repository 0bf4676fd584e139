"""AutoGen AgentChat forks: steps up to k come from the recording (no model call), k is replaced, the rest re-runs.

A scripted ``ReplayChatCompletionClient`` does not read its prompt, so each fork gets a factory of fresh
teams whose clients hold the answers of the *suffix*; the prefix must never reach them.
"""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("autogen_agentchat")
pytest.importorskip("autogen_ext.models.replay")

import _autogen_systems as S  # noqa: E402
import agentracer  # noqa: E402
from agentracer import Recorder, TraceError  # noqa: E402


def _record(team):
    rec = Recorder()
    agentracer.instrument(team, recorder=rec)
    asyncio.run(team.run(task=S.TASK))
    return rec.last_trace()


class Factory:
    """Builds fresh teams and keeps them, to look at what their clients were (not) asked."""

    def __init__(self, build, **script):
        self.build, self.script, self.teams = build, script, []

    def __call__(self):
        team = self.build(**self.script)
        self.teams.append(team)
        return team

    def calls(self, i: int, agent: str) -> list:
        return S.agent_clients(self.teams[i])[agent].create_calls


def _same_prefix(orig, new, k):
    def row(s):
        return (s.agent, s.kind, s.parent, s.tool_name, s.content)

    assert [row(s) for s in new.steps[:k]] == [row(s) for s in orig.steps[:k]]


def test_round_robin_fork_replays_prefix_and_reruns_suffix() -> None:
    orig = _record(S.round_robin())
    k = orig.agent_steps()[1].index  # the coder's turn: it used the wrong tool
    fix = "The result is 51."
    fac = Factory(S.round_robin, planner=(), coder=(), reviewer=("Verified. FINAL ANSWER: 51",))
    result, tr = agentracer.fork(fac, orig, k, fix)()

    prefix_team, suffix_team = fac.teams
    for agent in ("planner", "coder", "reviewer"):  # nothing before the fork point reached a model
        assert S.agent_clients(prefix_team)[agent].create_calls == []
    assert tr.metadata["fork"]["prefix_replayed"] == 3 and tr.metadata["fork"]["prefix_live"] == 0
    assert tr.metadata["fork"]["patched"] == {"message_thread": 1, "message_buffer": 2, "llm_context": 1}
    _same_prefix(orig, tr, k)
    assert tr.steps[k].content == fix and tr.steps[k].replay["overridden"] is True
    assert tr.steps[k].metadata["original_content"] == "The result is 20."
    assert [s.agent for s in tr.agent_steps()] == ["planner", "coder", "reviewer"]  # max_turns budget kept

    sent = S.agent_clients(suffix_team)["reviewer"].create_calls
    assert len(sent) == 1 and fix in S.prompt_text(sent[0]) and "The result is 20." not in S.prompt_text(sent[0])
    assert S.agent_clients(suffix_team)["planner"].create_calls == []
    assert tr.agent_steps()[2].content == "Verified. FINAL ANSWER: 51"
    assert tr.final_answer == "Verified. FINAL ANSWER: 51" and result.messages[-1].content == tr.final_answer
    assert tr.metadata["fork"]["parent_run_id"] == orig.run_id and tr.run_id != orig.run_id


def test_fork_patches_the_speakers_own_context() -> None:
    """Fork the planner at step 0 of a 4-turn run: the planner speaks again and must see its replaced plan."""
    orig = _record(S.round_robin(planner=("PLAN A", "noted"), coder=("c1",), reviewer=("r1",), max_turns=4))
    fac = Factory(S.round_robin, planner=("noted B",), coder=("c1 B",), reviewer=("r1 B",), max_turns=4)
    _, tr = agentracer.fork(fac, orig, 0, "PLAN B")()
    suffix = fac.teams[1]
    planner_prompt = S.prompt_text(S.agent_clients(suffix)["planner"].create_calls[0])
    assert "PLAN B" in planner_prompt and "PLAN A" not in planner_prompt
    assert [s.content for s in tr.agent_steps()] == ["PLAN B", "c1 B", "r1 B", "noted B"]


def test_selector_fork() -> None:
    orig = _record(S.selector())
    k = next(s.index for s in orig.agent_steps() if s.agent == "coder")
    fac = Factory(S.selector, picks=("reviewer",), planner=(), coder=(), reviewer=("FINAL ANSWER: 51",))
    _, tr = agentracer.fork(fac, orig, k, "17 * 3 = 51")()
    prefix = fac.teams[0]
    assert prefix._model_client._agentracer_inner.create_calls == []  # the selector's picks were replayed too
    assert all(c.create_calls == [] for c in S.agent_clients(prefix).values())
    assert tr.metadata["fork"]["prefix_replayed"] == 4 and tr.metadata["fork"]["prefix_live"] == 0
    _same_prefix(orig, tr, k)
    suffix = fac.teams[1]
    pick_prompt = S.prompt_text(suffix._model_client._agentracer_inner.create_calls[0])
    assert "17 * 3 = 51" in pick_prompt and "= 41" not in pick_prompt
    assert [(s.agent, s.content) for s in tr.agent_steps()[-2:]] == [
        ("SelectorGroupChatManager", "reviewer"),
        ("reviewer", "FINAL ANSWER: 51"),
    ]


def test_selector_fork_of_a_pick() -> None:
    """Fork the selector's second pick: another speaker is chosen, and the rest of the run follows from it."""
    orig = _record(S.selector())
    k = orig.agent_steps()[2].index
    assert (orig.steps[k].agent, orig.steps[k].content) == ("SelectorGroupChatManager", "coder")
    fac = Factory(S.selector, picks=("coder",), planner=(), coder=("17 * 3 = 51",), reviewer=("Coder, compute it.",))
    _, tr = agentracer.fork(fac, orig, k, "reviewer")()
    team = fac.teams[0]
    assert tr.metadata["fork"]["mode"] == "override" and tr.metadata["fork"]["prefix_live"] == 0
    assert S.agent_clients(team)["planner"].create_calls == []  # replayed
    assert len(team._model_client._agentracer_inner.create_calls) == 1  # only the pick after the fork point
    _same_prefix(orig, tr, k)
    assert [(s.agent, s.content) for s in tr.agent_steps()[2:]] == [
        ("SelectorGroupChatManager", "reviewer"),
        ("reviewer", "Coder, compute it."),
        ("SelectorGroupChatManager", "coder"),
        ("coder", "17 * 3 = 51"),
    ]
    assert tr.steps[k].metadata["original_content"] == "coder"


def test_swarm_fork() -> None:
    orig = _record(S.swarm())
    k = orig.agent_steps()[1].index  # the solver's first answer
    fac = Factory(S.swarm, triage=(), solver=("FINAL ANSWER: 51. TERMINATE",))
    _, tr = agentracer.fork(fac, orig, k, "17 * 3 = 51.")()
    assert all(c.create_calls == [] for c in S.agent_clients(fac.teams[0]).values())
    _same_prefix(orig, tr, k)
    sent = S.prompt_text(S.agent_clients(fac.teams[1])["solver"].create_calls[0])
    assert "17 * 3 = 51." in sent and "41" not in sent  # its own (patched) context
    assert tr.final_answer == "FINAL ANSWER: 51. TERMINATE"


def test_magentic_one_fork_of_a_participant() -> None:
    orig = _record(S.magentic_one())
    k = next(s.index for s in orig.agent_steps() if s.agent == "coder")
    fac = Factory(S.magentic_one, orchestrator=(S.ledger("coder", "", done=True), "FINAL ANSWER: 51"), coder=())
    _, tr = agentracer.fork(fac, orig, k, "17 * 3 = 51")()
    team = fac.teams[0]  # MagenticOne re-runs on one team, with the prefix served from the recording
    assert len(fac.teams) == 1 and tr.metadata["fork"]["mode"] == "override"
    assert S.agent_clients(team)["coder"].create_calls == []
    assert tr.metadata["fork"]["prefix_replayed"] == 4 and tr.metadata["fork"]["prefix_live"] == 0
    _same_prefix(orig, tr, k)
    asked = team._model_client._agentracer_inner.create_calls
    assert len(asked) == 2 and "17 * 3 = 51" in S.prompt_text(asked[0]) and "= 41" not in S.prompt_text(asked[0])
    assert tr.final_answer == "FINAL ANSWER: 51"


def test_magentic_one_fork_of_an_orchestrator_step() -> None:
    orig = _record(S.magentic_one())
    k = orig.agent_steps()[1].index  # the orchestrator's instruction "Multiply 17 by 3."
    assert orig.steps[k].content == "Multiply 17 by 3."
    fac = Factory(S.magentic_one, orchestrator=(S.ledger("coder", "", done=True), "FINAL ANSWER: 20"), coder=("17 + 3 = 20",))
    _, tr = agentracer.fork(fac, orig, k, "Add 17 and 3.")()
    coder_sent = S.prompt_text(S.agent_clients(fac.teams[0])["coder"].create_calls[0])
    assert "Add 17 and 3." in coder_sent and "Multiply 17 by 3." not in coder_sent
    assert tr.steps[k].content == "Add 17 and 3." and tr.steps[k].replay["overridden"]
    assert [s.content for s in tr.agent_steps()[2:]] == ["17 + 3 = 20", "FINAL ANSWER: 20"]


def test_fork_rejects_bad_steps() -> None:
    orig = _record(S.round_robin())
    with pytest.raises(TraceError, match="step 99"):
        agentracer.fork(S.round_robin, orig, 99, "x")
    with pytest.raises(TraceError, match="llm_call"):
        agentracer.fork(S.round_robin, orig, 1, "x")
    with pytest.raises(TraceError, match="not in this team"):
        agentracer.fork(S.swarm, orig, 0, "x")()


@pytest.mark.filterwarnings("ignore::UserWarning")  # AutoGen warns that loading a FunctionTool runs code
def test_fork_from_an_instrumented_team_clones_it() -> None:
    """With the team itself (not a factory), the fork clones it with dump_component / load_component."""
    team = S.round_robin()
    orig = _record(team)
    _, tr = agentracer.fork(team, orig, orig.agent_steps()[1].index, "The result is 51.")()
    assert tr.metadata["fork"]["prefix_live"] == 0
    assert [s.agent for s in tr.agent_steps()] == ["planner", "coder", "reviewer"]
    assert tr.agent_steps()[1].content == "The result is 51."


def test_a_counting_termination_stops_the_suffix_where_the_original_run_stopped() -> None:
    """RoundRobin with ``MaxMessageTermination(4)`` (the task + 3 turns): forked at the second turn, the suffix
    runs the one turn the original run had left, not 4 more messages (the condition is fed the prefix)."""
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.conditions import MaxMessageTermination
    from autogen_agentchat.teams import RoundRobinGroupChat
    from autogen_ext.models.replay import ReplayChatCompletionClient

    def build() -> RoundRobinGroupChat:
        def c(*xs: str) -> ReplayChatCompletionClient:
            return ReplayChatCompletionClient(list(xs), model_info=S.MODEL_INFO)

        return RoundRobinGroupChat(
            [AssistantAgent("researcher", model_client=c("A: 12,000. B: 8,000.", "again")),
             AssistantAgent("analyst", model_client=c("12,000 + 8,000 = 19,000", "again")),
             AssistantAgent("writer", model_client=c("Final answer: 19,000", "Final answer: 20,000"))],
            termination_condition=MaxMessageTermination(4),
        )

    tr = _record(build())
    assert [s.agent for s in tr.agent_steps()] == ["researcher", "analyst", "writer"]
    k = tr.agent_steps()[1].index
    _, new = agentracer.fork(build, tr, k, "12,000 + 8,000 = 20,000")()
    assert [s.agent for s in new.agent_steps()] == ["researcher", "analyst", "writer"]
    assert new.steps[k].replay["overridden"]
