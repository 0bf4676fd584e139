"""The fault taxonomy (:data:`FAULTS`): one :class:`FaultSpec` per fault type, each with its mutator;
:func:`mutate` applies one to a text, :func:`applicable_faults` lists those that apply."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .code_mutators import Pick, ast_mutation, code_region, pick_drop_clause, pick_invert, pick_off_by_one, pick_return
from .text_mutators import text_drop, text_fabricate, text_handoff, text_invert, text_off_by_one, text_tool_arg

__all__ = ["FAULTS", "FaultSpec", "InjectionError", "MutationContext", "applicable_faults", "mutate"]


class InjectionError(ValueError):
    """A fault does not apply to a step's text (nothing to mutate), or the step cannot be injected."""


@dataclass
class MutationContext:
    """What mutators may draw replacements from: the agents, the speaker, names and facts seen in the run."""

    agents: list[str] = field(default_factory=list)
    speaker: str | None = None
    vocabulary: list[str] = field(default_factory=list)


@dataclass
class FaultSpec:
    """One fault type: its name, what it models, and its mutator ``(text, rng, ctx) -> text | None``."""

    name: str
    description: str
    mutate: Callable[[str, random.Random, MutationContext], str | None]


def _code_first(code_pick: Pick | None, text_fn: Any) -> Callable[..., str | None]:
    def mutate(text: str, rng: random.Random, ctx: MutationContext) -> str | None:
        if code_pick is not None and code_region(text) is not None:
            out = ast_mutation(text, rng, code_pick)
            if out is not None:
                return out
        return text_fn(text, rng, ctx) if text_fn is not None else None

    return mutate


FAULTS: dict[str, FaultSpec] = {
    f.name: f
    for f in (
        FaultSpec("wrong_return_value", "a function returns the wrong value (ast: swapped reducer, wrong variable, "
                  "negated/truncated result); in prose, a wrong final value", _code_first(pick_return, text_off_by_one)),
        FaultSpec("inverted_condition", "a comparison or condition is inverted (ast: > vs <=, and vs or, not; prose: "
                  "greater/less, add/subtract, pass/fail ...)", _code_first(pick_invert, text_invert)),
        FaultSpec("off_by_one", "a number is off by one (ast: an integer constant; prose: a stated value)",
                  _code_first(pick_off_by_one, text_off_by_one)),
        FaultSpec("wrong_tool_argument", "a tool is called with a wrong argument", text_tool_arg),
        FaultSpec("dropped_constraint", "a requirement is silently dropped (a list item, a clause, a filter condition)",
                  _code_first(pick_drop_clause, text_drop)),
        FaultSpec("fabricated_fact", "a stated fact (a name or a number) is made up", text_fabricate),
        FaultSpec("wrong_handoff", "the work is handed to the wrong agent", text_handoff),
    )
}


def mutate(fault: str, text: str, *, rng: random.Random | int | None = None, ctx: MutationContext | None = None) -> str:
    """``text`` with ``fault`` injected; raises :class:`InjectionError` when the fault does not apply."""
    spec = FAULTS.get(fault)
    if spec is None:
        raise InjectionError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
    r = rng if isinstance(rng, random.Random) else random.Random(rng)
    out = spec.mutate(text or "", r, ctx or MutationContext())
    if out is None or out == text:
        raise InjectionError(f"fault {fault!r} does not apply to this text (nothing to mutate): {text[:80]!r}")
    return out


def applicable_faults(text: str, ctx: MutationContext | None = None) -> list[str]:
    """The faults whose mutator changes ``text`` (tried with a fixed seed)."""
    out = []
    for name, spec in FAULTS.items():
        try:
            res = spec.mutate(text or "", random.Random(0), ctx or MutationContext())
        except Exception:  # a mutator that chokes on odd text simply does not apply
            res = None
        if res is not None and res != text:
            out.append(name)
    return out

