"""One instrumented LangGraph run: span names, parent/child links and attributes; the Trace beside them."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("langgraph")

import agentracer  # noqa: E402
from agentracer.samples.demo import DEMO_TASK  # noqa: E402
from agentracer_langgraph.demo import build_demo_graph, demo_input  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402


def test_spans_of_one_run(span_exporter) -> None:
    provider, exporter = span_exporter
    graph, _ = build_demo_graph(checkpointer=InMemorySaver())
    same = agentracer.instrument(graph, tracer_provider=provider, capture_content=True)
    assert same is graph  # instrumented in place
    graph.invoke(demo_input(), {"configurable": {"thread_id": "thread-7"}})
    tr = agentracer.last_trace()

    spans = exporter.get_finished_spans()
    by_name: dict[str, list] = {}
    for s in spans:
        by_name.setdefault(s.name, []).append(s)
    assert sorted(by_name) == sorted([
        "invoke_workflow langgraph",
        "invoke_agent planner", "chat fake-planner", "execute_tool lookup_price",
        "invoke_agent solver", "chat fake-solver",
        "invoke_agent verifier", "chat fake-verifier",
    ])
    assert len(by_name["chat fake-planner"]) == 2  # tool call, then the plan
    root = by_name["invoke_workflow langgraph"][0]
    assert root.parent is None
    assert root.attributes["gen_ai.conversation.id"] == "thread-7"
    assert root.attributes["agentracer.steps"] == len(tr.steps)

    agents = {n.split(" ", 1)[1]: v[0] for n, v in by_name.items() if n.startswith("invoke_agent ")}
    for name, sp in agents.items():
        assert sp.parent.span_id == root.context.span_id
        assert sp.attributes["gen_ai.operation.name"] == "invoke_agent"
        assert sp.attributes["gen_ai.agent.name"] == name
        assert sp.attributes["openinference.span.kind"] == "AGENT"
        assert sp.attributes["gen_ai.conversation.id"] == "thread-7"
        assert sp.attributes["agentracer.replay.node"] == name
        assert sp.attributes["agentracer.replay.thread_id"] == "thread-7"
        step = tr.steps[sp.attributes["agentracer.step.index"]]
        assert step.agent == name and step.parent is None
        assert sp.attributes["output.value"] == step.content
    assert agents["solver"].attributes["graph.node.parent_id"] == "planner"
    assert agents["verifier"].attributes["graph.node.parent_id"] == "solver"

    for chat in by_name["chat fake-planner"]:
        assert chat.parent.span_id == agents["planner"].context.span_id
        assert chat.attributes["gen_ai.operation.name"] == "chat"
        assert chat.attributes["gen_ai.request.model"] == "fake-planner"
        assert chat.attributes["openinference.span.kind"] == "LLM"
        assert tr.steps[chat.attributes["agentracer.step.index"]].kind == "llm_call"
    tool = by_name["execute_tool lookup_price"][0]
    assert tool.parent.span_id == agents["planner"].context.span_id
    assert tool.attributes["gen_ai.tool.name"] == "lookup_price"
    assert tool.attributes["gen_ai.tool.call.id"] == "call_price_1"
    assert tool.attributes["gen_ai.tool.call.result"] == "$3"
    solver_chat = by_name["chat fake-solver"][0]
    assert solver_chat.parent.span_id == agents["solver"].context.span_id
    assert "4 x $3 = $15" in solver_chat.attributes["gen_ai.output.messages"]
    assert "A shop sells pens" in solver_chat.attributes["gen_ai.input.messages"]


def test_trace_of_one_run() -> None:
    graph, _ = build_demo_graph(checkpointer=InMemorySaver())
    agentracer.instrument(graph)
    result = graph.invoke(demo_input(), {"configurable": {"thread_id": "t-trace"}})
    tr = agentracer.last_trace()
    assert tr is agentracer.recorder_of(graph).last_trace()
    assert tr.run_id != "t-trace" and tr.metadata["session_id"] == "t-trace"  # the thread is the session
    assert tr.framework == "langgraph" and tr.task == DEMO_TASK
    assert tr.agents == ["planner", "solver", "verifier"]
    assert [(s.index, s.agent, s.kind, s.parent) for s in tr.steps] == [
        (0, "planner", "agent_message", None),
        (1, "planner", "llm_call", 0),
        (2, "planner", "tool_call", 0),
        (3, "planner", "llm_call", 0),
        (4, "solver", "agent_message", None),
        (5, "solver", "llm_call", 4),
        (6, "verifier", "agent_message", None),
        (7, "verifier", "llm_call", 6),
    ]
    assert tr.final_answer == result["answer"] == "5"
    assert tr.outcome == "unknown"  # the user decides; see test_outcome_set_by_user
    assert tr.steps[2].tool_args == {"item": "pen"} and tr.steps[2].tool_result == "$3"
    assert tr.steps[1].replay["response"]["data"]["tool_calls"][0]["name"] == "lookup_price"
    # every agent step knows the checkpoint it started from and the one it produced
    history = {h.config["configurable"]["checkpoint_id"]: h for h in graph.get_state_history({"configurable": {"thread_id": "t-trace"}})}
    for s in tr.agent_steps():
        before = history[s.replay["checkpoint_id"]]
        assert s.replay["node"] in before.next and s.replay["task_id"] in [t.id for t in before.tasks]
        assert history[s.replay["next_checkpoint_id"]].parent_config["configurable"]["checkpoint_id"] == s.replay["checkpoint_id"]


def test_outcome_set_by_user() -> None:
    from agentracer_langgraph.demo import run_demo_task

    graph, _ = build_demo_graph()
    agentracer.instrument(graph)
    result, tr = run_demo_task(graph)
    assert tr.outcome == "failure" and tr.ground_truth == "8" and result["answer"] == "5"


def test_each_call_is_one_run_stream_and_async() -> None:
    graph, _ = build_demo_graph(script={
        "planner": ["plan"] * 3, "solver": ["ANSWER: 8"] * 3, "verifier": ["VERDICT: APPROVE"] * 3,
    })
    agentracer.instrument(graph)
    rec = agentracer.recorder_of(graph)
    graph.invoke(demo_input())
    chunks = list(graph.stream(demo_input(), stream_mode="updates"))
    assert [next(iter(c)) for c in chunks] == ["planner", "solver", "verifier"]

    async def go():
        return await graph.ainvoke(demo_input())

    assert asyncio.run(go())["answer"] == "8"
    traces = list(rec.traces)
    assert len(traces) == 3
    assert len({t.run_id for t in traces}) == 3
    for t in traces:
        assert [s.agent for s in t.agent_steps()] == ["planner", "solver", "verifier"]
        assert len(t.steps) == 6


def test_copies_and_caller_callbacks_still_work() -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    class Count(BaseCallbackHandler):
        def __init__(self):
            self.n = 0

        def on_chain_start(self, *a, **k):
            self.n += 1

    graph, _ = build_demo_graph(script={"planner": ["p"] * 2, "solver": ["ANSWER: 8"] * 2, "verifier": ["VERDICT: APPROVE"] * 2})
    agentracer.instrument(graph)
    user = Count()
    graph.invoke(demo_input(), {"callbacks": [user]})
    assert user.n > 0  # the caller's own callbacks still run
    copy = graph.with_config({"tags": ["copy"]})
    copy.invoke(demo_input())
    assert len(agentracer.recorder_of(graph).traces) == 2
