"""Per-instance patching: the plugin replaces methods on the AutoGen objects it is given, never on a class.

:func:`late_bound` is the original method a wrapper calls; :func:`install` puts the wrapper on the instance,
remembering the original under ``_agentracer_orig``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["ORIG_ATTR", "install", "late_bound"]

ORIG_ATTR = "_agentracer_orig"


def late_bound(obj: Any, name: str) -> Callable[..., Any]:
    """``obj.name`` resolved at call time, so class-level instrumentors (OpenInference) added or removed
    after us still apply; an instance-level attribute that was there before us is kept."""
    own = obj.__dict__.get(name) if hasattr(obj, "__dict__") else None
    if own is not None:
        return own  # type: ignore[no-any-return]

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(type(obj), name).__get__(obj, type(obj))(*args, **kwargs)

    return call


def install(obj: Any, name: str, wrapper: Callable[..., Any], orig: Callable[..., Any]) -> None:
    """Set ``wrapper`` as ``obj.name`` (on the instance, past pydantic's ``__setattr__``), noting ``orig`` on it."""
    setattr(wrapper, ORIG_ATTR, orig)
    object.__setattr__(obj, name, wrapper)
