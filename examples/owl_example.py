"""OWL, traced offline: a Workforce (OWL's examples/run.py shape) and an OwlRolePlaying-style society.

OWL (github.com/camel-ai/owl) is built on CAMEL and is not on PyPI, so this example builds both of its
entry points from CAMEL itself, on CAMEL's StubModel (``ScriptedModel``): no network, no API keys.

1. ``Workforce``: ``add_single_agent_worker(description, worker=ChatAgent)`` then
   ``process_task(Task(content=...))``, as OWL's ``examples/run*.py`` do. The web agent reports the
   wrong population, the reasoning agent halves it faithfully: the answer is wrong.
2. ``run_society`` on a society shaped like OWL's ``OwlRolePlaying`` (the task appended to each user
   instruction, ``TASK_DONE`` to stop). With OWL installed you would pass ``owl.utils.OwlRolePlaying``
   and OWL's own ``run_society``; both are recorded the same way.

Each attribution is printed beside a counterfactual fork of the step the script knows to be wrong; when they
disagree the script says so, with the attributor's top-3 candidates.

    python examples/owl_example.py
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re

import agentracer
import agentracer_camel
from agentracer.attribution.confidence import candidates_text, check_verdict
from agentracer_camel.testing import ScriptedModel, owl_style_society
from camel.agents import ChatAgent
from camel.societies.workforce import Workforce
from camel.tasks import Task

TASK = "What is half of the population of Paris, in millions?"
CORRECT = "1.05"


def planner(messages: list[dict]) -> str:
    """The Workforce's task agent: decompose, then rate every subtask result as fine."""
    last = messages[-1]["content"]
    if "EVALUATE TASK QUALITY" in last:
        return json.dumps({"reasoning": "the subtask is answered", "quality_score": 90, "issues": []})
    return ("<tasks><task>Find the population of Paris in millions.</task>"
            "<task>Compute half of the population of Paris found before.</task></tasks>")


def coordinator(messages: list[dict]) -> str:
    """The coordinator: assign the first subtask to the first worker, the second (dependent) to the next."""
    last = messages[-1]["content"]
    ids, workers = re.findall(r"Task ID: (\S+)", last), re.findall(r"^<([^>]+)>:<", last, re.M)
    return json.dumps({"assignments": [
        {"task_id": t, "assignee_id": workers[i % len(workers)], "dependencies": [] if i == 0 else [ids[0]]}
        for i, t in enumerate(ids)]})


def web_agent(messages: list[dict]) -> str:
    return json.dumps({"content": "Paris has 3.1 million inhabitants (city proper).", "failed": False})


def reasoning_agent(messages: list[dict]) -> str:
    found = re.findall(r"Paris has ([\d.]+) million", messages[-1]["content"])
    return json.dumps({"content": f"Half of it is {float(found[-1]) / 2:g} million.", "failed": False})


def construct_workforce() -> Workforce:
    workforce = Workforce(
        "Workforce",
        task_agent=ChatAgent("You decompose tasks and assign them to workers.", model=ScriptedModel(planner)),
        coordinator_agent=ChatAgent("You assign tasks to workers.", model=ScriptedModel(coordinator)),
        graceful_shutdown_timeout=0,
    )
    workforce.add_single_agent_worker(
        "A helpful assistant that can search the web, extract webpage content, simulate browser actions, "
        "and retrieve relevant information.",
        worker=ChatAgent("You search the web.", model=ScriptedModel(web_agent)),
    )
    workforce.add_single_agent_worker(
        "A helpful assistant that specializes in reasoning and coding, and can think step by step.",
        worker=ChatAgent("You reason step by step.", model=ScriptedModel(reasoning_agent)),
    )
    return workforce


def show(trace: agentracer.Trace) -> None:
    print(f"run {trace.run_id[:8]}  outcome={trace.outcome}")
    for s in trace.agent_steps():
        text = " ".join(s.content.split())
        print(f"  [{s.index:2}] {s.agent[:44]:<44} {text[:64]}")


def report(att: agentracer.Attribution) -> None:
    """Print an attribution with its confidence, its top-3 candidates and, when unsure, the note."""
    print(f"Attribution ({att.method}): agent={att.agent!r} step={att.step}\n  reason: {att.reason}")
    print(f"  confidence {att.confidence:.2f}; top-3: {candidates_text(att.candidates)}")
    if att.low_confidence:
        print(f"  {att.metadata['note']}")


def main() -> None:
    logging.getLogger("camel").setLevel(logging.CRITICAL)

    print("== 1. OWL Workforce: process_task")
    workforce = construct_workforce()
    agentracer.instrument(workforce)
    with contextlib.redirect_stdout(io.StringIO()):  # CAMEL's Workforce prints progress; keep the output short
        task = workforce.process_task(Task(content=TASK, id="0"))
    ok = f"{CORRECT} million" in (task.result or "")
    trace = agentracer_camel.end_run(workforce, outcome="success" if ok else "failure")  # the checker's verdict
    show(trace)
    att = agentracer.attribute(trace, ground_truth=f"{CORRECT} million")
    report(att)
    # Fork check: give the web agent's step the right population and re-run only what follows.
    web = next(s for s in trace.agent_steps() if "search the web" in s.agent)
    fixed_web = json.dumps({"content": "Paris has 2.1 million inhabitants (city proper).", "failed": False})
    with contextlib.redirect_stdout(io.StringIO()):
        task2, _ = agentracer.fork(workforce, trace, web.index, fixed_web)()
    fixed = f"{CORRECT} million" in (task2.result or "")
    print(f"Fork at step {web.index} (web agent): result {task2.result!r} -> {'fixed' if fixed else 'still wrong'}")
    print(f"Attribution vs fork: {check_verdict(att, web.index if fixed else None, web.agent, 'the fork check')}")

    print("\n== 2. OwlRolePlaying-style society: run_society")
    society, _, _ = owl_style_society()
    agentracer.instrument(society)
    answer, history, tokens = agentracer_camel.run_society(society, round_limit=10, check=lambda a: "89" in a)
    trace = agentracer.last_trace()
    show(trace)
    print(f"answer={answer!r} after {len(history)} rounds, tokens={tokens}")
    att = agentracer.attribute(trace, ground_truth="89")
    report(att)
    # Fork check: correct the assistant's addition and re-run what follows.
    add = next(s for s in trace.agent_steps() if "84 + 5" in s.content)
    (answer2, _, _), _ = agentracer.fork(society, trace, add.index, "Solution: 84 + 5 = 89")()
    fixed = "89" in (answer2 or "")
    print(f"Fork at step {add.index} (assistant): answer {answer2!r} -> {'fixed' if fixed else 'still wrong'}")
    print(f"Attribution vs fork: {check_verdict(att, add.index if fixed else None, add.agent, 'the fork check')}")


if __name__ == "__main__":
    main()
