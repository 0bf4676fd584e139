"""Run identity and nesting on the real frameworks (issue 19): several turns of one LangGraph thread, concurrent
runs sharing a thread, per-task ``last_trace``, a nested instrumented graph, a double-instrumented AutoGen
participant, nodes returning message tuples."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import pytest

pytest.importorskip("langgraph")

import agentracer  # noqa: E402
from agentracer import Recorder  # noqa: E402
from agentracer.formats import read  # noqa: E402
from agentracer_langgraph.fakes import scripted  # noqa: E402
from langchain_core.messages import AnyMessage  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402
from langgraph.graph.message import add_messages  # noqa: E402
from typing_extensions import TypedDict  # noqa: E402


class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]


def _echo_graph(checkpointer: Any = None, name: str = "echo") -> Any:
    model = scripted(respond=lambda msgs: f"reply to {msgs[-1].content}", model="fake")

    def agent(state: dict) -> dict:
        return {"messages": [model.invoke(state["messages"])]}

    g = StateGraph(State)
    g.add_node("agent", agent)
    g.add_edge(START, "agent")
    g.add_edge("agent", END)
    return g.compile(checkpointer=checkpointer, name=name)


def test_three_turns_on_one_thread_are_three_traces(tmp_path: Path, span_exporter) -> None:
    provider, exporter = span_exporter
    sink = tmp_path / "s.jsonl"
    graph = agentracer.instrument(_echo_graph(InMemorySaver()), sink=sink, tracer_provider=provider)
    cfg = {"configurable": {"thread_id": "conv-1"}}
    seen = []
    for turn in range(3):
        graph.invoke({"messages": [("user", f"turn {turn}")]}, cfg)
        seen.append(agentracer.last_trace())
    assert len({t.run_id for t in seen}) == 3 and all(t.run_id != "conv-1" for t in seen)
    back = read(sink)
    assert len(back) == 3
    assert [t.task for t in back] == [t.task for t in seen]
    assert all(t.metadata["session_id"] == "conv-1" and len(t.steps) == 2 for t in back)
    for t in back:
        assert "partial" not in t.metadata
    roots = [s for s in exporter.get_finished_spans() if s.name.startswith("invoke_workflow")]
    assert len(roots) == 3 and {s.attributes["session.id"] for s in roots} == {"conv-1"}


def test_concurrent_runs_sharing_a_thread_id_are_all_kept(tmp_path: Path) -> None:
    sink = tmp_path / "s.jsonl"
    graph = agentracer.instrument(_echo_graph(), sink=sink)

    async def main() -> list[str]:
        async def one(i: int) -> str:
            await graph.ainvoke({"messages": [("user", f"q{i}")]}, {"configurable": {"thread_id": "shared"}})
            return agentracer.last_trace().task

        return await asyncio.gather(*(one(i) for i in range(20)))

    tasks = asyncio.run(main())
    assert [t.split()[-1] for t in tasks] == [f"q{i}" for i in range(20)]  # each task saw its own run
    back = read(sink)
    assert len(back) == 20 and len({t.run_id for t in back}) == 20
    assert sorted(t.task.split()[-1] for t in back) == sorted(f"q{i}" for i in range(20))


def test_run_handle_on_a_graph() -> None:
    graph = agentracer.instrument(_echo_graph())
    with agentracer.run(graph) as r:
        graph.invoke({"messages": [("user", "hello")]})
    assert r.trace is not None and "hello" in r.trace.task and len(r.traces) == 1


def test_nested_instrumented_graph_records_each_span_once(span_exporter) -> None:
    provider, exporter = span_exporter
    inner = agentracer.instrument(_echo_graph(name="inner"), tracer_provider=provider)

    def outer_node(state: dict) -> dict:
        return inner.invoke(state)

    g = StateGraph(State)
    g.add_node("outer", outer_node)
    g.add_edge(START, "outer")
    g.add_edge("outer", END)
    outer = agentracer.instrument(g.compile(name="outer"), tracer_provider=provider)
    outer.invoke({"messages": [("user", "hi")]})
    names = Counter(s.name for s in exporter.get_finished_spans())
    assert names["invoke_workflow langgraph"] == 1, names
    assert all(n == 1 for k, n in names.items() if k.startswith("chat")), names
    tr = agentracer.last_trace()
    assert [s.kind for s in tr.steps].count("llm_call") == 1


def test_node_returning_message_tuples_keeps_content() -> None:
    def agent(state: dict) -> dict:
        return {"messages": [("ai", "the answer is 42")]}

    g = StateGraph(State)
    g.add_node("agent", agent)
    g.add_edge(START, "agent")
    g.add_edge("agent", END)
    graph = agentracer.instrument(g.compile(name="tuples"))
    graph.invoke({"messages": [("user", "q")]})
    tr = agentracer.last_trace()
    assert "the answer is 42" in tr.steps[0].content


def test_autogen_participant_instrumented_twice_records_into_the_team_run() -> None:
    pytest.importorskip("autogen_agentchat")
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    import _autogen_systems as S

    team = S.round_robin()
    rec = Recorder()
    agentracer.instrument(team, recorder=rec)
    coder = team._participants[1]
    agentracer.instrument(coder)
    asyncio.run(team.run(task=S.TASK))
    tr = rec.last_trace()
    assert tr.agents == ["planner", "coder", "reviewer"]
    assert [s.agent for s in tr.agent_steps()] == ["planner", "coder", "reviewer"]
    assert rec._runs == []
