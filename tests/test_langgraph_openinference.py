"""The same LangGraph run traced by openinference-instrumentation-langchain imports to an equivalent Trace."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("langgraph")
pytest.importorskip("openinference.instrumentation.langchain")

import agentracer  # noqa: E402
from agentracer.formats import read  # noqa: E402
from agentracer.formats.openinference import from_openinference_spans  # noqa: E402
from agentracer.formats.otlp import from_otlp_json  # noqa: E402
from agentracer.formats.otlp_json import parse_otlp_spans, spans_to_otlp_json  # noqa: E402
from agentracer_langgraph.demo import build_demo_graph, demo_input  # noqa: E402
from agentracer_langgraph.fakes import scripted  # noqa: E402
from agentracer_langgraph.sample_graphs import handoff_graph, supervisor_graph  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402


@pytest.fixture()
def openinference(span_exporter):
    from openinference.instrumentation.langchain import LangChainInstrumentor

    provider, exporter = span_exporter
    inst = LangChainInstrumentor()
    inst.instrument(tracer_provider=provider)
    yield exporter
    inst.uninstrument()


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _call(name, args, cid):
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": cid}])


def _demo():
    g, _ = build_demo_graph()
    return g, demo_input()


def _supervisor():
    sup = scripted(["math", "writer", "FINISH"])
    math = scripted([_call("add", {"a": 2, "b": 3}, "c1"), "5"])
    return supervisor_graph(sup, {"math": math, "writer": scripted(["five"])}, tools={"math": [add]}), {
        "messages": [HumanMessage("2+3 in words")]
    }


def _handoff():
    alice = scripted([_call("add", {"a": 2, "b": 3}, "c1"), _call("transfer_to_bob", {}, "c2")])
    bob = scripted(["The answer is 5"])
    return handoff_graph({"alice": alice, "bob": bob}, tools={"alice": [add]}), {"messages": [HumanMessage("2+3")]}


@pytest.mark.parametrize("build", [_demo, _supervisor, _handoff], ids=["pipeline", "supervisor", "handoff"])
def test_same_agents_and_steps_as_ours(openinference, tmp_path, build) -> None:
    graph, inp = build()
    agentracer.instrument(graph)
    graph.invoke(inp, {"configurable": {"thread_id": "oi-run"}})
    ours = agentracer.last_trace()

    # OpenInference's spans -> OTLP JSON file -> agentracer's reader
    path = tmp_path / "openinference.json"
    path.write_text(json.dumps(spans_to_otlp_json(openinference.get_finished_spans())))
    (theirs,) = read(path)
    assert theirs.metadata["source"] == "openinference"
    assert theirs.agents == ours.agents
    assert [s.agent for s in theirs.agent_steps()] == [s.agent for s in ours.agent_steps()]
    assert len(theirs.agent_steps()) == len(ours.agent_steps())
    # same step text, except where OpenInference has no output (a node that ended by handing off)
    pairs = list(zip(theirs.agent_steps(), ours.agent_steps(), strict=True))
    assert all(t.content == o.content for t, o in pairs if t.content)
    assert pairs[-1][0].content == pairs[-1][1].content
    # LLM and tool children land under the same agent steps
    def kids(tr):
        return [sorted((c.kind, c.tool_name or "") for c in tr.steps if c.parent == s.index) for s in tr.agent_steps()]

    assert kids(theirs) == kids(ours)
    assert [s.content for s in theirs.steps if s.kind == "llm_call"] == [s.content for s in ours.steps if s.kind == "llm_call"]
    assert theirs.run_id == "oi-run" and theirs.framework == "langgraph"
    assert theirs.task == ours.task


def test_openinference_import_from_normalised_spans(openinference) -> None:
    graph, inp = _demo()
    graph.invoke(inp)
    spans = parse_otlp_spans(spans_to_otlp_json(openinference.get_finished_spans()))
    tr = from_openinference_spans(spans)
    assert [s.agent for s in tr.agent_steps()] == ["planner", "solver", "verifier"]
    llm = [s for s in tr.steps if s.kind == "llm_call"]
    assert llm[0].metadata["messages"][0]["role"] == "system"
    assert "lookup_price" in llm[0].content
    assert from_otlp_json(spans_to_otlp_json(openinference.get_finished_spans()))[0] == tr
