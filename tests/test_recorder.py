"""Recorder: spans and Steps side by side, safety, context propagation, record/replay."""

from __future__ import annotations

import asyncio
import threading

from agentracer import Recorder, ReplayLLM, last_trace


def _spans(exporter):
    return {s.name: s for s in exporter.get_finished_spans()}


def test_spans_and_steps(span_exporter) -> None:
    provider, exporter = span_exporter
    rec = Recorder(tracer_provider=provider, capture_content=True, framework="test")
    with rec.run("task: 2+2", run_id="run-1"):
        with rec.step("planner", input="2+2") as h:
            llm = rec.begin_llm("fake-model", messages=[{"role": "user", "content": "2+2"}])
            llm.end("add them", usage={"input_tokens": 5, "output_tokens": 2})
            h.set(content="add them")
        with rec.step("solver"):
            t = rec.begin_tool("calc", args={"a": 2, "b": 2}, call_id="c1")
            t.end(4)
    tr = last_trace()
    assert tr is rec.last_trace()
    assert [(s.index, s.agent, s.kind, s.parent) for s in tr.steps] == [
        (0, "planner", "agent_message", None),
        (1, "planner", "llm_call", 0),
        (2, "solver", "agent_message", None),
        (3, "solver", "tool_call", 2),
    ]
    assert tr.steps[3].tool_result == 4 and tr.steps[1].usage == {"input_tokens": 5, "output_tokens": 2}
    sp = _spans(exporter)
    root = sp["invoke_workflow test"]
    planner, chat, solver, tool = sp["invoke_agent planner"], sp["chat fake-model"], sp["invoke_agent solver"], sp["execute_tool calc"]
    assert planner.parent.span_id == root.context.span_id
    assert chat.parent.span_id == planner.context.span_id
    assert tool.parent.span_id == solver.context.span_id
    assert planner.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert planner.attributes["gen_ai.agent.name"] == "planner"
    assert planner.attributes["openinference.span.kind"] == "AGENT"
    assert planner.attributes["agentracer.step.index"] == 0
    assert planner.attributes["gen_ai.conversation.id"] == "run-1"
    assert solver.attributes["graph.node.parent_id"] == "planner"
    assert chat.attributes["gen_ai.usage.input_tokens"] == 5
    assert tool.attributes["gen_ai.tool.call.id"] == "c1"


def test_content_capture_off_by_default(span_exporter, monkeypatch) -> None:
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    provider, exporter = span_exporter
    rec = Recorder(tracer_provider=provider)
    with rec.run("secret task"), rec.step("a", input="hello") as h:
        h.set(content="world")
    for s in exporter.get_finished_spans():
        assert "input.value" not in s.attributes and "output.value" not in s.attributes
    assert rec.last_trace().steps[0].content == "world"


def test_recorder_errors_never_reach_host(span_exporter, monkeypatch) -> None:
    provider, _ = span_exporter
    rec = Recorder(tracer_provider=provider)

    def boom(*a, **k):
        raise RuntimeError("recorder bug")

    monkeypatch.setattr(rec, "_begin_step", boom)
    monkeypatch.setattr(rec, "_end_step", boom)
    with rec.run("t"):
        h = rec.begin_step("a")
        h.end("x")
        with rec.step("b") as h2:
            h2.set(content="y")
    assert rec.errors >= 2


def test_threads_and_tasks_do_not_mix(span_exporter) -> None:
    provider, _ = span_exporter
    rec = Recorder(tracer_provider=provider)
    barrier = threading.Barrier(2)
    out = {}

    def worker(name: str) -> None:
        with rec.run(name) as run:
            for i in range(20):
                if i == 5:
                    barrier.wait()
                with rec.step(f"{name}-agent") as h:
                    rec.begin_llm("m", messages=[name, i]).end(f"{name}{i}")
                    h.set(content=str(i))
            out[name] = run.trace

    ts = [threading.Thread(target=worker, args=(n,)) for n in ("A", "B")]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for n in ("A", "B"):
        assert {s.agent for s in out[n].steps} == {f"{n}-agent"}
        assert len(out[n].steps) == 40

    async def task(name: str):
        with rec.run(name) as run:
            for i in range(10):
                with rec.step(name):
                    await asyncio.sleep(0)
                    rec.begin_llm("m", messages=[i]).end("x")
            return run.trace

    async def main():
        return await asyncio.gather(task("X"), task("Y"))

    tx, ty = asyncio.run(main())
    assert {s.agent for s in tx.steps} == {"X"} and {s.agent for s in ty.steps} == {"Y"}
    assert all(s.parent is None or tx.steps[s.parent].agent == "X" for s in tx.steps)


def test_replay_layer_serves_prefix_only(span_exporter) -> None:
    provider, _ = span_exporter
    rec = Recorder(tracer_provider=provider)
    with rec.run("t"):
        for agent in ("a", "b", "c"):
            with rec.step(agent):
                rec.begin_llm("m", messages=[agent]).end(f"out-{agent}", response={"text": f"out-{agent}"})
    tr = rec.last_trace()
    replay = ReplayLLM.from_trace(tr, upto_step=tr.agent_steps()[2].index)  # fork at c
    rec2 = Recorder(tracer_provider=provider, replay=replay)
    served = []
    with rec2.run("t"):
        for agent in ("a", "b", "c"):
            with rec2.step(agent):
                h = rec2.begin_llm("m", messages=[agent])
                served.append(h.replayed["text"] if h.replayed else None)
                h.end("fresh" if h.replayed is None else h.replayed["text"])
    assert served == ["out-a", "out-b", None]
    assert replay.served == 2 and replay.missed == 1
