"""Who is recorded, and into which run: the weak registries, the per-system session and its runs.

An instrumented system (a ChatAgent, a RolePlaying society or a Workforce) gets one :class:`Session`
(its recorder, names given by the user, the run now open). Its agents are registered in
:data:`AGENTS`; every class patch looks there first, and what is not registered passes straight
through. The context variables here carry what a patch below needs from a patch above it (the open
agent step, the Workforce run, the worker at work, a fork in progress).
"""

from __future__ import annotations

import contextvars
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentracer.recording import Recorder, ReplayLLM, Run, current_run, redact_obj

FRAMEWORK = "camel"
TASK_DONE = "TASK_DONE"  # what the user agent of a RolePlaying/OWL society says when the task is done


class WeakIdMap:
    """``obj -> value`` by identity, holding ``obj`` weakly (CAMEL objects are not guaranteed hashable)."""

    def __init__(self) -> None:
        self._d: dict[int, tuple[weakref.ref[Any], Any]] = {}
        self._lock = threading.Lock()

    def get(self, obj: Any) -> Any:
        entry = self._d.get(id(obj))
        if entry is None:
            return None
        ref, value = entry
        return value if ref() is obj else None

    def set(self, obj: Any, value: Any) -> None:
        key = id(obj)
        d = self._d

        def _drop(r: weakref.ref[Any], key: int = key) -> None:
            e = d.get(key)
            if e is not None and e[0] is r:
                d.pop(key, None)

        with self._lock:
            d[key] = (weakref.ref(obj, _drop), value)

    def pop(self, obj: Any) -> Any:
        with self._lock:
            entry = self._d.get(id(obj))
            if entry is not None and entry[0]() is obj:
                del self._d[id(obj)]
                return entry[1]
        return None


@dataclass
class AgentInfo:
    """How one registered ChatAgent is recorded: its session, its name and its role in the system."""

    session: Session
    role: str  # solo | user | assistant | critic | coordinator | planner | worker
    name: str | None = None  # fixed name; None: resolve from the session


@dataclass
class Session:
    """One instrumented system (a ChatAgent, a RolePlaying society or a Workforce) and its recorder."""

    recorder: Recorder
    kind: str  # agent | role_playing | workforce
    system_ref: Callable[[], Any]
    system_class: str
    names: dict[str, str] = field(default_factory=dict)
    run: Run | None = None
    external_run: bool = False
    managed: bool = False
    round_limit: int | None = None
    rounds: list[dict[str, Any]] = field(default_factory=list)
    round_state: dict[str, Any] = field(default_factory=dict)
    worker_names: dict[str, str] = field(default_factory=dict)
    own_runs: set[str] = field(default_factory=set)
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def system(self) -> Any:
        return self.system_ref()

    def override(self, *keys: Any) -> str | None:
        """The user-given name for the first of ``keys`` (agent id, node id, description, role name)."""
        for k in keys:
            if isinstance(k, str) and k in self.names:
                return self.names[k]
        return None

    def run_open(self) -> bool:
        return self.run is not None and not self.run.ended


@dataclass
class StepCtx:
    """An open, recorded agent step: what the LLM and tool wrappers below it need."""

    session: Session
    role: str
    name: str
    agent: Any
    handle: Any
    run: Run
    own_run: bool = False
    override: str | None = None
    round: int | None = None


@dataclass
class ForkPlan:
    """What a fork changes: recorded LLM responses to serve, and the step whose output is replaced."""

    replay: ReplayLLM
    agent: str
    ordinal: int
    replacement: str
    parent_run_id: str
    step: int
    applied: bool = False
    served: int = 0

    def describe(self) -> dict[str, Any]:
        """What this fork is, for the new run's ``metadata["camel"]["fork"]``."""
        return {"parent_run_id": self.parent_run_id, "step": self.step, "agent": self.agent,
                "replacement": self.replacement}


AGENTS = WeakIdMap()  # ChatAgent -> AgentInfo
SYSTEMS = WeakIdMap()  # instrumented system -> Session

SKIP = object()  # an unregistered agent nested in a recorded step: record nothing below it
CURRENT: contextvars.ContextVar[Any] = contextvars.ContextVar("agentracer_camel_step", default=None)
ACTIVE: contextvars.ContextVar[Session | None] = contextvars.ContextVar("agentracer_camel_workforce", default=None)
WORKER: contextvars.ContextVar[tuple[Session, Any, Any] | None] = contextvars.ContextVar(
    "agentracer_camel_worker", default=None
)
FORK: contextvars.ContextVar[ForkPlan | None] = contextvars.ContextVar("agentracer_camel_fork", default=None)
IN_INIT: contextvars.ContextVar[bool] = contextvars.ContextVar("agentracer_camel_init", default=False)


def session_of(system: Any) -> Session | None:
    """The session of an instrumented system, or None."""
    return SYSTEMS.get(system)


# --------------------------------------------------------------------------- OpenTelemetry context


def attach_span(handle: Any) -> Any:
    """Make the span of a recorded step or call current (so the host's own spans nest under it)."""
    from opentelemetry import context as otel_context
    from opentelemetry import trace as otel

    span = getattr(handle, "span", None)
    if not isinstance(span, otel.Span):
        return None

    return otel_context.attach(otel.set_span_in_context(span))


def detach(token: Any) -> None:
    """Undo :func:`attach_span` (a no-op for None or a token of another context)."""
    if token is None:
        return
    from opentelemetry import context as otel_context

    try:
        otel_context.detach(token)
    except Exception:  # detached in another context: nothing to restore
        pass


# --------------------------------------------------------------------------- runs


def camel_meta(run: Run) -> dict[str, Any]:
    """The ``trace.metadata["camel"]`` dict of ``run`` (created empty)."""
    return run.trace.metadata.setdefault("camel", {})


def redacted(session: Session, obj: Any) -> Any:
    """``obj`` with every string passed through the recorder's redactor (for what we put in metadata)."""
    red = getattr(session.recorder, "redact", None)
    return redact_obj(obj, red) if callable(red) else obj


def user_run(rec: Recorder) -> Run | None:
    """The run of ``rec`` opened in the caller's context (``with recorder.run(task): ...``), if any.

    Only the context counts (not "the recorder's only open run"), so a run left open by another system or
    thread is never joined by mistake.
    """
    run = current_run()
    if run is None or getattr(run, "recorder", None) is not rec or run.ended:
        return None
    return run


def open_run(session: Session, task: str, meta: dict[str, Any], agents: list[str] | None = None) -> Run | None:
    """Open a run for ``session`` (or join the run the user opened around it); store it on the session."""
    rec = session.recorder
    ext = user_run(rec)
    if ext is not None and ext.trace.run_id not in session.own_runs:
        session.run, session.external_run = ext, True
        camel_meta(ext).update(redacted(session, meta))
        return ext
    plan = FORK.get()
    if plan is not None:
        meta = dict(meta, fork=plan.describe())
    run = rec.start_run(task, framework=FRAMEWORK, agents=agents, metadata={"camel": meta})  # start_run redacts its metadata
    if not isinstance(run, Run):
        session.run = None
        return None
    session.own_runs.add(run.trace.run_id)
    session.run, session.external_run = run, False
    return run


def close_run(session: Session, *, final_answer: Any = None, outcome: str | None = None,
              error: BaseException | None = None) -> Any:
    """End the session's run (unless the user opened it); returns its trace."""
    run = session.run
    if run is None or run.ended:
        return run.trace if run is not None else None
    if session.external_run:
        return run.trace
    return session.recorder.end_run(run, outcome=outcome, final_answer=final_answer, error=error)
