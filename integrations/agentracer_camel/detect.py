"""Recognise a CAMEL object without importing CAMEL (the plugin loads for every user)."""

from __future__ import annotations

from typing import Any

__all__ = ["is_camel"]


def is_camel(obj: Any) -> bool:
    """Whether ``obj`` is an instance of a class defined in CAMEL (a ``camel.*`` module, e.g. a ChatAgent,
    a RolePlaying society or OWL's ``OwlRolePlaying``, or a Workforce). Never raises."""
    try:
        return any(str(getattr(c, "__module__", "")).startswith("camel.") for c in type(obj).__mro__)
    except Exception:
        return False
