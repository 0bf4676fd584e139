"""CAMEL plugin: a single ChatAgent — steps, LLM and tool children, the thread hop, async, pass-through."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("camel")

import agentracer  # noqa: E402
from agentracer.hooks import list_plugins  # noqa: E402
from agentracer_camel.session import session_of  # noqa: E402
from agentracer_camel.testing import ScriptedModel, multiply  # noqa: E402


def _agent(script, *, step_timeout=30.0, tools=None):
    from camel.agents import ChatAgent
    from camel.messages import BaseMessage

    model = ScriptedModel(script)
    sys_msg = BaseMessage.make_assistant_message(role_name="Calculator", content="You compute with tools.")
    return ChatAgent(sys_msg, model=model, tools=tools, step_timeout=step_timeout), model


def _tool_script(messages):
    if messages[-1]["role"] == "tool":
        return f"The product is {messages[-1]['content']}."
    return {"content": "", "tool_calls": [{"name": "multiply", "arguments": {"a": 6, "b": 7}, "id": "c1"}]}


def test_agent_step_llm_and_tool_children_across_the_thread(span_exporter) -> None:
    """step_timeout sends _step_impl to a thread; LLM/tool spans still nest under the agent step."""
    from camel.toolkits import FunctionTool
    from opentelemetry import trace as otel

    provider, exporter = span_exporter
    seen = []

    def script(messages):
        seen.append(otel.get_current_span().get_span_context().span_id)
        return _tool_script(messages)

    agent, model = _agent(script, tools=[FunctionTool(multiply)])
    assert agent.step_timeout == 30.0  # the thread path
    agentracer.instrument(agent, tracer_provider=provider)
    resp = agent.step("What is 6 * 7?")
    assert resp.msgs[0].content == "The product is 42."
    tr = agentracer.last_trace()
    assert [(s.index, s.agent, s.kind, s.parent) for s in tr.steps] == [
        (0, "Calculator", "agent_message", None),
        (1, "Calculator", "llm_call", 0),
        (2, "Calculator", "tool_call", 0),
        (3, "Calculator", "llm_call", 0),
    ]
    assert tr.framework == "camel" and tr.steps[0].content == "The product is 42."
    assert tr.steps[2].tool_name == "multiply" and tr.steps[2].tool_args == {"a": 6, "b": 7}
    assert tr.steps[2].tool_result == 42
    assert tr.steps[1].metadata["tool_calls"][0]["name"] == "multiply"
    assert tr.steps[0].usage == {"input_tokens": 20, "output_tokens": 10}
    spans = exporter.get_finished_spans()
    by_name = {s.name: s for s in spans}
    step_span = by_name["invoke_agent Calculator"]
    chats = [s for s in spans if s.name == "chat stub"]
    assert len(chats) == 2 and all(c.parent.span_id == step_span.context.span_id for c in chats)
    assert by_name["execute_tool multiply"].parent.span_id == step_span.context.span_id
    assert step_span.attributes["gen_ai.agent.id"] == agent.agent_id
    # inside the model call (in CAMEL's worker thread) the current OTel span is our chat span
    assert seen == [c.context.span_id for c in sorted(chats, key=lambda s: s.start_time)]


def test_async_astep_is_recorded(span_exporter) -> None:
    from camel.toolkits import FunctionTool

    provider, exporter = span_exporter
    agent, _ = _agent(_tool_script, tools=[FunctionTool(multiply)])
    agentracer.instrument(agent, tracer_provider=provider)
    resp = asyncio.run(agent.astep("What is 6 * 7?"))
    assert resp.msgs[0].content == "The product is 42."
    tr = agentracer.last_trace()
    assert [(s.kind, s.parent) for s in tr.steps] == [("agent_message", None), ("llm_call", 0), ("tool_call", 0),
                                                      ("llm_call", 0)]
    step_span = next(s for s in exporter.get_finished_spans() if s.name == "invoke_agent Calculator")
    assert all(s.parent.span_id == step_span.context.span_id for s in exporter.get_finished_spans()
               if s.name.startswith(("chat", "execute_tool")))


def test_uninstrumented_agents_pass_through_and_instrument_is_idempotent() -> None:
    other, other_model = _agent(lambda m: "plain")
    before = agentracer.last_trace()
    assert other.step("hi").msgs[0].content == "plain"
    assert agentracer.last_trace() is before  # nothing recorded for an agent nobody instrumented

    agent, _ = _agent(lambda m: "ok")
    rec = agentracer.Recorder()
    agentracer.instrument(agent, recorder=rec)
    agentracer.instrument(agent, recorder=rec)  # twice: still one step per call
    agent.step("a")
    assert [s.kind for s in rec.last_trace().steps] == ["agent_message", "llm_call"]
    with rec.run("two steps, one run"):  # a run the user opens is joined, not replaced
        agent.step("b")
        agent.step("c")
    assert [s.agent for s in rec.last_trace().agent_steps()] == ["Calculator", "Calculator"]

    import agentracer_camel

    agentracer_camel.uninstrument(agent)
    n = len(rec.traces)
    agent.step("d")
    assert len(rec.traces) == n and session_of(agent) is None


def test_host_errors_propagate_unchanged() -> None:
    def boom(messages):
        raise ValueError("model down")

    agent, _ = _agent(boom, step_timeout=None)
    agentracer.instrument(agent)
    with pytest.raises(ValueError, match="model down"):
        agent.step("x")
    tr = agentracer.last_trace()
    assert "ValueError" in tr.steps[0].metadata["error"] and "model down" in tr.steps[1].metadata["error"]


def test_plugin_is_listed() -> None:
    info = {p["name"]: p for p in list_plugins()}["camel"]
    assert info["framework"] == "CAMEL / OWL" and info["distribution"] == "camel-ai"
    assert info["installed"] is True and info["version"] == "0.2.90"


def test_step_thread_keeps_the_callers_run() -> None:
    """Two user threads, each with its own run, step agents whose _step_impl hops to CAMEL's thread pool."""
    import threading

    rec = agentracer.Recorder()
    agents = {}
    for name in ("A", "B"):
        agents[name], _ = _agent(lambda m, name=name: f"answer {name}")
        agentracer.instrument(agents[name], recorder=rec)
    barrier = threading.Barrier(2)
    out = {}

    def work(name: str) -> None:
        with rec.run(f"task {name}") as run:
            barrier.wait()
            for i in range(3):
                agents[name].step(f"{name}{i}")
                barrier.wait()
            out[name] = run.trace

    threads = [threading.Thread(target=work, args=(n,)) for n in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name in ("A", "B"):
        assert [s.content for s in out[name].agent_steps()] == [f"answer {name}"] * 3
        assert [s.metadata["input"] for s in out[name].agent_steps()] == [f"{name}{i}" for i in range(3)]


def test_helper_agents_inside_a_tool_are_not_separate_steps() -> None:
    """A toolkit that runs its own ChatAgent (like OWL's browser toolkit) stays inside the tool call."""
    from camel.toolkits import FunctionTool

    helper, helper_model = _agent(lambda m: "helper says 7", step_timeout=None)

    def lookup(query: str) -> str:
        """Look something up with a helper agent.

        Args:
            query (str): What to look up.

        Returns:
            str: The helper's answer.
        """
        return helper.step(query).msgs[0].content

    def script(messages):
        if messages[-1]["role"] == "tool":
            return f"Found: {messages[-1]['content']}"
        return {"content": "", "tool_calls": [{"name": "lookup", "arguments": {"query": "seven"}, "id": "q"}]}

    agent, _ = _agent(script, tools=[FunctionTool(lookup)])
    agentracer.instrument(agent)
    assert agent.step("find seven").msgs[0].content == "Found: helper says 7"
    tr = agentracer.last_trace()
    assert [(s.kind, s.parent) for s in tr.steps] == [("agent_message", None), ("llm_call", 0), ("tool_call", 0),
                                                      ("llm_call", 0)]
    assert tr.steps[2].tool_result == "helper says 7" and len(helper_model.calls) == 1
