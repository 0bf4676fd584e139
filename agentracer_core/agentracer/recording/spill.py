"""What a long run keeps in memory under ``max_steps_in_memory`` (issue 19: bounded memory).

- :class:`SpillableSteps` is ``trace.steps`` of such a run: a ``list`` of Steps in which a spilled step (one
  whose content went to the sink) takes about 16 bytes (its list slot, a shape number and a parent number)
  instead of a Step object. Reading it (``steps[i]``, iteration, slices, ``len``) gives every step, the spilled
  ones as :class:`SpilledStep` stand-ins built on the fly: index, agent, role, kind, parent and tool name,
  ``metadata["spilled"]`` True, no content. The whole trace is read back from the sink.
- :class:`CallKeyCounts` is a run's count of LLM call keys (``run.llm_seen``) in about 12 bytes a key.
"""

from __future__ import annotations

import copy
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any, SupportsIndex

from ..trace import Step

__all__ = ["CallKeyCounts", "SpillableSteps", "SpilledStep", "spilled"]


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


def _stand_in(index: int, agent: Any, role: Any, kind: Any, parent: int | None, tool_name: Any) -> SpilledStep:
    s = object.__new__(SpilledStep)
    # plain attribute sets (not s.__dict__[...]): CPython keeps them as compact shared-key values
    s.index = index
    s.agent = agent
    s.role = role
    s.kind = kind
    s.parent = parent
    s.tool_name = tool_name
    return s


def _intern(value: Any) -> Any:
    return sys.intern(value) if type(value) is str else value  # one copy per agent name


def spilled(step: Step) -> SpilledStep:
    """The compact stand-in of ``step`` (its content is not copied)."""
    return _stand_in(step.index, _intern(step.agent), step.role, step.kind, step.parent, step.tool_name)


