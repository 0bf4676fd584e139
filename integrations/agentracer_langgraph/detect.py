"""Recognise a compiled LangGraph graph without importing LangGraph (the plugin loads for every user)."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["is_langgraph", "is_uncompiled_graph"]


def is_langgraph(system: Any) -> bool:
    """Whether ``system`` is a compiled LangGraph graph (``Pregel``, e.g. ``CompiledStateGraph``).

    If LangGraph was never imported, nothing can be one of its graphs, so nothing is imported here.
    """
    main = sys.modules.get("langgraph.pregel.main") or sys.modules.get("langgraph.pregel")
    pregel = getattr(main, "Pregel", None) if main is not None else None
    return pregel is not None and isinstance(system, pregel)


def is_uncompiled_graph(system: Any) -> bool:
    """Whether ``system`` is a LangGraph ``StateGraph`` builder that was not compiled yet."""
    mod = sys.modules.get("langgraph.graph.state")
    builder = getattr(mod, "StateGraph", None) if mod is not None else None
    return builder is not None and isinstance(system, builder)
