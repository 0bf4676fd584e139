"""``agentracer demo`` / ``make demo``: a planner → solver → verifier system that fails, end to end.

The three agents run on scripted fake chat models (offline, deterministic). The planner checks a price
with a tool and writes a plan, the solver makes one scripted arithmetic slip (4 × $3 = $15), and the
verifier approves the wrong answer. The run is recorded (JSONL and OTLP JSON), judged against the
known answer, and attributed with :func:`agentracer.attribute`.

This module is the framework-neutral part: the task, its answer, the agents' roles and scripts
(:data:`DEMO_SCRIPT`, :data:`CORRECT_SCRIPT`), the check, and :func:`run_demo`. The system itself is a
LangGraph graph built by the LangGraph plugin (``agentracer_langgraph.demo.build_demo_graph``, offered
through the ``agentracer_sample("langgraph", "demo")`` hook); examples and benchmarks build the same
system there, with other scripts (e.g. a correct one, or one where another agent errs).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..hooks import get_sample
from ..trace import Trace

__all__ = [
    "DEMO_ANSWER",
    "DEMO_FAULT",
    "DEMO_SCRIPT",
    "DEMO_TASK",
    "CORRECT_SCRIPT",
    "PRICES",
    "ROLES",
    "check_answer",
    "finish_demo_run",
    "run_demo",
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


def check_answer(answer: str | None, expected: str = DEMO_ANSWER) -> bool:
    """Exact numeric match of the final answer against the expected one."""
    try:
        return answer is not None and float(answer) == float(expected)
    except ValueError:
        return (answer or "").strip() == expected.strip()


def finish_demo_run(system: Any, answer: str | None, expected: str = DEMO_ANSWER) -> Trace:
    """The trace of the run just made on the instrumented ``system``, with its final answer, ground truth and
    outcome set from ``answer`` (checked against ``expected``)."""
    from ..recording import last_trace
    from ..systems import recorder_of

    rec = recorder_of(system)
    trace = rec.last_trace() if rec else last_trace()
    if trace is None:
        raise RuntimeError("the demo run was not recorded")
    trace.final_answer = answer or trace.final_answer
    trace.ground_truth = expected
    trace.outcome = "success" if check_answer(answer, expected) else "failure"
    return trace


def _demo_builder() -> Callable[..., tuple[Any, Callable[[Any, str], str | None]]]:
    build = get_sample("langgraph", "demo")
    if build is None:
        raise RuntimeError("agentracer demo needs LangGraph and the agentracer LangGraph plugin installed")
    return build


def run_demo(out: Path, console: Any = None) -> dict[str, Any]:
    """Build, run, record and attribute the failing demo; print the steps and the verdict; return a summary."""
    from rich.console import Console
    from rich.table import Table

    from ..attribution import get_attributor
    from ..formats.jsonl import write_jsonl
    from ..formats.otlp import write_otlp_json
    from ..systems import instrument, recorder_of

    console = console or Console()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jsonl, otlp = out / "demo-trace.jsonl", out / "demo-trace.otlp.json"
    jsonl.unlink(missing_ok=True)  # the sink appends

    graph, run = _demo_builder()()  # with an in-memory checkpointer, so that the run can be forked
    instrument(graph, sink=jsonl)  # streams each finished step to the JSONL file
    answer = run(graph, DEMO_TASK)
    trace = finish_demo_run(graph, answer)
    rec = recorder_of(graph)
    if rec is not None and hasattr(rec.sink, "close"):
        rec.sink.close()
    write_jsonl([trace], jsonl)  # the finished trace, now with its outcome and ground truth
    write_otlp_json([trace], otlp)

    t = Table(title=f"{trace.framework} run {trace.run_id} · {len(trace.steps)} steps · outcome {trace.outcome}")
    for col in ("step", "agent", "kind", "content"):
        t.add_column(col, overflow="fold", no_wrap=col == "agent")  # names whole; content wraps
    for s in trace.steps:
        text = s.content if s.kind != "tool_call" else f"{s.tool_name}({s.tool_args}) -> {s.content}"
        t.add_row(str(s.index), ("  " if s.parent is not None else "") + s.agent, s.kind, text.replace("\n", " ")[:140])
    console.print(t)
    console.print(f"[bold]task:[/] {trace.task}")
    console.print(f"[bold]final answer:[/] {answer!r}   expected: {DEMO_ANSWER!r}   → [bold red]{trace.outcome}[/]")

    att = get_attributor("embedded").attribute(trace)
    console.print(f"[bold]attribution[/] ({att.method}): agent [bold cyan]{att.agent}[/], step [bold cyan]{att.step}[/]")
    console.print(f"  reason: {att.reason}")
    fault_step = next(s.index for s in trace.agent_steps() if s.agent == DEMO_FAULT)
    hit = att.agent == DEMO_FAULT and att.step == fault_step
    console.print(f"  scripted fault: agent {DEMO_FAULT}, step {fault_step} → attribution {'matches' if hit else 'differs'}")
    console.print(f"[bold]trace files:[/] JSONL {jsonl}  ·  OTLP JSON {otlp}")
    console.print(f"  next: agentracer show {jsonl}  ·  agentracer attribute {otlp}  ·  "
                  f"with a collector running (`make phoenix`): agentracer export {jsonl} -f otlp -o x.json "
                  "--endpoint http://127.0.0.1:6006/v1/traces --attribute")
    return {"trace": trace, "attribution": att, "jsonl": jsonl, "otlp": otlp, "fault_step": fault_step, "match": hit}
