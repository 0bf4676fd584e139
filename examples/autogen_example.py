"""AutoGen AgentChat, traced offline: a planner → coder → reviewer team multiplies wrong; who caused it?

Runs without network or API keys: every agent uses AutoGen's own ``ReplayChatCompletionClient`` with
scripted answers (the coder calls the ``add`` tool instead of ``multiply``, the reviewer waves it
through). The script records the run, prints every step and AgenTracer's attribution, checks the blame
with a counterfactual fork (the steps before the fork point are served from the recording, only the rest
runs again), then gives the coder feedback through a ListMemory.

    python examples/autogen_example.py
"""

from __future__ import annotations

import asyncio
import json
import logging

import agentracer
from agentracer.attribution.confidence import candidates_text, check_verdict
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core import FunctionCall
from autogen_core.models import CreateResult, ModelInfo, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient
from rich.console import Console
from rich.table import Table

TASK = "A box holds 17 apples. How many apples are in 3 boxes? Answer with the number."
CORRECT = "51"
INFO = ModelInfo(vision=False, function_calling=True, json_output=False, family="unknown", structured_output=False)


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def tool_call(name: str, **args: int) -> CreateResult:
    return CreateResult(
        finish_reason="function_calls",
        content=[FunctionCall(id="call-1", name=name, arguments=json.dumps(args))],
        usage=RequestUsage(prompt_tokens=40, completion_tokens=12),
        cached=False,
    )


def build(planner: list, coder: list, reviewer: list) -> RoundRobinGroupChat:
    """The team; each agent's scripted answers are given (a fork gets the answers of what it re-runs)."""

    def client(answers: list) -> ReplayChatCompletionClient:
        return ReplayChatCompletionClient(answers, model_info=INFO)

    return RoundRobinGroupChat(
        [
            AssistantAgent("planner", model_client=client(planner), description="Breaks the task down."),
            AssistantAgent("coder", model_client=client(coder), tools=[multiply, add], reflect_on_tool_use=True,
                           description="Computes with tools."),
            AssistantAgent("reviewer", model_client=client(reviewer), description="Checks and answers."),
        ],
        max_turns=3,
    )


def original() -> RoundRobinGroupChat:
    return build(
        planner=["PLAN: multiply the apples per box (17) by the number of boxes (3) with the multiply tool."],
        coder=[tool_call("add", a=17, b=3), "17 and 3 give 20 apples."],
        reviewer=["The coder's computation looks fine. FINAL ANSWER: 20"],
    )


def show(console: Console, trace: agentracer.Trace, title: str) -> None:
    table = Table(title=title, show_lines=False)
    for col in ("step", "agent", "kind", "content"):
        table.add_column(col, overflow="fold")
    for s in trace.steps:
        what = s.content if s.kind != "tool_call" else f"{s.tool_name}({s.tool_args}) -> {s.tool_result}"
        indent = "  └ " if s.parent is not None else ""
        table.add_row(str(s.index), indent + s.agent, s.kind, what.replace("\n", " ")[:90])
    console.print(table)
    console.print(f"final answer: {trace.final_answer!r}   outcome: {trace.outcome}")


def main() -> None:
    logging.getLogger("autogen_core").setLevel(logging.ERROR)
    logging.getLogger("autogen_core.events").setLevel(logging.ERROR)
    console = Console(width=140)

    team = agentracer.instrument(original())
    asyncio.run(team.run(task=TASK))
    trace = agentracer.last_trace()
    trace.outcome = "success" if CORRECT in (trace.final_answer or "") else "failure"
    show(console, trace, "The recorded run")

    att = agentracer.attribute(trace)
    console.print(f"\n[bold]Attribution[/] ({att.method}, w/o G): agent={att.agent!r} step={att.step}  reason: {att.reason}",
                  soft_wrap=True)
    console.print(f"  confidence {att.confidence:.2f}; top-3: {candidates_text(att.candidates)}", highlight=False)
    if att.low_confidence:
        console.print(f"  {att.metadata['note']}", soft_wrap=True, highlight=False)
    att_g = agentracer.attribute(trace, ground_truth=CORRECT)
    console.print(f"[bold]Attribution[/] ({att_g.method}, w/ G):  agent={att_g.agent!r} step={att_g.step}  reason: {att_g.reason}",
                  soft_wrap=True)

    # Counterfactual check: replace the coder's turn (the real mistake) and rerun only what follows.
    coder_step = next(s.index for s in trace.agent_steps() if s.agent == "coder")
    suffix = {"planner": [], "coder": [], "reviewer": ["Checked: 17 * 3 = 51. FINAL ANSWER: 51"]}
    fork = agentracer.fork(lambda: build(**suffix), trace, coder_step, "17 * 3 = 51 apples.")
    _, forked = fork()
    info = forked.metadata["fork"]
    console.print(
        f"\n[bold]Fork at step {coder_step}[/] (coder): steps 0..{coder_step} were served from {info['prefix_replayed']} "
        f"recorded LLM answers (made {info['prefix_live']} live calls), the rest ran again.",
        soft_wrap=True,
    )
    console.print(f"final answer now {forked.final_answer!r}", soft_wrap=True)
    fixed = CORRECT in (forked.final_answer or "")
    verdict = "fixes the run: the coder is to blame" if fixed else "does not fix the run"
    console.print(f"=> replacing the coder's step {verdict}.", soft_wrap=True)
    check = check_verdict(att, coder_step if fixed else None, "coder", "the fork check")
    console.print(f"[bold]Attribution vs fork:[/] {check}", soft_wrap=True, highlight=False)

    # Feedback for the next run goes to the coder only (a ListMemory on that agent).
    team2 = agentracer.instrument(original())
    agentracer.inject_feedback(team2, "coder", "For 'how many in N boxes', use the multiply tool, not add.")
    asyncio.run(team2.run(task=TASK))
    seen = [s.agent for s in agentracer.last_trace().steps if s.kind == "llm_call" and "multiply tool, not add" in str(s.metadata.get("messages"))]
    console.print(f"\n[bold]Feedback[/] given to 'coder'; prompts that carried it in the next run: {sorted(set(seen))}",
                  soft_wrap=True)


if __name__ == "__main__":
    main()
