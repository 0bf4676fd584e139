"""Recognise AutoGen AgentChat objects, and look AutoGen classes up on first use.

The plugin loads for every agentracer user, so nothing here imports AutoGen until an AutoGen object
exists (:func:`is_autogen`) or a hook needs one of its classes (:func:`ag_class`).
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["FRAMEWORK", "ag_class", "is_autogen"]

FRAMEWORK = "autogen"

_AG_CLASSES: dict[str, type] = {}


def is_autogen(obj: Any) -> bool:
    """Whether ``obj`` is an instance of an ``autogen_agentchat`` class (or of a subclass of one).

    If AutoGen AgentChat was never imported, nothing can be one of its objects, so nothing is imported here.
    """
    if "autogen_agentchat" not in sys.modules:
        return False
    try:
        return any(c.__module__.startswith("autogen_agentchat") for c in type(obj).__mro__)
    except Exception:
        return False


def ag_class(name: str) -> type:
    """An ``autogen_agentchat`` class by name, imported once (an import statement per hook call costs)."""
    cls = _AG_CLASSES.get(name)
    if cls is None:
        if name in ("Response", "TaskResult"):
            from autogen_agentchat import base as mod
        else:
            from autogen_agentchat import messages as mod  # type: ignore[no-redef]
        cls = _AG_CLASSES[name] = getattr(mod, name)
    return cls
