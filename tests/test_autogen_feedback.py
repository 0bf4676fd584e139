"""AutoGen AgentChat feedback: a ListMemory on the target agent only; only its next prompt carries the text."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("autogen_agentchat")
pytest.importorskip("autogen_ext.models.replay")

import _autogen_systems as S  # noqa: E402
import agentracer  # noqa: E402
from agentracer import Recorder  # noqa: E402

FEEDBACK = "Use the multiply tool for products, never add."


def test_feedback_reaches_only_the_target_agent() -> None:
    team = S.round_robin()
    rec = Recorder()
    agentracer.instrument(team, recorder=rec)
    assert agentracer.inject_feedback(team, "coder", FEEDBACK) is team
    asyncio.run(team.run(task=S.TASK))
    clients = S.agent_clients(team)
    coder_prompts = [S.prompt_text(c) for c in clients["coder"].create_calls]
    assert coder_prompts and all(FEEDBACK in p for p in coder_prompts)
    for other in ("planner", "reviewer"):
        assert clients[other].create_calls and all(FEEDBACK not in S.prompt_text(c) for c in clients[other].create_calls)
    # the recorded prompts say the same, and the memory shows in the coder's turn
    tr = rec.last_trace()
    for s in tr.steps:
        if s.kind == "llm_call":
            assert (FEEDBACK in str(s.metadata["messages"])) == (s.agent == "coder")
    coder_step = next(s for s in tr.agent_steps() if s.agent == "coder")
    assert "MemoryQueryEvent" in coder_step.metadata["inner_messages"]


def test_feedback_accumulates_in_one_memory_and_works_uninstrumented() -> None:
    team = S.round_robin()
    agentracer.inject_feedback(team, "reviewer", "Check the arithmetic yourself.")
    agentracer.inject_feedback(team, "reviewer", "17 * 3 is 51.")
    reviewer = team._participants[2]
    assert len(reviewer._memory) == 1 and len(reviewer._memory[0].content) == 2
    asyncio.run(team.run(task=S.TASK))
    sent = S.prompt_text(S.agent_clients(team)["reviewer"].create_calls[0])
    assert "Check the arithmetic yourself." in sent and "17 * 3 is 51." in sent


def test_feedback_to_an_unknown_agent_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no agent 'nobody'.*planner, coder, reviewer"):
        agentracer.inject_feedback(S.round_robin(), "nobody", "x")
