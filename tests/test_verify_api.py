"""``agentracer.verify``: one call that attributes a failed LangGraph run and checks the blame by fork replay.

The agents are LangGraph nodes over scripted fake chat models (only the LLM is faked); the solver writes the
wrong product. A Python-function oracle answers correctly at any step.
"""

from __future__ import annotations

import re

import agentracer
import pytest
from agentracer.trace import Attribution, Trace
from agentracer_langgraph.fakes import scripted
from agentracer_langgraph.sample_graphs import pipeline_graph
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

TASK = "What is 12 * 7?"


def _last_number(messages) -> str:
    for m in reversed(messages):
        if m.type == "ai":
            found = re.findall(r"-?\d+", str(m.content))
            if found:
                return found[-1]
    return "?"


def _run():
    models = {
        "planner": scripted(respond=lambda m: "Multiply 12 by 7.", model="fake-planner"),
        "solver": scripted(respond=lambda m: "12 * 7 = 85", model="fake-solver"),
        "reporter": scripted(respond=lambda m: f"Final answer: {_last_number(m)}", model="fake-reporter"),
    }
    graph = agentracer.instrument(pipeline_graph(models, checkpointer=InMemorySaver()))
    result = graph.invoke({"messages": [HumanMessage(TASK)]}, {"configurable": {"thread_id": "t1"}})
    trace = agentracer.last_trace()
    trace.final_answer = result["messages"][-1].content
    trace.ground_truth = "84"
    trace.outcome = "success" if "84" in trace.final_answer else "failure"
    return graph, trace


def checker(result, new_trace: Trace | None) -> bool:
    return "84" in str(result["messages"][-1].content)


def oracle(trace: Trace, step: int, ground_truth: str | None) -> str:
    """Right at the planner's and the solver's turns; the reporter can only repeat what the solver said."""
    agent = trace.steps[step].agent
    if agent == "reporter":
        said = " ".join(s.content for s in trace.agent_steps() if s.index < step and s.agent == "solver")
        numbers = re.findall(r"-?\d+", said)
        return f"Final answer: {numbers[-1] if numbers else '?'}"
    return {"planner": "Multiply 12 by 7.", "solver": "12 * 7 = 84"}[agent]


def _step_of(trace: Trace, agent: str) -> int:
    return next(s.index for s in trace.agent_steps() if s.agent == agent)


def test_verify_confirms_the_decisive_step() -> None:
    graph, trace = _run()
    assert trace.outcome == "failure"
    k = _step_of(trace, "solver")
    att = agentracer.verify(graph, trace, checker, oracle=oracle, attribution=Attribution(agent="solver", step=k))
    assert att.metadata["verification"]["status"] == "confirmed"
    assert att.metadata["verified"] is True


def test_verify_refutes_a_wrong_blame_and_names_the_decisive_step() -> None:
    graph, trace = _run()
    att = agentracer.verify(graph, trace, checker, oracle=oracle,
                            attribution=Attribution(agent="planner", step=_step_of(trace, "planner")))
    v = att.metadata["verification"]
    assert v["status"] == "refuted" and att.metadata["verified"] is False
    assert v["decisive_step"] == _step_of(trace, "solver") and v["decisive_agent"] == "solver"


def test_verify_attributes_when_no_attribution_is_given() -> None:
    graph, trace = _run()
    att = agentracer.verify(graph, trace, checker, oracle=oracle, method="first-speaker")
    assert att.agent == "planner"
    assert att.metadata["verification"]["status"] in ("refuted", "confirmed")


def test_verify_rejects_a_bad_oracle() -> None:
    graph, trace = _run()
    with pytest.raises(TypeError, match="oracle must be"):
        agentracer.verify(graph, trace, checker, oracle=42)
