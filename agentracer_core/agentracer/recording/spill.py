"""The stand-in a spilled step leaves in memory (``max_steps_in_memory``): :class:`SpilledStep` keeps a
step's index, agent, kind, role, parent and tool name in about 150 bytes; its content lives in the sink."""

from __future__ import annotations

import sys
from typing import Any

from ..trace import Step

__all__ = ["SpilledStep", "spilled"]


class _Default:
    """A Step field that a :class:`SpilledStep` does not store: it reads as a fresh default (``factory()``)
    until it is set, so code that reads or updates a spilled step keeps working."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        d = obj.__dict__
        if self.name in d:
            return d[self.name]
        value = self.factory()
        if isinstance(value, dict):  # a mutable default must stick, or updates to it would vanish
            d[self.name] = value
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value


class SpilledStep(Step):
    """A finished step whose content went to the sink (``metadata["spilled"]`` is True)."""

    content = _Default(str)
    tool_args = _Default(lambda: None)
    tool_result = _Default(lambda: None)
    started = _Default(lambda: None)
    ended = _Default(lambda: None)
    span_id = _Default(lambda: None)
    replay = _Default(dict)
    usage = _Default(dict)
    metadata = _Default(lambda: {"spilled": True})


def spilled(step: Step) -> SpilledStep:
    """The compact stand-in of ``step`` (its content is not copied)."""
    s = object.__new__(SpilledStep)
    # plain attribute sets (not s.__dict__[...]): CPython keeps them as compact shared-key values
    s.index = step.index
    s.agent = sys.intern(step.agent) if type(step.agent) is str else step.agent  # one copy per agent name
    s.role = step.role
    s.kind = step.kind
    s.parent = step.parent
    s.tool_name = step.tool_name
    return s
