"""``agentracer demo`` / ``make demo``: a LangGraph planner → solver → verifier system that fails, end to end.

The three agents run on scripted fake chat models (offline, deterministic). The planner checks a price
with a tool and writes a plan, the solver makes one scripted arithmetic slip (4 × $3 = $15), and the
verifier approves the wrong answer. The run is recorded (JSONL and OTLP JSON), judged against the
known answer, and attributed with :func:`agentracer.attribute`.

:func:`build_demo_graph` and :data:`DEMO_SCRIPT` are reusable: examples and benchmarks build the same
system, with other scripts (e.g. a correct one, or one where another agent errs).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..trace import Trace

__all__ = [
    "DEMO_ANSWER",
    "DEMO_FAULT",
    "DEMO_SCRIPT",
    "DEMO_TASK",
    "CORRECT_SCRIPT",
    "build_demo_graph",
    "check_answer",
    "run_demo",
    "run_demo_task",
]

DEMO_TASK = "A shop sells pens. Alice buys 4 pens and pays with a $20 bill. How much change does she get, in dollars?"
DEMO_ANSWER = "8"

ROLES = {
    "planner": "You are the planner. Look up what you need with the tools, then write a short numbered plan.",
    "solver": "You are the solver. Follow the plan exactly, show the arithmetic, end with 'ANSWER: <number>'.",
    "verifier": "You are the verifier. Check the solver's work; end with 'VERDICT: APPROVE' or 'VERDICT: REJECT'.",
}

_PLANNER_TOOL_CALL = {"name": "lookup_price", "args": {"item": "pen"}, "id": "call_price_1"}
_PLAN = "Plan: 1) a pen costs $3 (checked with lookup_price); 2) cost = 4 x $3; 3) change = $20 - cost."

#: The failing run: the solver's multiplication is wrong; the verifier rubber-stamps it.
DEMO_SCRIPT: dict[str, list[Any]] = {
    "planner": [{"tool_calls": [_PLANNER_TOOL_CALL]}, _PLAN],
    "solver": ["Cost = 4 x $3 = $15. Change = $20 - $15 = $5.\nANSWER: 5"],
    "verifier": ["The solver followed the plan step by step and the subtraction is right.\nVERDICT: APPROVE"],
}
#: The same system without the slip.
CORRECT_SCRIPT: dict[str, list[Any]] = {
    "planner": DEMO_SCRIPT["planner"],
    "solver": ["Cost = 4 x $3 = $12. Change = $20 - $12 = $8.\nANSWER: 8"],
    "verifier": ["4 x 3 = 12 and 20 - 12 = 8. Correct.\nVERDICT: APPROVE"],
}
#: Which agent's step carries the scripted fault in DEMO_SCRIPT.
DEMO_FAULT = "solver"

PRICES = {"pen": 3, "notebook": 5, "eraser": 1}


def _messages(script: list[Any]) -> list[Any]:
    from langchain_core.messages import AIMessage

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
    import operator
    from typing import Annotated

    from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage
    from langchain_core.tools import tool
    from langgraph.graph import END, START, StateGraph
    from langgraph.graph.message import add_messages
    from typing_extensions import TypedDict

    if models is None:
        from agentracer_langgraph.fakes import scripted

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
    from langchain_core.messages import HumanMessage

    return {"messages": [HumanMessage(content=task)], "task": task}


def check_answer(answer: str | None, expected: str = DEMO_ANSWER) -> bool:
    """Exact numeric match of the final answer against the expected one."""
    try:
        return answer is not None and float(answer) == float(expected)
    except ValueError:
        return (answer or "").strip() == expected.strip()


def run_demo_task(graph: Any, *, task: str = DEMO_TASK, expected: str = DEMO_ANSWER, thread_id: str = "demo") -> tuple[Any, Trace]:
    """Run the (instrumented) demo graph once; return its result and its trace with outcome and ground truth set."""
    import agentracer

    result = graph.invoke(demo_input(task), {"configurable": {"thread_id": thread_id}})
    trace = agentracer.recorder_of(graph).last_trace() if agentracer.recorder_of(graph) else agentracer.last_trace()
    if trace is None:
        raise RuntimeError("the demo run was not recorded")
    trace.final_answer = result.get("answer") or trace.final_answer
    trace.ground_truth = expected
    trace.outcome = "success" if check_answer(result.get("answer"), expected) else "failure"
    return result, trace


def run_demo(out: Path, console: Any = None) -> dict[str, Any]:
    """Build, run, record and attribute the failing demo; print the steps and the verdict; return a summary."""
    from langgraph.checkpoint.memory import InMemorySaver
    from rich.console import Console
    from rich.table import Table

    import agentracer

    from ..formats.jsonl import write_jsonl
    from ..formats.otlp import write_otlp_json

    console = console or Console()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jsonl, otlp = out / "demo-trace.jsonl", out / "demo-trace.otlp.json"
    jsonl.unlink(missing_ok=True)  # the sink appends

    graph, _ = build_demo_graph(checkpointer=InMemorySaver())
    agentracer.instrument(graph, sink=jsonl)  # streams each finished step to the JSONL file
    result, trace = run_demo_task(graph)
    rec = agentracer.recorder_of(graph)
    if rec is not None and hasattr(rec.sink, "close"):
        rec.sink.close()
    write_jsonl([trace], jsonl)  # the finished trace, now with its outcome and ground truth
    write_otlp_json([trace], otlp)

    t = Table(title=f"{trace.framework} run {trace.run_id} · {len(trace.steps)} steps · outcome {trace.outcome}")
    for col in ("step", "agent", "kind", "content"):
        t.add_column(col, overflow="fold" if col == "content" else "ellipsis")
    for s in trace.steps:
        text = s.content if s.kind != "tool_call" else f"{s.tool_name}({s.tool_args}) -> {s.content}"
        t.add_row(str(s.index), ("  " if s.parent is not None else "") + s.agent, s.kind, text.replace("\n", " ")[:140])
    console.print(t)
    console.print(f"[bold]task:[/] {trace.task}")
    console.print(f"[bold]final answer:[/] {result.get('answer')!r}   expected: {DEMO_ANSWER!r}   → [bold red]{trace.outcome}[/]")

    att = agentracer.attribute(trace)
    console.print(f"[bold]attribution[/] ({att.method}): agent [bold cyan]{att.agent}[/], step [bold cyan]{att.step}[/]")
    console.print(f"  reason: {att.reason}")
    fault_step = next(s.index for s in trace.agent_steps() if s.agent == DEMO_FAULT)
    hit = att.agent == DEMO_FAULT and att.step == fault_step
    console.print(f"  scripted fault: agent {DEMO_FAULT}, step {fault_step} → attribution {'matches' if hit else 'differs'}")
    console.print(f"[bold]trace files:[/] JSONL {jsonl}  ·  OTLP JSON {otlp}")
    console.print(f"  next: agentracer show {jsonl}  ·  agentracer attribute {otlp}  ·  "
                  f"agentracer export {jsonl} -f otlp -o x.json --endpoint http://127.0.0.1:4318/v1/traces")
    return {"trace": trace, "attribution": att, "jsonl": jsonl, "otlp": otlp, "fault_step": fault_step, "match": hit}
