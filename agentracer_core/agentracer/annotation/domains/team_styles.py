"""Per-system styles of the orchestrator-led team domains: the agent names and lead prompts of a named system shape.

The team domains (:mod:`.team_tasks`) draw their agent names from Magentic-One-like pools. A named system
shape (``supervisor`` on LangGraph, ``workforce`` on CAMEL) looks different in the wild: snake_case ReAct
agents behind a supervisor, or a planner with CamelCase workers. :func:`restyle` redraws a task's names
and lead prompt from that system's pools, seeded by the task and the system, so the task (and a replay of
it) keeps them. It also makes the lead check each report (``verify``) and serves some web pages first as an
archived copy with old figures (``stale``), so a quality check that passes a wrong result can be the
decisive error; the rest of the task (the plan, the wording slots) is unchanged.
"""

from __future__ import annotations

import copy
import random
import re

from .base import Task

__all__ = ["CALL_LINE", "PLACES", "STYLES", "WORKER_TOOLS", "injection_order", "place_of", "restyle"]

#: The tools of each worker role of a named system (web surfer, file reader) as ``(name, argument,
#: description)``; the coder and the code runner act in text. Each plugin's generator makes them real tools.
WORKER_TOOLS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "W": (("web_search", "query", "Search the web; returns the titles and URLs of the results."),
          ("visit_page", "url", "Open a URL and return the page's text.")),
    "F": (("open_file", "path", "Open a local file and return its first page."),
          ("page_down", "path", "Return the next page of an open file.")),
}
#: A scripted worker turn's tool-call line (``CALL name(arg)``), which becomes a real tool call
CALL_LINE = re.compile(r"^\s*CALL\s+\w+\(.*\)\s*$", re.M)

# every name is one \\w+ word: the plan names a worker as "— Name" and handoff tools are built from names
STYLES: dict[str, dict[str, tuple[str, ...]]] = {
    "supervisor": {
        "O": ("supervisor", "team_supervisor", "research_supervisor", "manager", "coordinator", "lead_agent"),
        "W": ("research_agent", "web_researcher", "search_expert", "browser_agent", "web_agent", "lookup_agent"),
        "F": ("file_agent", "data_reader", "table_expert", "docs_agent", "file_reader", "sheet_agent"),
        "C": ("code_agent", "python_coder", "math_expert", "coder", "script_writer", "calc_agent"),
        "T": ("code_runner", "executor_agent", "sandbox_agent", "shell_agent", "python_executor", "run_agent"),
        "lead": (
            "You are a supervisor managing a team of agents. Assign work to one agent at a time; do not do any "
            "work yourself.",
            "You are a team supervisor. Break the request into steps, then transfer each step to the agent best "
            "suited for it and collect what it reports.",
            "You manage specialised agents. First record a plan with the planning tool, then hand off one task at "
            "a time and give the final answer yourself.",
        ),
    },
    "workforce": {
        "O": ("TaskPlanner", "Planner", "TaskAgent", "Decomposer", "PlanningAgent", "WorkforcePlanner"),
        "W": ("SearchWorker", "WebWorker", "BrowserWorker", "ResearchWorker", "WebAssistant", "OnlineSearcher"),
        "F": ("DocumentWorker", "FileWorker", "SheetWorker", "DocumentProcessor", "FileAssistant", "TableWorker"),
        "C": ("CodingWorker", "Developer", "CodeAssistant", "PythonWorker", "SolverWorker", "MathWorker"),
        "T": ("ExecutionWorker", "CodeExecutor", "RunnerWorker", "TerminalWorker", "SandboxWorker", "ShellWorker"),
        "Q": ("QualityChecker", "Reviewer", "Verifier", "QAWorker", "Auditor", "Inspector"),
        "lead": (
            "You are a task planner: decompose the task into subtasks, assign each to a worker and check the "
            "quality of every result.",
            "As the workforce's planner you split the request into self-contained subtasks and route them to the "
            "workers; failed subtasks are retried.",
            "You coordinate a workforce. Write the decomposition first, then dispatch subtasks one at a time.",
        ),
    },
}


def restyle(task: Task, system: str) -> Task:
    """A copy of ``task`` whose names and lead prompt are drawn from ``system``'s pools (seeded by both)."""
    pools = STYLES.get(system)
    if pools is None:
        raise ValueError(f"unknown system {system!r}; expected one of {', '.join(STYLES)}")
    rng = random.Random(f"style:{system}:{task.task_id}")
    new = copy.deepcopy(task)
    st = new.data["style"]
    st["names"] = {r: rng.choice(pool) for r, pool in pools.items() if r != "lead"}
    st["lead_prompt"] = rng.choice(pools["lead"])
    st["system"] = system
    # the lead checks every report; some web pages are first served as an archived copy with old figures,
    # which a correct check sends back (a check that passes one lets a wrong value through)
    st["verify"] = True
    for it in new.data.get("noise", []):
        if it.get("web") and "main" in it:
            it["stale"] = rng.random() < 0.3
    return new


#: Where an injected error can sit in a team run, and the faults that fit each place.
PLACES: dict[str, tuple[str, ...]] = {
    "plan": ("dropped_constraint", "inverted_condition", "fabricated_fact"),
    "handoff": ("wrong_handoff", "fabricated_fact"),
    "check": ("inverted_condition",),
    "action": ("wrong_tool_argument",),
    "reading": ("fabricated_fact", "off_by_one"),
    "code": ("off_by_one", "wrong_return_value", "dropped_constraint"),
}


def place_of(task: Task, agent: str, text: str, position: int, has_tools: bool) -> str | None:
    """The place (a :data:`PLACES` key) of one agent step of a team run, or None (nothing to inject there)."""
    names = {v: k for k, v in task.data["style"]["names"].items()}
    role = names.get(agent)
    if role == "O":
        if position == 0:
            return "plan"
        if text.startswith("Quality check failed"):
            return "check"
        return None if "FINAL ANSWER" in text else "handoff"
    if role == "C":
        return "code" if "```" in text else None
    if role in ("W", "F"):
        if has_tools:
            return "action"
        return "reading" if " is " in text else None
    return None


def injection_order(task: Task, steps: list[tuple[int, str, str, bool]], rng: random.Random) -> list[tuple[int, str]]:
    """``(step index, fault)`` pairs to try on a successful team run, places drawn by per-run weights.

    ``steps``: ``(index, agent, text, has tool calls)`` per agent step, in order. Each run weighs the places
    differently (seeded by ``rng``), so the decisive error sits on the plan, a handoff, a quality check, a
    worker's action, a worker's reading or the code in varying proportions across runs.
    """
    by_place: dict[str, list[tuple[int, str]]] = {}
    for pos, (idx, agent, text, tools) in enumerate(steps):
        place = place_of(task, agent, text, pos, tools)
        if place is not None:
            by_place.setdefault(place, []).extend((idx, f) for f in PLACES[place])
    weights = {p: rng.uniform(0.3, 1.7) for p in sorted(by_place)}
    out: list[tuple[int, str]] = []
    while by_place:
        places = sorted(by_place)
        place = rng.choices(places, weights=[weights[p] for p in places])[0]
        pool = by_place[place]
        out.append(pool.pop(rng.randrange(len(pool))))
        if not pool:
            del by_place[place]
    return out
