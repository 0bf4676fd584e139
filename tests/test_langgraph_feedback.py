"""Feedback reaches only the named agent's next LLM prompt (state key or system prompt)."""

from __future__ import annotations

import pytest

pytest.importorskip("langgraph")

import agentracer  # noqa: E402
from agentracer_langgraph import clear_feedback  # noqa: E402
from agentracer_langgraph.demo import build_demo_graph, demo_input  # noqa: E402
from agentracer_langgraph.fakes import scripted  # noqa: E402
from agentracer_langgraph.sample_graphs import handoff_graph, supervisor_graph  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402

FB = "Multiply before you subtract: 4 x 3 is 12."


def _script(n: int) -> dict:
    return {"planner": ["plan"] * n, "solver": ["ANSWER: 8"] * n, "verifier": ["VERDICT: APPROVE"] * n}


def test_feedback_through_the_state_key() -> None:
    graph, models = build_demo_graph(_script(2))
    agentracer.instrument(graph)
    graph.invoke(demo_input())
    assert not any(FB in p for m in models.values() for p in m.prompts)
    same = agentracer.inject_feedback(graph, "solver", FB)
    assert same is graph
    graph.invoke(demo_input())
    assert FB in models["solver"].prompts[-1]
    assert FB not in models["planner"].prompts[-1] and FB not in models["verifier"].prompts[-1]
    # the recorded trace shows it too, in the solver's LLM call only
    tr = agentracer.last_trace()
    with_fb = [s.agent for s in tr.steps if s.kind == "llm_call" and FB in str(s.metadata.get("messages"))]
    assert with_fb == ["solver"]
    clear_feedback(graph)
    graph2, models2 = build_demo_graph(_script(1))
    graph2.invoke(demo_input())  # another graph object is untouched
    assert not any(FB in p for p in models2["solver"].prompts)


def test_feedback_through_the_system_prompt_of_a_subgraph_agent() -> None:
    # no feedback key is read here: the react agents' prompts get it appended to their system message
    sup = scripted(["math", "writer", "FINISH"] * 2)
    math = scripted(["5", "5"])
    writer = scripted(["five", "five"])
    g = supervisor_graph(sup, {"math": math, "writer": writer})
    agentracer.instrument(g)
    from agentracer_langgraph import inject_feedback

    inject_feedback(g, "writer", "Spell numbers in French.", via="system")
    g.invoke({"messages": [HumanMessage("add 2 and 3 and say it")]})
    assert "Spell numbers in French." in writer.prompts[-1]
    assert writer.calls[-1][0].type == "system"
    assert "Spell numbers in French." not in math.prompts[-1]
    assert not any("Spell numbers in French." in p for p in sup.prompts)


def test_system_prompt_feedback_without_a_system_message() -> None:
    alice = scripted([AIMessage("", tool_calls=[{"name": "transfer_to_bob", "args": {}, "id": "h"}])] * 2)
    bob = scripted(["done"] * 2)
    g = handoff_graph({"alice": alice, "bob": bob})
    agentracer.instrument(g)
    agentracer.inject_feedback(g, "bob", "Check alice's numbers.")  # AgentState has a feedback key ...
    g.invoke({"messages": [HumanMessage("hi")]})
    assert not any("Check alice" in p for p in bob.prompts)  # ... which react agents do not read
    clear_feedback(g)
    from agentracer_langgraph import inject_feedback

    inject_feedback(g, "bob", "Check alice's numbers.", via="system")
    g.invoke({"messages": [HumanMessage("hi")]})
    assert bob.calls[-1][0].type == "system" and "Check alice's numbers." in bob.prompts[-1]
    assert not any("Check alice" in p for p in alice.prompts)


def test_bad_feedback_requests() -> None:
    graph, _ = build_demo_graph(_script(1))
    from agentracer_langgraph import inject_feedback

    with pytest.raises(ValueError):
        inject_feedback(graph, "", "x")
    with pytest.raises(ValueError):
        inject_feedback(graph, "solver", "x", via="email")
    with pytest.raises(TypeError):
        agentracer.inject_feedback(object(), "solver", "x")
