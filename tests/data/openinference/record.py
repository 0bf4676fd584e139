"""Record the OpenInference fixtures in this folder with the REAL instrumentors on fake LLMs.

Run from the repository root (offline; needs the ``openinference`` extra and ``langgraph-supervisor``)::

    python tests/data/openinference/record.py

Each run is traced by ``openinference-instrumentation-langchain`` or ``-autogen-agentchat`` through a global
TracerProvider (as a user's app would set it up, so AutoGen's own runtime spans are exported too) and written
as OTLP/JSON ``<name>.json``. The ``<name>.truth.json`` files beside them were written by hand from what each
run did (the scripts below); they are not generated.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path[:0] = [str(ROOT / "agentracer_core"), str(ROOT / "integrations"), str(ROOT / "tests")]

from agentracer.formats.otlp_json import spans_to_otlp_json  # noqa: E402

EXPORTER = InMemorySpanExporter()
PROVIDER = TracerProvider()
PROVIDER.add_span_processor(SimpleSpanProcessor(EXPORTER))
otel_trace.set_tracer_provider(PROVIDER)


def _save(name: str) -> None:
    spans = EXPORTER.get_finished_spans()
    (HERE / f"{name}.json").write_text(json.dumps(spans_to_otlp_json(spans), sort_keys=True) + "\n")
    print(f"{name}.json: {len(spans)} spans")
    EXPORTER.clear()


# ------------------------------------------------------------------------------------------- LangGraph
def langgraph_runs() -> None:
    from agentracer_langgraph.fakes import scripted
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.tools import tool
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import create_react_agent
    from langgraph_supervisor import create_supervisor
    from openinference.instrumentation.langchain import LangChainInstrumentor

    inst = LangChainInstrumentor()
    inst.instrument(tracer_provider=PROVIDER)

    def call(name: str, args: dict, cid: str) -> AIMessage:
        return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": cid}])

    @tool
    def population(city: str) -> int:
        """Population of a city in thousands (a lookup table with a wrong entry for Lyon)."""
        return {"Paris": 2103, "Lyon": 222}.get(city, 0)  # Lyon is really 522: the fault

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    # 1. supervisor with handoffs: researcher looks up (wrong value), math adds, supervisor answers.
    researcher = create_react_agent(
        scripted([call("population", {"city": "Lyon"}, "r1"), "Lyon has 222 thousand inhabitants."]),
        tools=[population], name="researcher", prompt="You look up facts.",
    )
    math = create_react_agent(
        scripted([call("add", {"a": 2103, "b": 222}, "m1"), "2103 + 222 = 2325"]),
        tools=[add], name="math", prompt="You add numbers.",
    )
    sup = create_supervisor(
        [researcher, math],
        model=scripted([
            call("transfer_to_researcher", {}, "s1"),
            call("transfer_to_math", {}, "s2"),
            "Paris and Lyon together have 2325 thousand inhabitants.",
        ]),
        prompt="You route work to researcher and math.",
    ).compile(name="supervisor")
    sup.invoke({"messages": [HumanMessage("Paris has 2103 thousand inhabitants. How many do Paris and Lyon have together?")]})
    _save("lg_supervisor")

    # 2. plan-solve-verify pipeline: the solver slips (20*20 - 1 = 389, not 399) and the verifier passes it.
    planner = scripted(["Plan: multiply 19 by 21 (compute 20*20 - 1)."])
    solver = scripted(["20*20 = 400, 400 - 1 = 389"])
    verifier = scripted(["Verified: the solver's steps hold. Final answer: 389"])

    def node(model):
        def run(state: MessagesState) -> dict:
            return {"messages": [model.invoke(state["messages"])]}
        return run

    g = StateGraph(MessagesState)
    for n, m in (("planner", planner), ("solver", solver), ("verifier", verifier)):
        g.add_node(n, node(m))
    g.add_edge(START, "planner")
    g.add_edge("planner", "solver")
    g.add_edge("solver", "verifier")
    g.add_edge("verifier", END)
    g.compile().invoke({"messages": [HumanMessage("What is 19 * 21?")]})
    _save("lg_plan_solve_verify")

    # 3. ReAct tool agent: the agent calls add with a wrong operand, then answers.
    react = create_react_agent(
        scripted([call("add", {"a": 17, "b": 35}, "t1"), "17 + 25 = 52"]), tools=[add], name="calculator",
    )
    react.invoke({"messages": [HumanMessage("What is 17 + 25?")]})
    _save("lg_react")
    inst.uninstrument()


# --------------------------------------------------------------------------------------------- AutoGen
def autogen_runs() -> None:
    import _autogen_systems as S
    from openinference.instrumentation.autogen_agentchat import AutogenAgentChatInstrumentor

    inst = AutogenAgentChatInstrumentor()
    inst.instrument(tracer_provider=PROVIDER)
    for name, build in (("ag_round_robin", S.round_robin), ("ag_selector", S.selector),
                        ("ag_magentic_one", S.magentic_one)):
        asyncio.run(build().run(task=S.TASK))
        _save(name)
    inst.uninstrument()


if __name__ == "__main__":
    langgraph_runs()
    autogen_runs()
