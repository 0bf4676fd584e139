"""Recognise a compiled LangGraph graph without importing LangGraph (the plugin loads for every user)."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["is_langgraph"]


def is_langgraph(system: Any) -> bool:
    """Whether ``system`` is a compiled LangGraph graph (``Pregel``, e.g. ``CompiledStateGraph``).

    If LangGraph was never imported, nothing can be one of its graphs, so nothing is imported here.
    """
    main = sys.modules.get("langgraph.pregel.main") or sys.modules.get("langgraph.pregel")
    pregel = getattr(main, "Pregel", None) if main is not None else None
    return pregel is not None and isinstance(system, pregel)