class _Hole:
    """What a spilled step's list slot holds; :class:`SpillableSteps` never hands it out."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<spilled step>"


_HOLE = _Hole()
_MAX_I32 = 2**31 - 1


class SpillableSteps(list):  # type: ignore[type-arg]
    """``trace.steps`` of a run recorded with ``max_steps_in_memory``: a list whose spilled steps are kept as
    two array cells (a number for the step's (agent, role, kind, tool name) and its parent) and read as
    :class:`SpilledStep` stand-ins.

    Everything a reader does with a list works and sees every step: ``len``, ``steps[i]`` (negative too),
    slices, iteration, ``reversed``, ``in``, ``==``, ``+``, copies and pickling (those give a plain list of
    stand-ins). A stand-in is built afresh on each read, so setting an attribute on one changes nothing (its
    step is already in the sink). Mutations that move steps (``insert``, ``pop``, ``del``, ``sort``...) first
    turn every spilled slot into a stand-in object (:meth:`unspill`), then act as on a list.
    """

    __slots__ = ("_parent", "_shape", "_shape_ids", "_shapes", "spilled")

    def __init__(self, iterable: Iterable[Any] = ()) -> None:
        super().__init__(iterable)
        self._shape = array("I")  # per position: index into _shapes (meaningful at spilled positions only)
        self._parent = array("i")  # per position: parent index, -1 for None
        self._shapes: list[tuple[Any, Any, Any, Any]] = []
        self._shape_ids: dict[tuple[Any, Any, Any, Any], int] = {}
        self.spilled = 0  # how many steps are spilled now

    # ------------------------------------------------------------------ spilling
    def spill(self, i: int, step: Step | None = None) -> bool:
        """Drop the Step at position ``i`` from memory, keeping its stand-in fields; False (nothing changed)
        when ``step`` is given and is not the one there, or the step cannot be kept compactly (its index is
        not ``i``, an odd parent, an unhashable field)."""
        here = list.__getitem__(self, i)
        if here is _HOLE or (step is not None and here is not step):
            return here is _HOLE and step is None
        step = here
        if type(step.index) is not int or step.index != i or i > _MAX_I32:
            return False
        parent = step.parent
        if parent is not None and (type(parent) is not int or not 0 <= parent < i):
            return False
        shape = (_intern(step.agent), step.role, step.kind, step.tool_name)
        try:
            sid = self._shape_ids.get(shape)
        except TypeError:  # an unhashable field
            return False
        if sid is None:
            sid = len(self._shapes)
            self._shapes.append(shape)
            self._shape_ids[shape] = sid
        grow = i + 1 - len(self._shape)
        if grow > 0:
            self._shape.frombytes(bytes(grow * self._shape.itemsize))
            self._parent.frombytes(bytes(grow * self._parent.itemsize))
        self._shape[i] = sid
        self._parent[i] = -1 if parent is None else parent
        list.__setitem__(self, i, _HOLE)
        self.spilled += 1
        return True

    def _at(self, i: int) -> SpilledStep:
        agent, role, kind, tool = self._shapes[self._shape[i]]
        p = self._parent[i]
        return _stand_in(i, agent, role, kind, None if p < 0 else p, tool)

    def unspill(self) -> None:
        """Turn every spilled slot into a :class:`SpilledStep` object (before a mutation that moves steps)."""
        if self.spilled:
            for i, v in enumerate(list.__iter__(self)):
                if v is _HOLE:
                    list.__setitem__(self, i, self._at(i))
        self._shape = array("I")
        self._parent = array("i")
        self._shapes, self._shape_ids, self.spilled = [], {}, 0

    # ------------------------------------------------------------------ reading
    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            idx = range(*key.indices(len(self)))
            return [self._at(i) if v is _HOLE else v for i, v in zip(idx, list.__getitem__(self, key), strict=True)]
        v = list.__getitem__(self, key)
        if v is _HOLE:
            i = key.__index__()
            return self._at(i + len(self) if i < 0 else i)
        return v

    def __iter__(self) -> Iterator[Any]:
        for i, v in enumerate(list.__iter__(self)):
            yield self._at(i) if v is _HOLE else v

    def __reversed__(self) -> Iterator[Any]:
        for i, v in zip(range(len(self) - 1, -1, -1), list.__reversed__(self), strict=False):
            yield self._at(i) if v is _HOLE else v

    def __contains__(self, x: object) -> bool:
        return any(s is x or s == x for s in self)

    def index(self, x: Any, start: SupportsIndex = 0, stop: SupportsIndex = sys.maxsize) -> int:
        return list(self).index(x, start, stop)

    def count(self, x: Any) -> int:
        return sum(1 for s in self if s is x or s == x)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, list):
            return NotImplemented
        return len(self) == len(other) and all(a is b or a == b for a, b in zip(self, other, strict=False))

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(list(self))

    def __add__(self, other: Any) -> list[Any]:  # type: ignore[override]
        return list(self) + list(other) if isinstance(other, list) else NotImplemented

    def __radd__(self, other: Any) -> list[Any]:
        return list(other) + list(self) if isinstance(other, list) else NotImplemented

    def __mul__(self, n: SupportsIndex) -> list[Any]:  # type: ignore[override]
        return list(self) * n

    __rmul__ = __mul__  # type: ignore[assignment]

    def copy(self) -> list[Any]:  # type: ignore[override]
        return list(self)

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        out = copy.deepcopy(list(self), memo)
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        return (list, (list(self),))

    # ------------------------------------------------------------------ writing
    def extend(self, iterable: Iterable[Any]) -> None:
        list.extend(self, list(self) if iterable is self else iterable)

    def __iadd__(self, iterable: Iterable[Any]) -> SpillableSteps:  # type: ignore[override,misc]
        self.extend(iterable)
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, slice):
            self.unspill()
        list.__setitem__(self, key, value)

    def __delitem__(self, key: Any) -> None:
        self.unspill()
        list.__delitem__(self, key)

    def insert(self, i: SupportsIndex, x: Any) -> None:
        self.unspill()
        list.insert(self, i, x)

    def pop(self, i: SupportsIndex = -1) -> Any:
        self.unspill()
        return list.pop(self, i)

    def remove(self, x: Any) -> None:
        self.unspill()
        list.remove(self, x)

    def sort(self, *args: Any, **kwargs: Any) -> None:
        self.unspill()
        list.sort(self, *args, **kwargs)

    def reverse(self) -> None:
        self.unspill()
        list.reverse(self)

    def clear(self) -> None:
        list.clear(self)
        self.unspill()

    def __imul__(self, n: SupportsIndex) -> SpillableSteps:  # type: ignore[override,misc]
        self.unspill()
        list.__imul__(self, n)
        return self


class CallKeyCounts:
    """How many times each LLM call key was seen in a run: ``get(key, 0)`` and ``[key] = n`` as on a dict.

    A call key (32 hex digits) seen once costs about 12 bytes: its first 64 bits in a sorted ``array``, with
    the keys seen since the last merge in a small set; counts above one are in a dict. Two keys that share
    their first 64 bits (about one chance in 10^9 among 200,000 calls) count as one. Any other key is kept in a
    plain dict. Not thread-safe (the recorder holds the run's lock); ``get`` then ``[key] = n`` on the same key
    looks it up once.
    """

    __slots__ = ("_counts", "_last", "_merge_at", "_merged", "_other", "_recent")

    def __init__(self, merge_at: int = 1024) -> None:
        self._merge_at = merge_at  # the recent set is merged into the array at this size (or 1/16 of the array)
        self._merged = array("Q")  # sorted
        self._recent: set[int] = set()
        self._counts: dict[int, int] = {}  # every count other than 1
        self._other: dict[Any, int] = {}
        self._last: tuple[Any, int, bool] | None = None  # (key, code, seen) of the last get

    def _look(self, key: Any) -> tuple[int, bool] | None:
        """(the key's code, whether it was seen), or None for a key that is not 32 hex digits."""
        last = self._last
        if last is not None and last[0] is key:
            return last[1], last[2]
        if type(key) is not str or len(key) != 32:
            return None
        try:
            k = int(key[:16], 16)
        except ValueError:
            return None
        if k < 0:
            return None
        if k in self._recent:
            return k, True
        m = self._merged
        i = bisect_left(m, k)
        return k, i < len(m) and m[i] == k

    def get(self, key: Any, default: Any = None) -> Any:
        look = self._look(key)
        if look is None:
            return self._other.get(key, default)
        k, seen = look
        self._last = (key, k, seen)
        n = self._counts.get(k)
        if n is not None:
            return n
        return 1 if seen else default

    def __getitem__(self, key: Any) -> int:
        n = self.get(key)
        if n is None:
            raise KeyError(key)
        return n

    def __contains__(self, key: Any) -> bool:
        return self.get(key) is not None

    def __setitem__(self, key: Any, n: int) -> None:
        look = self._look(key)
        self._last = None
        if look is None:
            self._other[key] = n
            return
        k, seen = look
        if not seen:
            self._recent.add(k)
            if len(self._recent) >= max(self._merge_at, len(self._merged) // 16):
                self._merged = array("Q", sorted(chain(self._merged, self._recent)))
                self._recent = set()
        if n == 1:
            self._counts.pop(k, None)
        else:
            self._counts[k] = n

    def __len__(self) -> int:
        return len(self._merged) + len(self._recent) + len(self._other)
