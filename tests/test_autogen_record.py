"""AutoGen AgentChat: `agentracer.instrument(team)` records agent names, step order, LLM and tool calls."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

pytest.importorskip("autogen_agentchat")
pytest.importorskip("autogen_ext.models.replay")

import _autogen_systems as S  # noqa: E402
import agentracer  # noqa: E402
from agentracer import Recorder, Trace  # noqa: E402


def _run(team, task=S.TASK):
    return asyncio.run(team.run(task=task))


def _record(team, provider=None):
    rec = Recorder(tracer_provider=provider, capture_content=True)
    agentracer.instrument(team, recorder=rec)
    result = _run(team)
    return result, rec.last_trace()


def _shape(trace):
    return [(s.agent, s.kind, s.parent, s.tool_name) for s in trace.steps]


def test_round_robin_steps_llm_and_tool_calls(span_exporter) -> None:
    provider, exporter = span_exporter
    result, tr = _record(S.round_robin(), provider)
    assert tr is agentracer.last_trace()
    assert tr.framework == "autogen" and tr.task == S.TASK
    assert tr.agents == ["planner", "coder", "reviewer"]
    assert _shape(tr) == [
        ("planner", "agent_message", None, None),
        ("planner", "llm_call", 0, None),
        ("coder", "agent_message", None, None),
        ("coder", "llm_call", 2, None),  # the tool call request
        ("coder", "tool_call", 2, "add"),
        ("coder", "llm_call", 2, None),  # reflection on the tool result
        ("reviewer", "agent_message", None, None),
        ("reviewer", "llm_call", 6, None),
    ]
    assert [s.content for s in tr.agent_steps()] == [
        "PLAN: use the multiply tool on 17 and 3.",
        "The result is 20.",
        "Looks right. FINAL ANSWER: 20",
    ]
    assert tr.steps[4].tool_args == {"a": 17, "b": 3} and tr.steps[4].tool_result == "20"
    assert "add" in tr.steps[3].content and tr.steps[3].replay["response"]["content"][0]["name"] == "add"
    llm = tr.steps[1]
    assert llm.metadata["model"] == "ReplayChatCompletionClient" and llm.usage["input_tokens"] > 0
    assert [m["role"] for m in llm.metadata["messages"]] == ["system", "user"]
    assert tr.steps[2].usage["output_tokens"] == tr.steps[3].usage["output_tokens"] + tr.steps[5].usage["output_tokens"]
    assert tr.final_answer == "Looks right. FINAL ANSWER: 20" == result.messages[-1].content
    assert tr.metadata["stop_reason"] == result.stop_reason
    assert tr.steps[2].metadata["message_id"] == result.messages[4].id
    assert Trace.from_json(tr.to_json()) == tr  # everything recorded (replay payloads included) is JSON

    spans = {s.name: s for s in exporter.get_finished_spans()}
    names = Counter(s.name for s in exporter.get_finished_spans())
    assert names == Counter(
        {
            "invoke_workflow autogen": 1,
            "invoke_agent planner": 1,
            "invoke_agent coder": 1,
            "invoke_agent reviewer": 1,
            "chat ReplayChatCompletionClient": 4,
            "execute_tool add": 1,
        }
    )
    root, coder, tool = spans["invoke_workflow autogen"], spans["invoke_agent coder"], spans["execute_tool add"]
    assert coder.parent.span_id == root.context.span_id and tool.parent.span_id == coder.context.span_id
    assert coder.attributes["agentracer.step.index"] == 2 and coder.attributes["graph.node.parent_id"] == "planner"


def test_selector_records_the_managers_picks() -> None:
    _, tr = _record(S.selector())
    mgr = "SelectorGroupChatManager"
    assert [(s.agent, s.kind, s.content) for s in tr.agent_steps()] == [
        (mgr, "handoff", "planner"),
        ("planner", "agent_message", "PLAN: multiply."),
        (mgr, "handoff", "coder"),
        ("coder", "agent_message", "17 * 3 = 41"),
        (mgr, "handoff", "reviewer"),
        ("reviewer", "agent_message", "FINAL ANSWER: 41"),
    ]
    picks = [s for s in tr.steps if s.kind == "llm_call" and s.agent == mgr]
    assert len(picks) == 3 and all(tr.steps[s.parent].agent == mgr for s in picks)
    assert tr.agents[:3] == ["planner", "coder", "reviewer"] and mgr in tr.agents


def test_swarm_records_handoffs() -> None:
    _, tr = _record(S.swarm())
    assert [(s.agent, s.kind) for s in tr.agent_steps()] == [
        ("triage", "handoff"),
        ("solver", "agent_message"),
        ("solver", "agent_message"),
    ]
    handoff = tr.agent_steps()[0]
    assert handoff.metadata["handoff_target"] == "solver"
    tool = next(s for s in tr.steps if s.kind == "tool_call")
    assert tool.tool_name == "transfer_to_solver" and tool.parent == handoff.index
    assert tr.final_answer == "FINAL ANSWER: 41. TERMINATE"


def test_magentic_one_records_the_orchestrator() -> None:
    _, tr = _record(S.magentic_one())
    orch = "MagenticOneOrchestrator"
    steps = tr.agent_steps()
    assert [s.agent for s in steps] == [orch, orch, "coder", orch]
    assert "PLAN: ask the coder to multiply." in steps[0].content  # the task ledger
    assert steps[1].content == "Multiply 17 by 3." and steps[3].content == "FINAL ANSWER: 41"
    n_llm = Counter(tr.steps[s.parent].index for s in tr.steps if s.kind == "llm_call")
    assert [n_llm[s.index] for s in steps] == [2, 1, 1, 2]  # facts+plan, ledger, coder, ledger+final
    assert tr.final_answer == "FINAL ANSWER: 41"


def test_single_assistant_agent_and_run_stream() -> None:
    agent = S.AssistantAgent("solo", model_client=S.client("41", "42"))
    rec = Recorder()
    agentracer.instrument(agent, recorder=rec)
    asyncio.run(agent.run(task="17*3?"))
    tr = rec.last_trace()
    assert [(s.agent, s.kind, s.content) for s in tr.steps[:1]] == [("solo", "agent_message", "41")]
    assert tr.task == "17*3?" and tr.final_answer == "41" and len(tr.steps) == 2

    async def stream():
        return [m async for m in agent.run_stream(task="again?")]

    out = asyncio.run(stream())
    tr2 = rec.last_trace()
    assert tr2 is not tr and tr2.final_answer == "42" and out[-1].messages[-1].content == "42"


def test_each_team_run_is_one_trace() -> None:
    team = S.round_robin(planner=("p1", "p2"), coder=("c1", "c2"), reviewer=("r1", "r2"), max_turns=3)
    rec = Recorder()
    agentracer.instrument(team, recorder=rec)

    async def both():  # one event loop: an AutoGen team is bound to the loop it first ran in
        await team.run(task="first task")
        return [m async for m in team.run_stream(task="second task")]

    asyncio.run(both())
    first, second = list(rec.traces)
    assert (first.task, second.task) == ("first task", "second task")
    assert [s.content for s in first.agent_steps()] == ["p1", "c1", "r1"]
    assert [s.content for s in second.agent_steps()] == ["p2", "c2", "r2"]
    assert first.run_id != second.run_id


def test_no_duplicate_spans_when_autogen_shares_our_provider(monkeypatch) -> None:
    """AutoGen emits invoke_agent / execute_tool on the global provider: we adopt those spans, never add ours."""
    from opentelemetry import trace as otel
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(otel, "_TRACER_PROVIDER", provider)  # the global provider, for this test only
    team = S.round_robin()
    rec = Recorder()  # default: the global provider, the one AutoGen uses
    agentracer.instrument(team, recorder=rec)
    _run(team)
    tr = rec.last_trace()
    spans = exporter.get_finished_spans()
    agent_spans = [s for s in spans if s.name.startswith("invoke_agent ")]
    assert sorted(s.name for s in agent_spans) == ["invoke_agent coder", "invoke_agent planner", "invoke_agent reviewer"]
    assert {s.instrumentation_scope.name for s in agent_spans} == {"autogen-core"}  # AutoGen's own, adopted
    assert sorted(s.attributes["agentracer.step.index"] for s in agent_spans) == [s.index for s in tr.agent_steps()]
    tools = [s for s in spans if s.name.startswith("execute_tool ")]
    assert len(tools) == 1 and tools[0].attributes["agentracer.step.index"] == 4
    chats = [s for s in spans if s.name.startswith("chat ")]
    by_id = {s.context.span_id: s for s in spans}
    assert len(chats) == 4 and all(by_id[c.parent.span_id].name.startswith("invoke_agent ") for c in chats)
    root = next(s for s in spans if s.name == "invoke_workflow autogen")
    assert {s.context.trace_id for s in spans if not s.name.startswith("create_agent")} == {root.context.trace_id}


def test_own_provider_gets_a_complete_set_once(span_exporter, monkeypatch) -> None:
    """With a provider of its own, the recorder emits each span once there; AutoGen's go to the global one."""
    from opentelemetry import trace as otel
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider, exporter = span_exporter
    global_exporter = InMemorySpanExporter()
    global_provider = TracerProvider()
    global_provider.add_span_processor(SimpleSpanProcessor(global_exporter))
    monkeypatch.setattr(otel, "_TRACER_PROVIDER", global_provider)
    _record(S.round_robin(), provider)
    ours = Counter(s.name for s in exporter.get_finished_spans() if s.name.startswith(("invoke_agent", "execute_tool")))
    assert ours == Counter({"invoke_agent planner": 1, "invoke_agent coder": 1, "invoke_agent reviewer": 1, "execute_tool add": 1})
    theirs = [s for s in global_exporter.get_finished_spans() if s.name.startswith("invoke_agent")]
    assert len(theirs) == 3 and all("agentracer.step.index" not in s.attributes for s in theirs)


