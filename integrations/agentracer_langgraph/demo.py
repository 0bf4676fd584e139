"""The demo system on LangGraph: the planner → solver → verifier graph of ``agentracer demo``.

The task, the roles, the scripts and the check are framework-neutral and live in core
(:mod:`agentracer.samples.demo`); this module builds the graph on scripted fake chat models
(:class:`~agentracer_langgraph.fakes.ScriptedChatModel`) or on real ones. :func:`demo_system` is what the
plugin offers as the ``("langgraph", "demo")`` sample: the graph with an in-memory checkpointer and a
function running one task on it.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Annotated, Any

from agentracer.samples.demo import DEMO_ANSWER, DEMO_SCRIPT, DEMO_TASK, PRICES, ROLES, finish_demo_run
from agentracer.trace import Trace
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from .fakes import scripted

__all__ = ["build_demo_graph", "demo_input", "demo_system", "run_demo_task"]


def _messages(script: list[Any]) -> list[Any]:
    out = []
    for item in script:
        if isinstance(item, dict):
            out.append(AIMessage(content=item.get("content", ""), tool_calls=item.get("tool_calls", [])))
        else:
            out.append(item)
    return out


def build_demo_graph(
    script: dict[str, list[Any]] | None = None,
    *,
    models: dict[str, Any] | None = None,
    checkpointer: Any = None,
    max_revisions: int = 2,
) -> tuple[Any, dict[str, Any]]:
    """The planner → solver → verifier graph and its chat models (``{"planner": model, ...}``).

    ``script`` gives each agent's scripted replies (default :data:`DEMO_SCRIPT`); ``models`` passes real
    chat models instead. The planner may call ``lookup_price``; the verifier sends the work back to the
    solver on ``VERDICT: REJECT`` (at most ``max_revisions`` times). Every node reads the ``feedback``
    state key (``dict[agent -> str]``) into its system prompt.
    """
    if models is None:
        sc = script or DEMO_SCRIPT
        models = {name: scripted(_messages(sc.get(name, [])), model=f"fake-{name}") for name in ROLES}

    @tool
    def lookup_price(item: str) -> str:
        """The shop's price of one item, in dollars."""
        price = PRICES.get(item.strip().lower().rstrip("s"))
        return f"${price}" if price is not None else f"unknown item {item!r}"

    # functional form: this module uses postponed annotations, which TypedDict would resolve globally
    DemoState = TypedDict(  # noqa: UP013
        "DemoState",
        {
            "messages": Annotated[list[AnyMessage], add_messages],
            "task": str,
            "answer": str,
            "verdict": str,
            "revisions": Annotated[int, operator.add],
            "feedback": dict[str, str],
        },
        total=False,
    )

    def prompt(name: str, state: dict[str, Any]) -> list[Any]:
        system = ROLES[name]
        fb = (state.get("feedback") or {}).get(name)
        if fb:
            system += f"\n\nFeedback from a previous run: {fb}"
        msgs = state.get("messages") or [HumanMessage(content=state.get("task", ""))]
        return [SystemMessage(content=system), *msgs]

    def planner(state: dict[str, Any]) -> dict[str, Any]:
        msgs = prompt("planner", state)
        reply = models["planner"].invoke(msgs)
        extra: list[Any] = []
        for _ in range(3):  # answer tool calls, then ask again
            if not getattr(reply, "tool_calls", None):
                break
            results = [lookup_price.invoke({**tc, "type": "tool_call"}) for tc in reply.tool_calls]  # ToolMessages
            extra += [reply, *results]
            reply = models["planner"].invoke([*msgs, *extra])
        return {"messages": [reply.model_copy(update={"name": "planner"})]}

    def solver(state: dict[str, Any]) -> dict[str, Any]:
        reply = models["solver"].invoke(prompt("solver", state))
        m = re.search(r"ANSWER:\s*\$?(-?[\d.]+)", str(reply.content))
        return {"messages": [reply.model_copy(update={"name": "solver"})], "answer": m.group(1) if m else ""}

    def verifier(state: dict[str, Any]) -> dict[str, Any]:
        reply = models["verifier"].invoke(prompt("verifier", state))
        verdict = "REJECT" if "VERDICT: REJECT" in str(reply.content) else "APPROVE"
        return {"messages": [reply.model_copy(update={"name": "verifier"})], "verdict": verdict,
                "revisions": 1 if verdict == "REJECT" else 0}

    def route(state: dict[str, Any]) -> str:
        if state.get("verdict") == "REJECT" and state.get("revisions", 0) <= max_revisions:
            return "solver"
        return END

    g = StateGraph(DemoState)
    g.add_node("planner", planner)
    g.add_node("solver", solver)
    g.add_node("verifier", verifier)
    g.add_edge(START, "planner")
    g.add_edge("planner", "solver")
    g.add_edge("solver", "verifier")
    g.add_conditional_edges("verifier", route, ["solver", END])
    return g.compile(checkpointer=checkpointer, name="planner-solver-verifier"), models


def demo_input(task: str = DEMO_TASK) -> dict[str, Any]:
    """The graph input for ``task``."""
    return {"messages": [HumanMessage(content=task)], "task": task}


def run_demo_task(graph: Any, *, task: str = DEMO_TASK, expected: str = DEMO_ANSWER, thread_id: str = "demo") -> tuple[Any, Trace]:
    """Run the (instrumented) demo graph once; return its result and its trace with outcome and ground truth set."""
    result = graph.invoke(demo_input(task), {"configurable": {"thread_id": thread_id}})
    return result, finish_demo_run(graph, result.get("answer"), expected)


def demo_system(script: dict[str, list[Any]] | None = None) -> tuple[Any, Callable[[Any, str], str | None]]:
    """The demo graph (with an in-memory checkpointer) and ``run(graph, task) -> answer`` for one run on it."""
    graph, _ = build_demo_graph(script, checkpointer=InMemorySaver())

    def run(graph: Any, task: str) -> str | None:
        return graph.invoke(demo_input(task), {"configurable": {"thread_id": "demo"}}).get("answer")

    return graph, run
