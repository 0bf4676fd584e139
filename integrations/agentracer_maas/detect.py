"""Recognising MaAS workflows, operators, their LLM and controller by shape (MaAS is not on the registry).

See :mod:`agentracer_maas.instrument` for the rules; :func:`is_maas` is the plugin's detection test.
"""

from __future__ import annotations

import inspect
from typing import Any

from .state import instrumentation_of

__all__ = ["find_operators", "is_maas", "is_operator"]


def _is_async_callable(obj: Any) -> bool:
    call = getattr(type(obj), "__call__", None)  # noqa: B004 - we need the class attribute, not callable()
    if call is None:
        return False
    call = inspect.unwrap(call)
    return inspect.iscoroutinefunction(call)


def is_operator(obj: Any) -> bool:
    """Whether ``obj`` looks like a MaAS operator instance (see :mod:`agentracer_maas.instrument`)."""
    if isinstance(obj, type) or obj is None:
        return False
    try:
        if not _is_async_callable(obj) or not hasattr(obj, "llm"):
            return False
        if callable(getattr(obj, "_fill_node", None)):
            return True
        return any(c.__name__ == "Operator" for c in type(obj).__mro__[1:])
    except Exception:
        return False


def _children(workflow: Any) -> list[tuple[str, Any, bool]]:
    """``(path, value, in_pool)`` for each attribute value and each item of dict/list attributes."""
    out: list[tuple[str, Any, bool]] = []
    try:
        attrs = dict(vars(workflow))
    except TypeError:
        return out
    for name, value in attrs.items():
        if name.startswith("_agentracer"):
            continue
        if isinstance(value, dict):
            for k, v in list(value.items()):
                out.append((f"{name}[{k}]", v, str(k) == str(getattr(v, "name", None) or type(v).__name__)))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                out.append((f"{name}[{i}]", v, False))
        else:
            out.append((name, value, False))
    return out


def find_operators(workflow: Any) -> dict[str, Any]:
    """The operators of ``workflow`` by unambiguous agent name (see :mod:`agentracer_maas.instrument`)."""
    seen: dict[int, tuple[str, Any, bool]] = {}
    for path, value, in_pool in _children(workflow):
        if not is_operator(value):
            continue
        prev = seen.get(id(value))
        if prev is None or (in_pool and not prev[2]):
            seen[id(value)] = (path, value, in_pool or (prev[2] if prev else False))
    groups: dict[str, list[tuple[str, Any, bool]]] = {}
    for path, op, in_pool in seen.values():
        base = str(getattr(op, "name", None) or type(op).__name__)
        groups.setdefault(base, []).append((path, op, in_pool))
    names: dict[str, Any] = {}
    for base, members in groups.items():
        if len(members) == 1:
            names[base] = members[0][1]
            continue
        pooled = [m for m in members if m[2]]
        for path, op, in_pool in members:
            if in_pool and len(pooled) == 1:
                names[base] = op
            else:
                attr = path.split("[", 1)[0] if not in_pool else path
                name = f"{base}@{attr}"
                k = 2
                while name in names:
                    name = f"{base}@{attr}{k}"
                    k += 1
                names[name] = op
    return names


def is_maas(obj: Any) -> bool:
    """Whether ``obj`` looks like a MaAS workflow: an ``async __call__`` and at least one operator."""
    if isinstance(obj, type) or obj is None:
        return False
    try:
        if instrumentation_of(obj) is not None:
            return True
        return _is_async_callable(obj) and not is_operator(obj) and bool(find_operators(obj))
    except Exception:
        return False


def _find_controller(workflow: Any) -> Any:
    try:
        for name, value in vars(workflow).items():
            if "controller" in name.lower() and callable(getattr(value, "forward", None)):
                return value
    except TypeError:
        return None
    return None


def _llms(workflow: Any, operators: dict[str, Any]) -> list[Any]:
    found: list[Any] = []
    for obj in [getattr(workflow, "llm", None), *[getattr(op, "llm", None) for op in operators.values()]]:
        if obj is not None and callable(getattr(obj, "aask", None)) and all(obj is not f for f in found):
            found.append(obj)
    return found