def test_instrument_twice_records_once() -> None:
    team = S.round_robin()
    r1, r2 = Recorder(), Recorder()
    agentracer.instrument(team, recorder=r1)
    agentracer.instrument(team, recorder=r2)
    _run(team)
    assert r1.last_trace() is None
    assert len(r2.last_trace().agent_steps()) == 3 and len(r2.last_trace().steps) == 8


def test_plugin_is_listed() -> None:
    from agentracer.hooks import list_plugins

    info = next(p for p in list_plugins() if p["name"] == "autogen")
    assert info["framework"] == "AutoGen AgentChat" and info["distribution"] == "autogen-agentchat"
    assert info["installed"] and info["version"].startswith("0.7")


def test_streaming_clients_record_and_replay() -> None:
    from autogen_agentchat.teams import RoundRobinGroupChat

    def team(a_says, b_says):
        return RoundRobinGroupChat(
            [
                S.AssistantAgent("a", model_client=S.client(*a_says), model_client_stream=True),
                S.AssistantAgent("b", model_client=S.client(*b_says), model_client_stream=True),
            ],
            max_turns=2,
        )

    rec = Recorder()
    t = agentracer.instrument(team(["A says 41"], ["B agrees"]), recorder=rec)

    async def stream():
        return [m async for m in t.run_stream(task="t")]

    out = asyncio.run(stream())
    assert any(type(m).__name__ == "ModelClientStreamingChunkEvent" for m in out)
    tr = rec.last_trace()
    assert [(s.agent, s.kind, s.content) for s in tr.steps] == [
        ("a", "agent_message", "A says 41"),
        ("a", "llm_call", "A says 41"),
        ("b", "agent_message", "B agrees"),
        ("b", "llm_call", "B agrees"),
    ]
    _, forked = agentracer.fork(lambda: team([], ["B disagrees"]), tr, 0, "A says 51")()
    assert forked.metadata["fork"]["prefix_live"] == 0
    assert [s.content for s in forked.agent_steps()] == ["A says 51", "B disagrees"]


def test_leaving_run_stream_early_keeps_one_run() -> None:
    team = S.round_robin()
    rec = Recorder()
    agentracer.instrument(team, recorder=rec)

    async def leave_early():
        gen = team.run_stream(task=S.TASK)
        async for m in gen:
            if getattr(m, "source", "") == "planner":
                break
        await gen.aclose()  # AutoGen lets the turns in flight finish while it closes

    asyncio.run(leave_early())
    assert len(rec.traces) == 1  # those turns stay in the same run
    assert [s.agent for s in rec.last_trace().agent_steps()] == ["planner", "coder", "reviewer"]
    assert rec.errors == 0
