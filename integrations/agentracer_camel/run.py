"""Run a CAMEL Workforce on one question (the ``agentracer_run`` hook, used by ``agentracer.refine``)."""

from __future__ import annotations

from typing import Any

__all__ = ["run_workforce"]


def run_workforce(system: Any, task: str) -> str | None:
    """``process_task(Task(content=task))``; the task's result, or None if ``system`` is not a Workforce
    (the caller has checked that it is a CAMEL object)."""
    if not hasattr(system, "process_task"):
        return None
    from camel.tasks import Task

    t = system.process_task(Task(content=task, id=f"t{abs(hash(task)) % 10**8}"))
    return str(getattr(t, "result", "") or "")
