"""Shared state of the MaAS plugin: per-workflow instrumentation, per-run and per-operator contexts, fork plans.

The wrappers in :mod:`agentracer_maas.operators`, :mod:`agentracer_maas.llm` and
:mod:`agentracer_maas.controller` talk to each other only through the context variables here: the run
open in this task (``_RUN``), the operator step open in it (``_OP``) and the fork being run (``_PLAN``).
"""

from __future__ import annotations

import contextvars
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from agentracer.recording import Recorder
from agentracer.trace import Trace, normalize_agent

log = logging.getLogger("agentracer.maas")
FRAMEWORK = "maas"
_STATE = "_agentracer_maas"
_ORIGINAL = "_agentracer_original_class"
_MISSING = object()


@dataclass
class ForkPlan:
    """How a forked run differs from a plain one: the recorder (with a :class:`ReplayLLM`), the
    recorded architecture to replay, and the operator call whose output is replaced."""

    recorder: Recorder
    parent: Trace
    step: int
    operator_call: int
    replacement: Any
    recorded_output: Any = None
    architecture: list[list[str]] | None = None
    log_probs: list[float] | None = None
    log_probs_tensor: bool = False


@dataclass
class _RunCtx:
    inst: MaasInstrumentation
    recorder: Recorder
    run: Any
    plan: ForkPlan | None
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_call(self) -> int:
        with self.lock:
            n = self.calls
            self.calls += 1
            return n


@dataclass
class _OpCtx:
    inst: MaasInstrumentation | None
    agent: str
    handle: Any


_RUN: contextvars.ContextVar[_RunCtx | None] = contextvars.ContextVar("agentracer_maas_run", default=None)
_OP: contextvars.ContextVar[_OpCtx | None] = contextvars.ContextVar("agentracer_maas_op", default=None)
_PLAN: contextvars.ContextVar[ForkPlan | None] = contextvars.ContextVar("agentracer_maas_plan", default=None)


class MaasInstrumentation:
    """Per-workflow instrumentation state: the recorder, operator agent names, feedback per agent."""

    def __init__(self, workflow: Any, recorder: Recorder) -> None:
        self.workflow = workflow
        self.recorder = recorder
        self.operators: dict[str, Any] = {}
        self.feedback: dict[str, str] = {}
        self.controller: Any = None
        self.llms: list[Any] = []

    @property
    def agents(self) -> list[str]:
        """The operator agent names, in discovery order."""
        return list(self.operators)

    def agent_of(self, op: Any) -> str:
        for name, o in self.operators.items():
            if o is op:
                return name
        return str(getattr(op, "name", None) or type(op).__name__)

    def resolve(self, agent: str) -> list[str]:
        """Agent names matching ``agent``: an exact (normalised) name, else every ``<agent>@...``."""
        want = normalize_agent(agent)
        exact = [a for a in self.operators if normalize_agent(a) == want]
        if exact:
            return exact
        return [a for a in self.operators if normalize_agent(a.split("@", 1)[0]) == want]


def instrumentation_of(workflow: Any) -> MaasInstrumentation | None:
    """The :class:`MaasInstrumentation` attached to an instrumented workflow, or None."""
    try:
        inst = vars(workflow).get(_STATE)
    except TypeError:
        return None
    return inst if isinstance(inst, MaasInstrumentation) else None


_OWNERS: dict[int, Any] = {}  # id(operator) -> weakref to its MaasInstrumentation


def _owner_of(op: Any) -> MaasInstrumentation | None:
    ref = _OWNERS.get(id(op))
    if ref is None:
        return None
    inst = ref()
    return inst if isinstance(inst, MaasInstrumentation) else None


class _Null:
    """A step handle that records nothing (the recorder could not open the step)."""

    replayed = None
    step = None

    def end(self, *a: Any, **k: Any) -> None:
        return None

    def set(self, **k: Any) -> None:
        return None
