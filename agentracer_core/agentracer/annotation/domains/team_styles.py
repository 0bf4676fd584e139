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

from .base import Task

__all__ = ["STYLES", "restyle"]

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
