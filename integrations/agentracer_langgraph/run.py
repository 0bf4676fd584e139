"""Run a compiled LangGraph graph on one question (the ``agentracer_run`` hook, used by ``agentracer.refine``)."""

from __future__ import annotations

from typing import Any

from .detect import is_langgraph

__all__ = ["run_graph"]


def run_graph(system: Any, task: str) -> str | None:
    """Invoke a graph with a messages state (``{"messages": [("user", task)]}``); the last message's content
    (the whole output when it has no messages), or None if ``system`` is not a compiled graph."""
    if not is_langgraph(system):
        return None
    out = system.invoke({"messages": [("user", task)]})
    msgs = out.get("messages") if isinstance(out, dict) else None
    return str(getattr(msgs[-1], "content", msgs[-1])) if msgs else str(out)
