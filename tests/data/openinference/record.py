"""Record the OpenInference fixtures in this folder with the REAL instrumentors on fake LLMs.

Run from the repository root (offline; needs the ``openinference`` extra and ``langgraph-supervisor``)::

    python tests/data/openinference/record.py            # all of them
    python tests/data/openinference/record.py openai     # one group: langgraph | autogen | openai

Each run is traced by ``openinference-instrumentation-langchain``, ``-autogen-agentchat`` or ``-openai`` through a global
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


# ---------------------------------------------------------------------------------------------- OpenAI
def openai_runs() -> None:
    """A hand-written multi-agent loop over the OpenAI client, as users write it with OpenInference's own
    tracer: a CHAIN span for the run, one AGENT span per agent turn (decorator and context-manager styles),
    a TOOL span for the tool the loop runs, and the LLM spans of ``openinference-instrumentation-openai``.
    The client talks to an in-process httpx.MockTransport that plays the model (no network)."""
    import httpx
    import openai
    from openinference.instrumentation import OITracer, TraceConfig
    from openinference.instrumentation.openai import OpenAIInstrumentor
    from openinference.semconv.trace import SpanAttributes

    def reply(content: str | None = None, call: tuple[str, dict] | None = None) -> dict:
        msg: dict = {"role": "assistant", "content": content}
        if call:
            msg["tool_calls"] = [{"id": "call_1", "type": "function",
                                  "function": {"name": call[0], "arguments": json.dumps(call[1])}}]
        return {"id": "chatcmpl-fixture", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
                "choices": [{"index": 0, "message": msg, "finish_reason": "tool_calls" if call else "stop"}],
                "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28}}

    def model(request: httpx.Request) -> httpx.Response:  # answers by the agent's system prompt
        body = json.loads(request.content)
        system, last = body["messages"][0]["content"], body["messages"][-1]
        if system.startswith("You plan"):
            out = reply("Plan: researcher looks up Lyon's population; writer adds it to Paris's 2103 thousand.")
        elif system.startswith("You look up"):
            out = (reply("Lyon has 222 thousand inhabitants.") if last["role"] == "tool"
                   else reply(None, ("population", {"city": "Lyon"})))
        else:
            out = reply("Paris (2103) and Lyon (222) together have 2325 thousand inhabitants. Final answer: 2325")
        return httpx.Response(200, json=out)

    inst = OpenAIInstrumentor()
    inst.instrument(tracer_provider=PROVIDER)
    tracer = OITracer(PROVIDER.get_tracer("multi_agent_app"), config=TraceConfig())
    client = openai.OpenAI(api_key="sk-fixture", base_url="http://model.invalid/v1",
                           http_client=httpx.Client(transport=httpx.MockTransport(model)))
    tools = [{"type": "function", "function": {"name": "population", "description": "Population in thousands.",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]

    def chat(system: str, messages: list[dict], **kw) -> object:
        return client.chat.completions.create(model="gpt-4o-mini",
                                              messages=[{"role": "system", "content": system}, *messages], **kw)

    @tracer.tool(name="population")
    def population(city: str) -> int:
        return {"Paris": 2103, "Lyon": 222}.get(city, 0)  # Lyon is really 522: the fault

    @tracer.agent(name="planner")
    def planner(task: str) -> str:
        return chat("You plan the work.", [{"role": "user", "content": task}]).choices[0].message.content

    def researcher(plan: str) -> str:  # the context-manager style, with agent.name set by hand
        with tracer.start_as_current_span("research step", openinference_span_kind="agent") as span:
            span.set_attribute(SpanAttributes.AGENT_NAME, "researcher")
            span.set_input(plan)
            msgs = [{"role": "user", "content": plan}]
            first = chat("You look up facts with tools.", msgs, tools=tools).choices[0].message
            call = first.tool_calls[0]
            result = population(**json.loads(call.function.arguments))
            msgs += [first.model_dump(exclude_none=True),
                     {"role": "tool", "tool_call_id": call.id, "content": str(result)}]
            answer = chat("You look up facts with tools.", msgs, tools=tools).choices[0].message.content
            span.set_output(answer)
            return answer

    @tracer.agent(name="writer")
    def writer(task: str, facts: str) -> str:
        return chat("You write the final answer.", [{"role": "user", "content": f"{task}\n{facts}"}]).choices[0].message.content

    @tracer.chain(name="paris_lyon_pipeline")
    def run(task: str) -> str:
        plan = planner(task)
        facts = researcher(plan)
        return writer(task, facts)

    run("Paris has 2103 thousand inhabitants. How many do Paris and Lyon have together?")
    _save("oai_custom_agents")
    inst.uninstrument()


GROUPS = {"langgraph": langgraph_runs, "autogen": autogen_runs, "openai": openai_runs}

if __name__ == "__main__":
    for group in sys.argv[1:] or list(GROUPS):
        GROUPS[group]()
