"""CAMEL plugin: Workforce (OWL's newer entry point) — readable worker names, order, fork, feedback."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("camel")

import agentracer  # noqa: E402
import agentracer_camel  # noqa: E402
from agentracer_camel.testing import CALC_DESCRIPTION, WEB_DESCRIPTION, research_workforce  # noqa: E402

WEB = "A helpful assistant that can search the web"
CALC = "A helpful assistant that specializes in reasoning and arithmetic"
ORDER = ["Task Planner", "Workforce Manager", WEB, "Task Planner", CALC, "Task Planner"]


def _run(wf):
    from camel.tasks import Task

    return wf.process_task(Task(content="What is half the population of Paris?", id="0"))


def test_workforce_names_order_and_tasks(span_exporter) -> None:
    provider, exporter = span_exporter
    wf, models = research_workforce()
    agentracer.instrument(wf, tracer_provider=provider)
    result = _run(wf)
    assert "1.55 million" in result.result
    tr = agentracer.last_trace()
    assert [s.agent for s in tr.agent_steps()] == ORDER
    assert all(s.kind == "llm_call" and tr.steps[s.parent].agent == s.agent for s in tr.steps if s.parent is not None)
    assert tr.outcome == "success" and tr.task == "What is half the population of Paris?"
    # worker uuids never show up as agent names; they are kept as ids
    uuids = {c.node_id for c in wf._children}
    assert not uuids & set(tr.agents)
    web_step = next(s for s in tr.agent_steps() if s.agent == WEB)
    assert web_step.metadata["task_id"] == "0.1" and web_step.metadata["worker_id"] in uuids
    meta = tr.metadata["camel"]
    assert meta["kind"] == "workforce" and set(meta["workers"].values()) == {WEB, CALC}
    assert meta["tasks"]["0.1"]["worker"] == WEB and meta["tasks"]["0.2"]["dependencies"] == ["0.1"]
    assert meta["tasks"]["0.1"]["result"] == "Paris has 3.1 million inhabitants."
    spans = exporter.get_finished_spans()
    agent_spans = {s.context.span_id: s for s in spans if s.name.startswith("invoke_agent")}
    root = next(s for s in spans if s.name == "invoke_workflow camel")
    assert all(s.parent.span_id == root.context.span_id for s in agent_spans.values())
    chats = [s for s in spans if s.name.startswith("chat ")]
    assert len(chats) == 6 and all(c.parent.span_id in agent_spans for c in chats)
    assert sorted(agentracer_camel.agent_names(wf)) == sorted({WEB, CALC, "Task Planner", "Workforce Manager"})


def test_worker_names_can_be_given() -> None:
    wf, _ = research_workforce()
    agentracer_camel.instrument(wf, names={WEB_DESCRIPTION: "Web Agent", CALC_DESCRIPTION: "Reasoning Agent"})
    _run(wf)
    tr = agentracer.last_trace()
    assert [s.agent for s in tr.agent_steps()] == [
        "Task Planner", "Workforce Manager", "Web Agent", "Task Planner", "Reasoning Agent", "Task Planner"]


def test_workforce_fork_serves_the_prefix() -> None:
    wf, models = research_workforce()
    agentracer.instrument(wf)
    _run(wf)
    tr = agentracer.last_trace()
    k = next(s.index for s in tr.agent_steps() if s.agent == WEB)
    before = {n: len(m.calls) for n, m in models.items()}
    fixed = json.dumps({"content": "Paris has 2.1 million inhabitants.", "failed": False})
    result, new = agentracer.fork(wf, tr, k, fixed)()
    assert "1.05 million" in result.result and new.run_id != tr.run_id
    delta = {n: len(m.calls) - before[n] for n, m in models.items()}
    # decomposition and assignment were served from the recording; the web worker's step was replaced;
    # the quality checks after k and the calculator ran again
    assert delta == {"planner": 2, "coordinator": 0, "web": 0, "calc": 1}
    assert [s.agent for s in new.agent_steps()] == ORDER
    assert [s.content for s in new.steps[:k]] == [s.content for s in tr.steps[:k]]
    assert new.steps[k].content == fixed and new.metadata["camel"]["fork"]["served"] == 2


def test_workforce_feedback_reaches_only_the_target_worker() -> None:
    wf, models = research_workforce()
    agentracer.instrument(wf)
    _run(wf)
    text = "FEEDBACK: Paris has about 2.1 million inhabitants; cite a source."
    agentracer.inject_feedback(wf, WEB, text)
    before = {n: len(m.calls) for n, m in models.items()}
    _run(wf)
    for name, model in models.items():
        new_prompts = model.prompts()[before[name]:]
        assert new_prompts, name
        assert all((text in p) == (name == "web") for p in new_prompts), name
