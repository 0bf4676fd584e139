"""LangGraph, traced offline: a supervisor sends a researcher and a writer to answer a question; it fails.

Runs without network or API keys: every agent uses a scripted fake chat model (LangChain's
``GenericFakeChatModel``, extended to record its prompts). The researcher searches for the wrong thing
and reports Sydney as Australia's capital; the writer faithfully writes it up. The script records the
run with one line (``agentracer.instrument(graph)``), prints every step and AgenTracer's attribution,
checks the blame with a counterfactual fork through the checkpointer (nothing before the fork point runs
again; the researcher's earlier LLM call is served from the recording), then gives the researcher
feedback for its next runs.

    python examples/langgraph_example.py
"""

from __future__ import annotations

import agentracer
from agentracer.attribution.confidence import candidates_text, check_verdict
from agentracer_langgraph import inject_feedback
from agentracer_langgraph.fakes import scripted
from agentracer_langgraph.sample_graphs import supervisor_graph
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from rich.console import Console
from rich.table import Table

QUESTION = "What is the capital of Australia?"
EXPECTED = "Canberra"


@tool
def search(query: str) -> str:
    """Search a tiny offline encyclopedia."""
    facts = {
        "capital of australia": "Canberra is the capital city of Australia.",
        "largest city in australia": "Sydney is the largest city in Australia.",
    }
    return facts.get(query.lower().strip(" ?"), "no result")


def supervisor_turn(messages: list) -> str:
    spoken = {m.name for m in messages if m.type == "ai"}
    return "researcher" if "researcher" not in spoken else "writer" if "writer" not in spoken else "FINISH"


def writer_turn(messages: list) -> str:
    finding = next((m.content for m in reversed(messages) if m.type == "ai" and m.name == "researcher"), "")
    return f"Final answer: {finding}"


def build() -> tuple:
    researcher = scripted([
        # the wrong step: it searches for the largest city, then reports it as the capital
        AIMessage("", tool_calls=[{"name": "search", "args": {"query": "largest city in Australia"}, "id": "s1"}]),
        "The capital of Australia is Sydney.",
    ], model="fake-researcher")
    models = {
        "supervisor": scripted(respond=supervisor_turn, model="fake-supervisor"),
        "researcher": researcher,
        "writer": scripted(respond=writer_turn, model="fake-writer"),
    }
    graph = supervisor_graph(models["supervisor"], {"researcher": researcher, "writer": models["writer"]},
                             tools={"researcher": [search]}, checkpointer=InMemorySaver())
    return graph, models


def final_answer(result: dict) -> str:
    return next((m.content for m in reversed(result["messages"]) if getattr(m, "name", None) == "writer"), "")


def main() -> None:
    console = Console()
    graph, models = build()
    agentracer.instrument(graph)  # the one line: every run is now recorded (spans + Trace)
    result = graph.invoke({"messages": [HumanMessage(QUESTION)]}, {"configurable": {"thread_id": "capital-1"}})

    trace = agentracer.last_trace()
    trace.final_answer = final_answer(result)
    trace.ground_truth = EXPECTED
    trace.outcome = "success" if EXPECTED in trace.final_answer else "failure"

    table = Table(title=f"run {trace.run_id}: {trace.outcome} — {trace.final_answer!r} (expected {EXPECTED})")
    for col in ("step", "agent", "kind", "content"):
        table.add_column(col, overflow="fold" if col == "content" else "ellipsis")
    for s in trace.steps:
        text = s.content if s.kind != "tool_call" else f"{s.tool_name}({s.tool_args}) -> {s.content}"
        table.add_row(str(s.index), ("  " if s.parent is not None else "") + s.agent, s.kind, text[:120])
    console.print(table)

    att = agentracer.attribute(trace)
    console.print(f"[bold]attribution[/] ({att.method}): agent [cyan]{att.agent}[/], step [cyan]{att.step}[/] — {att.reason}")
    console.print(f"  confidence {att.confidence:.2f}; top-3: {candidates_text(att.candidates)}", highlight=False)
    if att.low_confidence:
        console.print(f"  {att.metadata['note']}", soft_wrap=True, highlight=False)

    # check a blame by counterfactual replay: give the researcher's step the right answer, re-run the rest
    k = next(s.index for s in trace.agent_steps() if s.agent == "researcher")
    before = len(models["researcher"].calls)
    res, fork_trace = agentracer.fork(graph, trace, k, "The capital of Australia is Canberra.")()
    fixed = EXPECTED in final_answer(res)
    console.print(
        f"[bold]fork at step {k} (researcher):[/] new answer {final_answer(res)!r} → "
        f"{'the failure goes away: the researcher step is decisive' if fixed else 'still wrong'}; "
        f"researcher model calls during the fork: {len(models['researcher'].calls) - before} "
        f"(its earlier call was served from the recording: "
        f"{[s.replay.get('served_from') for s in fork_trace.steps if s.kind == 'llm_call' and s.agent == 'researcher']})"
    )
    check = check_verdict(att, k if fixed else None, "researcher", "the counterfactual fork check")
    console.print(f"[bold]attribution vs fork:[/] {check}", soft_wrap=True, highlight=False)

    # tell the researcher for next time (only its own prompts get it)
    inject_feedback(graph, "researcher", "Search for the capital itself, not the largest city.", via="system")
    models["researcher"].messages = iter([
        AIMessage("", tool_calls=[{"name": "search", "args": {"query": "capital of Australia"}, "id": "s2"}]),
        "The capital of Australia is Canberra.",
    ])
    again = graph.invoke({"messages": [HumanMessage(QUESTION)]}, {"configurable": {"thread_id": "capital-2"}})
    console.print(f"[bold]with feedback:[/] {final_answer(again)!r}; the researcher's system prompt now ends with: "
                  f"{models['researcher'].calls[-1][0].content.splitlines()[-1]!r}")


if __name__ == "__main__":
    main()
