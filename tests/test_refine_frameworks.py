"""Refinement feedback reaches only the attributed agent on AutoGen AgentChat and on a CAMEL Workforce
(OWL's entry point), through their plugins; the systems are rebuilt each round by a factory (both
plugins add feedback rather than replace it, so a factory keeps rollback exact)."""

from __future__ import annotations

import pytest
from agentracer import Attribution
from agentracer.refinement import refine

FEEDBACK_REASON = "it reported a number it never checked"


def _blame(agent: str):
    def tracer(trace, ground_truth=None):
        step = next(s.index for s in trace.agent_steps() if s.agent == agent)
        return Attribution(agent, step, FEEDBACK_REASON, 1.0, "fixed")

    return tracer


def _texts(messages) -> str:
    out = []
    for m in messages:
        c = m.get("content") if isinstance(m, dict) else getattr(m, "content", m)
        out.append(c if isinstance(c, str) else str(c))
    return "\n".join(out)


def test_refine_feedback_reaches_only_the_autogen_agent() -> None:
    pytest.importorskip("autogen_agentchat")
    from agentracer.hooks import get_plugin_manager

    if get_plugin_manager().get_plugin("autogen") is None:
        pytest.skip("the AutoGen plugin is not installed")
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.teams import RoundRobinGroupChat
    from autogen_core.models import ModelInfo
    from autogen_ext.models.replay import ReplayChatCompletionClient

    info = ModelInfo(vision=False, function_calling=False, json_output=False, family="unknown", structured_output=False)
    built: list[dict[str, ReplayChatCompletionClient]] = []

    def make_team() -> RoundRobinGroupChat:
        clients = {n: ReplayChatCompletionClient([f"{n}: ANSWER: 5"] * 12, model_info=info)
                   for n in ("planner", "solver", "checker")}
        built.append(clients)
        return RoundRobinGroupChat([AssistantAgent(n, model_client=c) for n, c in clients.items()], max_turns=3)

    tasks = [{"id": "a", "question": "What is 3 + 4?", "answer": "7"},
             {"id": "b", "question": "What is 2 + 6?", "answer": "8"}]
    res = refine(make_team, tasks, "numeric", 1, tracer=_blame("solver"), guard=False)
    assert res.accuracies == [0.0, 0.0] and list(res.feedback) == ["solver"]
    last = built[-1]  # the team of round 1, told the feedback
    for name, client in last.items():
        prompts = [_texts(call["messages"]) for call in client.create_calls]
        assert prompts, name
        assert all((FEEDBACK_REASON in p) == (name == "solver") for p in prompts), name


def test_refine_feedback_reaches_only_the_camel_workforce_worker() -> None:
    pytest.importorskip("camel")
    from agentracer.hooks import get_plugin_manager

    if get_plugin_manager().get_plugin("camel") is None:
        pytest.skip("the CAMEL plugin is not installed")
    from agentracer_camel.testing import research_workforce

    web = "A helpful assistant that can search the web"
    built: list[dict] = []

    def make_workforce():
        wf, models = research_workforce()
        built.append(models)
        return wf

    tasks = [{"id": "paris", "question": "What is half the population of Paris?", "answer": "1.05 million"}]
    res = refine(make_workforce, tasks, lambda answer, task: task["answer"] in str(answer), 1,
                 tracer=_blame(web), guard=False)
    assert res.accuracies == [0.0, 0.0] and list(res.feedback) == [web]
    models = built[-1]
    for role, model in models.items():
        prompts = [_texts(call) for call in model.calls]
        assert prompts, role
        assert all((FEEDBACK_REASON in p) == (role == "web") for p in prompts), role
