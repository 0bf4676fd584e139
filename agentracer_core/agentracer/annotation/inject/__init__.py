"""Programmatic fault injection: corrupt one step of a successful run, so the injected step is the label.

The fault taxonomy (:data:`FAULTS`) and one mutator per fault. Code (a step whose text is, or holds a
fenced block of, Python) is mutated with :mod:`ast` — return values, comparisons, constants, filter
clauses — and unparsed back; numbers and text have mutators of their own (regular expressions over
numbers, condition words, numbered lists, tool-call arguments, agent names, stated facts).

:func:`inject` applies a mutator to step k of a trace, re-runs the suffix on a
:class:`~agentracer.annotation.replay.Replayable` system, and keeps the sample only if the run now
fails: an :class:`~agentracer.trace.AnnotatedTrace` with ``source="injection"``, the injected step and
its agent as gold, and ``fault_type`` set. Without a runnable system the mutated trace is returned
marked unverified (``metadata["verified"] = False``).

Modules: :mod:`.taxonomy` (the faults, :func:`mutate`), :mod:`.code_mutators` and :mod:`.text_mutators`
(one mutator per fault), :mod:`.apply` (:func:`inject`, :func:`context_for`).
"""

from __future__ import annotations

from .apply import context_for, inject, scrub_fork_markers
from .taxonomy import FAULTS, FaultSpec, InjectionError, MutationContext, applicable_faults, mutate

__all__ = [
    "FAULTS",
    "FaultSpec",
    "InjectionError",
    "MutationContext",
    "applicable_faults",
    "context_for",
    "inject",
    "mutate",
    "scrub_fork_markers",
]
