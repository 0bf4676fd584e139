"""Agents are recorded under their real names: plain StateGraph, supervisor, and create_react_agent hand-offs."""

from __future__ import annotations

import pytest

pytest.importorskip("langgraph")

import agentracer  # noqa: E402
from agentracer_langgraph.fakes import scripted  # noqa: E402
from agentracer_langgraph.sample_graphs import handoff_graph, pipeline_graph, supervisor_graph  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _call(name: str, args: dict, cid: str) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": cid}])


def _shape(tr):
    return [(s.agent, s.kind, s.tool_name) for s in tr.steps]


def test_plain_stategraph_nodes_are_agents() -> None:
    g = pipeline_graph({"researcher": scripted(["facts"]), "writer": scripted(["draft"]), "editor": scripted(["final"])})
    agentracer.instrument(g)
    g.invoke({"messages": [HumanMessage("write about otters")]})
    tr = agentracer.last_trace()
    assert tr.agents == ["researcher", "writer", "editor"]
    assert [s.agent for s in tr.agent_steps()] == ["researcher", "writer", "editor"]
    assert [s.content for s in tr.agent_steps()] == ["facts", "draft", "final"]
    assert tr.final_answer == "final"


def test_supervisor_graph_names_workers_not_inner_nodes() -> None:
    sup = scripted(["math", "writer", "FINISH"])
    math = scripted([_call("add", {"a": 2, "b": 3}, "c1"), "2 + 3 = 5"])
    writer = scripted(["The result is five."])
    g = supervisor_graph(sup, {"math": math, "writer": writer}, tools={"math": [add]})
    agentracer.instrument(g)
    g.invoke({"messages": [HumanMessage("add 2 and 3, then say it in words")]})
    tr = agentracer.last_trace()
    assert [s.agent for s in tr.agent_steps()] == ["supervisor", "math", "supervisor", "writer", "supervisor"]
    assert set(tr.agents) == {"supervisor", "math", "writer"}
    assert not {"agent", "tools", "model"} & set(tr.agents)
    math_step = next(s for s in tr.agent_steps() if s.agent == "math")
    kids = [s for s in tr.steps if s.parent == math_step.index]
    assert [(s.kind, s.tool_name) for s in kids] == [("llm_call", None), ("tool_call", "add"), ("llm_call", None)]
    assert all(s.agent == "math" for s in kids)
    assert kids[1].tool_result == "5" and math_step.content == "2 + 3 = 5"


def test_react_agents_handing_off_keep_their_names() -> None:
    alice = scripted([_call("add", {"a": 2, "b": 3}, "c1"), _call("transfer_to_bob", {}, "c2")])
    bob = scripted([_call("add", {"a": 5, "b": 1}, "c3"), "The answer is 6"])
    g = handoff_graph({"alice": alice, "bob": bob}, tools={"alice": [add], "bob": [add]})
    agentracer.instrument(g)
    out = g.invoke({"messages": [HumanMessage("2+3, then +1")]})
    assert out["messages"][-1].content == "The answer is 6"
    tr = agentracer.last_trace()
    assert tr.agents == ["alice", "bob"]
    assert _shape(tr) == [
        ("alice", "agent_message", None),
        ("alice", "llm_call", None),
        ("alice", "tool_call", "add"),
        ("alice", "llm_call", None),
        ("alice", "tool_call", "transfer_to_bob"),
        ("bob", "agent_message", None),
        ("bob", "llm_call", None),
        ("bob", "tool_call", "add"),
        ("bob", "llm_call", None),
    ]
    alice_step = tr.steps[0]
    assert alice_step.metadata.get("goto") == ["bob"]  # the hand-off is on the step
    assert tr.steps[4].content == "Transferred to bob."
    assert tr.final_answer == "The answer is 6"


def test_single_prebuilt_agent_is_named_after_the_graph() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langgraph.prebuilt import create_react_agent

    g = create_react_agent(scripted([_call("add", {"a": 1, "b": 1}, "c1"), "2"]), [add], name="calculator")
    agentracer.instrument(g)
    g.invoke({"messages": [HumanMessage("1+1")]})
    tr = agentracer.last_trace()
    assert tr.agents == ["calculator"]


def test_instrument_uncompiled_stategraph_says_compile_first() -> None:
    import agentracer
    from langgraph.graph import END, START, MessagesState, StateGraph

    g = StateGraph(MessagesState)
    g.add_node("a", lambda s: {"messages": []})
    g.add_edge(START, "a")
    g.add_edge("a", END)
    with pytest.raises(TypeError, match=r"call \.compile\(\) first"):
        agentracer.instrument(g)
    agentracer.instrument(g.compile())  # the compiled graph is fine
