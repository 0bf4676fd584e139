"""Instrumentation never changes the graph's behaviour, even when our own code raises; clear errors otherwise."""

from __future__ import annotations

import asyncio
import logging

import pytest

pytest.importorskip("langgraph")

import agentracer  # noqa: E402
from agentracer import Recorder  # noqa: E402
from agentracer_langgraph import AgentracerCallbackHandler, instrument_graph, uninstrument_graph  # noqa: E402
from agentracer_langgraph.demo import build_demo_graph, demo_input  # noqa: E402
from agentracer_langgraph.fakes import scripted  # noqa: E402
from agentracer_langgraph.sample_graphs import supervisor_graph  # noqa: E402
from langchain_core.messages import HumanMessage  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402


def _norm(result: dict) -> dict:
    out = {}
    for k, v in result.items():
        if k == "messages":
            out[k] = [(m.type, m.content, m.name, [(c["name"], c["args"]) for c in getattr(m, "tool_calls", [])]) for m in v]
        else:
            out[k] = v
    return out


def _run(instrument=None, *, asyncio_=False) -> dict:
    graph, models = build_demo_graph(checkpointer=InMemorySaver())
    if instrument is not None:
        instrument(graph)
    cfg = {"configurable": {"thread_id": "same"}}
    result = asyncio.run(graph.ainvoke(demo_input(), cfg)) if asyncio_ else graph.invoke(demo_input(), cfg)
    return {"result": _norm(result), "prompts": {k: m.prompts for k, m in models.items()}}


def _raising_recorder(monkeypatch, names) -> Recorder:
    rec = Recorder()

    def boom(*a, **k):
        raise RuntimeError("recorder bug")

    for name in names:
        monkeypatch.setattr(rec, name, boom)
    return rec


ALL = ("_start_run", "_begin_step", "_begin_llm", "_begin_tool", "_end_step", "_end_run")
INNER = ("_begin_llm", "_begin_tool", "_end_step")  # the run and its steps open, then recording fails


@pytest.mark.parametrize(("asyncio_", "failing"), [(False, ALL), (False, INNER), (True, ALL), (True, INNER)])
def test_result_identical_with_and_without_instrumentation(monkeypatch, caplog, asyncio_, failing) -> None:
    plain = _run(asyncio_=asyncio_)
    recorded = _run(lambda g: agentracer.instrument(g, capture_content=True), asyncio_=asyncio_)
    assert recorded == plain
    rec = _raising_recorder(monkeypatch, failing)
    with caplog.at_level(logging.ERROR, logger="agentracer"):
        broken = _run(lambda g: agentracer.instrument(g, recorder=rec), asyncio_=asyncio_)
    assert broken == plain
    assert rec.errors >= 1 and "recorder bug" in caplog.text


def test_handler_errors_are_logged_not_raised(monkeypatch, caplog) -> None:
    plain = _run()

    def boom(self, *a, **k):
        raise KeyError("handler bug")

    for name in ("_start_root", "_start_llm", "_end_chain"):
        monkeypatch.setattr(AgentracerCallbackHandler, name, boom)
    seen = []

    def inst(g):
        agentracer.instrument(g)
        seen.append(g)

    with caplog.at_level(logging.ERROR, logger="agentracer.langgraph"):
        broken = _run(inst)
    assert broken == plain
    from agentracer_langgraph import handler_of

    assert handler_of(seen[0]).errors >= 3 and "handler bug" in caplog.text


def test_a_failing_sink_does_not_break_the_run() -> None:
    class BadSink:
        def on_run_start(self, trace):
            raise OSError("disk full")

        def on_step(self, trace, step):
            raise OSError("disk full")

        def on_run_end(self, trace):
            raise OSError("disk full")

    plain = _run()
    assert _run(lambda g: agentracer.instrument(g, sink=BadSink())) == plain
    assert len(agentracer.last_trace().steps) == 8


def test_graph_errors_propagate_unchanged_and_are_recorded() -> None:
    sup = scripted(["math"])
    math = scripted([])  # the script is empty: the worker's model raises
    g = supervisor_graph(sup, {"math": math})
    agentracer.instrument(g)
    with pytest.raises(RuntimeError, match="script exhausted"):
        g.invoke({"messages": [HumanMessage("hi")]})
    tr = agentracer.last_trace()
    assert "script exhausted" in tr.metadata["error"]
    assert [s.agent for s in tr.agent_steps()] == ["supervisor", "math"]
    assert "error" in tr.agent_steps()[1].metadata


def test_instrument_twice_and_uninstrument() -> None:
    graph, _ = build_demo_graph({"planner": ["p"] * 3, "solver": ["ANSWER: 1"] * 3, "verifier": ["VERDICT: APPROVE"] * 3})
    rec = Recorder()
    agentracer.instrument(graph, recorder=rec)
    agentracer.instrument(graph, recorder=rec)
    graph.invoke(demo_input())
    assert len(rec.traces) == 1
    other = Recorder()
    instrument_graph(graph, other)  # replaces the handler
    graph.invoke(demo_input())
    assert len(rec.traces) == 1 and len(other.traces) == 1
    uninstrument_graph(graph)
    graph.invoke(demo_input())
    assert len(other.traces) == 1 and not graph.config


def test_unknown_system_lists_installed_plugins() -> None:
    with pytest.raises(TypeError) as e:
        agentracer.instrument(object())
    msg = str(e.value)
    assert "builtins.object" in msg and "langgraph (LangGraph)" in msg


def test_plugin_info() -> None:
    from agentracer.hooks import list_plugins

    info = {p["name"]: p for p in list_plugins()}["langgraph"]
    assert info["framework"] == "LangGraph" and info["distribution"] == "langgraph"
    assert info["installed"] and info["version"]
    import agentracer_langgraph.plugin as plugin

    assert plugin.agentracer_plugin_info() == {"name": "langgraph", "framework": "LangGraph", "distribution": "langgraph"}
    assert plugin.agentracer_wrap(system=object(), recorder=Recorder()) is None
