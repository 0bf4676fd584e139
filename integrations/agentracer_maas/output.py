"""Operator outputs: their readable text (a step's content), JSON forms, and schema-keeping replacement.

:func:`render_output` is what attribution reads as an operator step's content; :func:`override_output`
is how a fork puts a replacement text into the recorded output's shape.
"""

from __future__ import annotations

import copy
import json
from typing import Any

__all__ = ["override_output", "render_output"]

_PRIMARY_KEYS = ("response", "solution", "output", "answer", "code", "result")


def _jsonable(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, default=_default))
    except (TypeError, ValueError, RecursionError):
        return str(value)


def _default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "model_dump"):
        return o.model_dump()
    return str(o)


def _float(x: Any) -> float | None:
    try:
        return float(x.item() if hasattr(x, "item") else x)
    except (TypeError, ValueError, RuntimeError):
        return None


def render_output(value: Any) -> str:
    """Readable text of an operator output (what attribution reads as the step's content)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if len(value) == 1:
            (k, v), = value.items()
            if isinstance(v, str):
                return v
            if isinstance(v, list):
                return "\n".join(f"[{i + 1}] {render_output(x)}" for i, x in enumerate(v))
        lines = []
        for k, v in value.items():
            text = v if isinstance(v, str) else json.dumps(_jsonable(v), ensure_ascii=False)
            lines.append(f"{k}: {text}")
        return "\n".join(lines)
    if isinstance(value, list):
        return "\n".join(f"[{i + 1}] {render_output(x)}" for i, x in enumerate(value))
    try:
        return json.dumps(_jsonable(value), ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def override_output(recorded: Any, replacement: Any) -> Any:
    """``recorded`` with its primary text replaced by ``replacement``, keeping the output schema.

    A replacement that is not a string (or a JSON object/list string matching the recorded type) is
    used as is. For dicts the first of ``response``, ``solution``, ``output``, ``answer``, ``code`` that
    holds text (or a list of outputs, e.g. MultiGenerateCoT's ``{"response": [{...} x3]}``) is replaced.
    """
    if not isinstance(replacement, str):
        return copy.deepcopy(replacement)
    if isinstance(recorded, (dict, list)):
        try:
            parsed = json.loads(replacement)
        except (json.JSONDecodeError, ValueError):
            parsed = None
        if isinstance(parsed, type(recorded)):
            return parsed
    if recorded is None or isinstance(recorded, str):
        return replacement
    if isinstance(recorded, list):
        return [override_output(x, replacement) for x in recorded]
    if isinstance(recorded, dict):
        out = copy.deepcopy(recorded)
        for key in _PRIMARY_KEYS:
            if key in out and isinstance(out[key], (str, list, dict)):
                out[key] = override_output(out[key], replacement)
                return out
        for key, v in out.items():
            if isinstance(v, str):
                out[key] = replacement
        return out
    return replacement
