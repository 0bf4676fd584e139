"""Cleaning of recorded values: JSON-safe copies with every string redacted (:func:`_clean`), the text of a
value (:func:`_text`) and JSON-safe metadata (:func:`_jsonable`). Hot path: every payload the recorder stores
goes through :func:`_clean`, so the exact JSON types take fast paths."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .redact import redact_pair

_SCALAR_TYPES = (str, int, float, bool, type(None))
_PLAIN = (int, float, bool, type(None))


def _flat_json(value: Any) -> bool:
    """True for a dict with string keys whose values are scalars or lists of scalars (``json.dumps`` of
    it cannot fail), so :func:`_jsonable` needs no trial serialisation."""
    if type(value) is not dict:
        return False
    for k, v in value.items():
        if type(k) is not str:
            return False
        t = type(v)
        if t in _SCALAR_TYPES:
            continue
        if t is list and all(type(x) in _SCALAR_TYPES for x in v):
            continue
        return False
    return True


def _jsonable(value: Any) -> Any:
    if _flat_json(value):
        return value
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    content = getattr(value, "content", None)
    if isinstance(content, str):
        return content
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def _redact_obj(obj: Any, redact: Callable[[str], str]) -> Any:
    """``obj`` with every string redacted (structure kept); see :func:`_clean` for a JSON-safe copy."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {k: redact_pair(k, v, redact) if isinstance(v, str) else _redact_obj(v, redact) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_redact_obj(v, redact) for v in obj]
    return obj


def _same(text: str) -> str:
    return text


def _clean(obj: Any, redact: Callable[[str], str], depth: int = 0) -> Any:
    """A JSON-safe copy of ``obj`` with every string redacted, in one pass.

    Objects that are not JSON types become their redacted ``content`` (messages) or ``str()``;
    nesting deeper than 32 levels is cut, so hostile inputs cannot blow the stack.
    """
    # fast paths for the exact JSON types (what payloads are made of); anything else, subclasses
    # included, takes the general path below
    t = type(obj)
    if t is str:
        return redact(obj)
    if t is int or t is bool or obj is None:
        return obj
    if depth <= 32:
        if t is dict:
            d = depth + 1
            out = {}
            for k, v in obj.items():
                tv = type(v)
                if tv is str:
                    v = redact_pair(k, v, redact)  # the field name can tell a secret: {"api_key": "..."}
                elif not (tv is int or tv is bool or v is None):
                    v = _clean(v, redact, d)
                out[k if isinstance(k, str) else str(k)] = v
            return out
        if t is list:
            d = depth + 1
            return [
                redact(v) if type(v) is str else v if (type(v) is int or v is None) else _clean(v, redact, d) for v in obj
            ]
    return _clean_any(obj, redact, depth)


def _clean_any(obj: Any, redact: Callable[[str], str], depth: int) -> Any:
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, _PLAIN):
        if isinstance(obj, float) and obj != obj:  # NaN is not JSON
            return None
        return obj
    if depth > 32:
        return "…"
    if isinstance(obj, dict):
        return {k if isinstance(k, str) else str(k): redact_pair(k, v, redact) if isinstance(v, str) else _clean(v, redact, depth + 1)
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_clean(v, redact, depth + 1) for v in obj]
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        try:
            return _clean(dump(), redact, depth + 1)
        except Exception:
            pass
    return redact(str(obj))
