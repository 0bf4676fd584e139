"""Recording CAMEL systems: class-level wrapt patches that record only what was instrumented.

The patches (installed once, on first :func:`register`) are:

- ``ChatAgent.step``: notes the caller's context, because ``step`` hands ``_step_impl`` to a
  ``ThreadPoolExecutor`` when ``step_timeout`` is set, and threads do not inherit contextvars (so neither
  our current step nor the OpenTelemetry context).
- ``ChatAgent._step_impl`` / ``ChatAgent._astep_non_streaming_task``: one agent step (``invoke_agent``),
  run inside the caller's context when it crossed a thread.
- ``ModelManager.run`` / ``arun``: one LLM call (``chat {model}``) under the open agent step; this is also
  the record/replay point (a recorded response is returned instead of calling the model).
- ``ChatAgent._execute_tool`` / ``_aexecute_tool``: one tool call (``execute_tool {tool}``).
- ``RolePlaying.init_chat`` / ``ainit_chat``: a RolePlaying run starts.
- ``Workforce.process_task_async`` (which ``process_task`` also goes through): a Workforce run.
- ``SingleAgentWorker._process_task`` / ``RolePlayingWorker._process_task``: which worker (a uuid) is at
  work, so its agent clones are recorded under the worker's readable name.

Every patch checks a weak registry first: agents and systems that were not instrumented pass straight
through. Every piece of our own code runs under ``try/except``; an error is logged, never raised into
the host, and the host call itself is always made exactly once.
"""

from __future__ import annotations

import contextvars
import copy
import logging
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentracer.recording import Recorder, ReplayLLM, Run, StepHandle, llm_call_key
from agentracer.trace import normalize_agent

log = logging.getLogger("agentracer.camel")

FRAMEWORK = "camel"
GENERIC_ROLE_NAMES = frozenset({"", "assistant", "user", "system", "agent"})
TASK_DONE = "TASK_DONE"

# --------------------------------------------------------------------------- registries


class _WeakIdMap:
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


_AGENTS = _WeakIdMap()  # ChatAgent -> AgentInfo
_SYSTEMS = _WeakIdMap()  # instrumented system -> Session
_SNAPSHOTS: OrderedDict[str, dict[str, Any]] = OrderedDict()  # run_id -> in-process fork snapshots
_SNAPSHOT_RUNS = 8
_SNAP_LOCK = threading.Lock()

# --------------------------------------------------------------------------- context


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


_SKIP = object()  # an unregistered agent nested in a recorded step: record nothing below it
_CUR: contextvars.ContextVar[Any] = contextvars.ContextVar("agentracer_camel_step", default=None)
_ACTIVE: contextvars.ContextVar[Session | None] = contextvars.ContextVar("agentracer_camel_workforce", default=None)
_WORKER: contextvars.ContextVar[tuple[Session, Any, Any] | None] = contextvars.ContextVar(
    "agentracer_camel_worker", default=None
)
_FORK: contextvars.ContextVar[ForkPlan | None] = contextvars.ContextVar("agentracer_camel_fork", default=None)
_IN_INIT: contextvars.ContextVar[bool] = contextvars.ContextVar("agentracer_camel_init", default=False)

_PENDING: dict[int, list[tuple[contextvars.Context, int]]] = {}
_PENDING_LOCK = threading.Lock()


def _guard(what: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Run our own code; log and swallow any error (the host run must never see it)."""
    try:
        return fn(*args)
    except Exception:
        log.exception("agentracer.camel: internal error in %s (ignored; the host run continues)", what)
        return None


# --------------------------------------------------------------------------- names


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    content = getattr(value, "content", None)
    return content if isinstance(content, str) else str(value)


def short_description(desc: str, limit: int = 64) -> str:
    """A readable worker name from a Workforce worker description: all of it when short, else its first
    clause (up to ``limit + 16`` characters), else its first ``limit`` characters cut at a word."""
    d = " ".join(str(desc).split()).rstrip(".")
    if len(d) <= limit:
        return d
    first = re.split(r"[.;:,(]", d, maxsplit=1)[0].strip()
    if 0 < len(first) <= limit + 16:
        return first
    cut = d[:limit].rsplit(" ", 1)[0]
    return cut + "…"


def _role_name(agent: Any) -> str:
    return str(getattr(agent, "role_name", "") or "")


def _is_generic(name: str) -> bool:
    return normalize_agent(name) in GENERIC_ROLE_NAMES


def worker_name(session: Session, node: Any) -> str:
    """The readable name of a Workforce worker node (cached per node id, unique within the session)."""
    node_id = str(getattr(node, "node_id", "") or "")
    with session.lock:
        if node_id in session.worker_names:
            return session.worker_names[node_id]
        desc = str(getattr(node, "description", "") or "")
        base = getattr(node, "worker", None)
        name = session.override(node_id, desc, getattr(base, "agent_id", None))
        if not name:
            role = _role_name(base) if base is not None else ""
            if role and not _is_generic(role):
                name = role
            elif desc:
                name = short_description(desc)
            else:
                name = node_id or "worker"
        taken = set(session.worker_names.values())
        unique, n = name, 2
        while unique in taken:
            unique, n = f"{name} ({n})", n + 1
        session.worker_names[node_id] = unique
        return unique


def _workforce_agent_name(session: Session, wf: Any, agent: Any, prefix: str = "") -> tuple[str, str] | None:
    """``(name, role)`` if ``agent`` is the coordinator or task agent of ``wf`` or of a nested workforce."""
    try:
        from camel.societies.workforce import Workforce
    except Exception:  # pragma: no cover - camel missing
        return None
    if getattr(wf, "coordinator_agent", None) is agent:
        role, default = "coordinator", "Workforce Manager"
    elif getattr(wf, "task_agent", None) is agent:
        role, default = "planner", "Task Planner"
    else:
        for child in list(getattr(wf, "_children", []) or []):
            if isinstance(child, Workforce):
                sub = short_description(getattr(child, "description", "") or "workforce")
                hit = _workforce_agent_name(session, child, agent, prefix=f"{prefix}{sub} / ")
                if hit:
                    return hit
        return None
    rn = _role_name(agent)
    name = session.override(getattr(agent, "agent_id", None), role, rn)
    if not name:
        name = rn if rn and not _is_generic(rn) else default
    return prefix + name, role


def resolve(agent: Any) -> tuple[Session, str, str] | None:
    """``(session, name, role)`` for an agent that is recorded, else None (the call passes through)."""
    info: AgentInfo | None = _AGENTS.get(agent)
    if info is not None:
        s = info.session
        rn = _role_name(agent)
        name = info.name or s.override(getattr(agent, "agent_id", None), info.role, rn) or rn or info.role
        return s, name, info.role
    w = _WORKER.get()
    if w is not None:
        session, node, _task = w
        name = worker_name(session, node)
        if getattr(node, "worker", None) is None:  # a RolePlayingWorker: its two agents under one node
            name = f"{name} / {_role_name(agent) or 'agent'}"
        return session, name, "worker"
    active = _ACTIVE.get()
    if active is not None:
        wf = active.system
        hit = _workforce_agent_name(active, wf, agent) if wf is not None else None
        if hit:
            return active, hit[0], hit[1]
        rn = _role_name(agent) or "agent"
        return active, active.override(getattr(agent, "agent_id", None), rn) or rn, "member"
    return None


# --------------------------------------------------------------------------- memory snapshots


def dump_memory(agent: Any) -> tuple[str, Any]:
    """A deep copy of an agent's memory records (lossless for CAMEL's ChatHistoryMemory)."""
    mem = agent.memory
    storage = getattr(getattr(mem, "_chat_history_block", None), "storage", None)
    if storage is not None and hasattr(storage, "load") and hasattr(storage, "save"):
        return "storage", copy.deepcopy(storage.load())
    return "records", [copy.deepcopy(r.memory_record) for r in mem.retrieve()]


def restore_memory(agent: Any, snap: tuple[str, Any]) -> None:
    """Write a :func:`dump_memory` snapshot back into ``agent`` (replacing what it holds now)."""
    kind, data = snap
    mem = agent.memory
    if kind == "storage":
        storage = mem._chat_history_block.storage
        storage.clear()
        storage.save(copy.deepcopy(data))
    else:
        mem.clear()
        mem.write_records(copy.deepcopy(data))
    creator = mem.get_context_creator()
    if hasattr(creator, "clear_cache"):
        creator.clear_cache()
    if hasattr(agent, "terminated"):
        agent.terminated = False


def refresh_system_record(agent: Any) -> None:
    """Rewrite the system record in ``agent``'s memory to its current system message (memory kept)."""
    sysmsg = getattr(agent, "system_message", None)
    storage = getattr(getattr(agent.memory, "_chat_history_block", None), "storage", None)
    if sysmsg is None or storage is None or not hasattr(storage, "load"):
        return
    records = storage.load()
    changed = False
    for rec in records:
        if str(rec.get("role_at_backend", "")).lower().endswith("system"):
            rec["message"] = {"__class__": type(sysmsg).__name__, **sysmsg.to_dict()}
            changed = True
    if changed:
        storage.clear()
        storage.save(records)
        creator = agent.memory.get_context_creator()
        if hasattr(creator, "clear_cache"):
            creator.clear_cache()


def keep_snapshots(run_id: str, snaps: dict[str, Any]) -> None:
    with _SNAP_LOCK:
        _SNAPSHOTS[run_id] = snaps
        _SNAPSHOTS.move_to_end(run_id)
        while len(_SNAPSHOTS) > _SNAPSHOT_RUNS:
            _SNAPSHOTS.popitem(last=False)


def snapshots_of(run_id: str) -> dict[str, Any] | None:
    """The in-process fork snapshots of a recorded run (None if it ran in another process or is too old)."""
    with _SNAP_LOCK:
        return _SNAPSHOTS.get(run_id)


# --------------------------------------------------------------------------- runs


def camel_meta(run: Run) -> dict[str, Any]:
    return run.trace.metadata.setdefault("camel", {})


def redacted(session: Session, obj: Any) -> Any:
    """``obj`` with every string passed through the recorder's redactor (for what we put in metadata)."""
    red = getattr(session.recorder, "redact", None)
    if not callable(red):
        return obj

    def walk(x: Any) -> Any:
        if isinstance(x, str):
            return red(x)
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [walk(v) for v in x]
        return x

    return walk(obj)


def user_run(rec: Recorder) -> Run | None:
    """The run of ``rec`` opened in the caller's context (``with recorder.run(task): ...``), if any.

    Only the context counts (not "the recorder's only open run"), so a run left open by another system or
    thread is never joined by mistake.
    """
    from agentracer.recording import current_run

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
    plan = _FORK.get()
    if plan is not None:
        meta = dict(meta, fork={"parent_run_id": plan.parent_run_id, "step": plan.step, "agent": plan.agent,
                                "replacement": plan.replacement})
    run = rec.start_run(task, framework=FRAMEWORK, agents=agents, metadata={"camel": redacted(session, meta)})
    if not isinstance(run, Run):
        session.run = None
        return None
    session.own_runs.add(run.trace.run_id)
    session.run, session.external_run = run, False
    return run


def close_run(session: Session, *, final_answer: Any = None, outcome: str | None = None, error: BaseException | None = None) -> Any:
    """End the session's run (unless the user opened it); returns its trace."""
    run = session.run
    if run is None or run.ended:
        return run.trace if run is not None else None
    if session.external_run:
        return run.trace
    return session.recorder.end_run(run, outcome=outcome, final_answer=final_answer, error=error)


# --------------------------------------------------------------------------- agent steps


@dataclass
class _Begun:
    ctx: StepCtx | None
    cur_token: Any
    otel_token: Any = None


def _input_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if args:
        return args[0]
    return kwargs.get("input_message")


def _society_round_start(session: Session, input_message: Any) -> int | None:
    """A RolePlaying round starts with the user agent's step: snapshot both agents and the input."""
    society = session.system
    if society is None:
        return None
    with session.lock:
        run = session.run
        if run is None or run.ended:
            return None
        r = len(session.rounds)
        snap: dict[str, Any] = {"round": r, "first_step": len(run.trace.steps)}
        try:
            snap["input"] = copy.deepcopy(input_message)
            snap["user"] = dump_memory(society.user_agent)
            snap["assistant"] = dump_memory(society.assistant_agent)
        except Exception:
            log.exception("agentracer.camel: could not snapshot round %d (fork will replay from the start)", r)
            snap = {"round": r, "first_step": snap["first_step"]}
        session.rounds.append(snap)
        keep_snapshots(run.trace.run_id, {"kind": "role_playing", "rounds": session.rounds})
        camel_meta(run).setdefault("rounds", []).append({"round": r, "first_step": snap["first_step"]})
        session.round_state = {"round": r}
        return r


def _ensure_society_run(session: Session) -> Run | None:
    if session.run_open():
        return session.run
    society = session.system
    task = str(getattr(society, "task_prompt", "") or "")
    meta = {"kind": "role_playing", "system": session.system_class, "rounds": []}
    session.rounds = []
    names = []
    for a in (getattr(society, "user_agent", None), getattr(society, "assistant_agent", None)):
        r = resolve(a) if a is not None else None
        if r:
            names.append(r[1])
    return open_run(session, task, meta, agents=names)


def _begin_agent_step(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Begun | None:
    cur = _CUR.get()
    if cur is not None and _AGENTS.get(agent) is None:
        # an agent that nobody instrumented, running inside a step (e.g. a toolkit's own helper agent):
        # its calls belong to the enclosing tool call, so record nothing below it
        return _Begun(None, _CUR.set(_SKIP))
    hit = resolve(agent)
    if hit is None:
        return None
    session, name, role = hit
    rec = session.recorder
    input_message = _input_of(args, kwargs)
    own_run = False
    rnd: int | None = None
    meta: dict[str, Any] = {"camel_role": role}
    if session.kind == "role_playing" and role in ("user", "assistant", "critic"):
        run = _ensure_society_run(session)
        if role == "user" and run is not None:
            rnd = _society_round_start(session, input_message)
        else:
            rnd = session.round_state.get("round")
    elif session.kind == "workforce" and session.run_open() and _ACTIVE.get() is session:
        run = session.run
    else:
        run = session.run if session.run_open() else user_run(rec)
        if run is None:
            started = rec.start_run(_text(input_message), framework=FRAMEWORK, metadata={"camel": {
                "kind": "agent", "system": type(agent).__name__}})
            if not isinstance(started, Run):
                return None
            run, own_run = started, True
    if run is None:
        return None
    if rnd is not None:
        meta["round"] = rnd
    w = _WORKER.get()
    if w is not None and role == "worker":
        node, task = w[1], w[2]
        meta["worker_id"] = str(getattr(node, "node_id", ""))
        if task is not None:
            meta["task_id"] = str(getattr(task, "id", ""))
    override = None
    plan = _FORK.get()
    if plan is not None and not plan.applied and name == plan.agent:
        done = sum(1 for s in run.trace.steps if s.parent is None and s.agent == name)
        if done == plan.ordinal:
            override, plan.applied = plan.replacement, True
    handle = rec.begin_step(name, input=_text(input_message), run=run, metadata=meta,
                            agent_id=str(getattr(agent, "agent_id", "") or "") or None)
    if override is not None and isinstance(handle, StepHandle):
        handle.set(replay={"overridden": True, "fork_of": plan.parent_run_id, "fork_step": plan.step})
    ctx = StepCtx(session, role, name, agent, handle, run, own_run=own_run, override=override, round=rnd)
    otel_token = _attach_span(handle)
    return _Begun(ctx, _CUR.set(ctx), otel_token)


def _attach_span(handle: Any) -> Any:
    from opentelemetry import context as otel_context
    from opentelemetry import trace as otel

    span = getattr(handle, "span", None)
    if not isinstance(span, otel.Span):
        return None

    return otel_context.attach(otel.set_span_in_context(span))


def _detach(token: Any) -> None:
    if token is None:
        return
    from opentelemetry import context as otel_context

    try:
        otel_context.detach(token)
    except Exception:  # detached in another context: nothing to restore
        pass


def _usage_of(info: Any) -> dict[str, int]:
    usage = (info or {}).get("usage") if isinstance(info, dict) else None
    if not isinstance(usage, dict):
        return {}
    out = {}
    if usage.get("prompt_tokens") is not None:
        out["input_tokens"] = int(usage["prompt_tokens"])
    if usage.get("completion_tokens") is not None:
        out["output_tokens"] = int(usage["completion_tokens"])
    return out


def _end_agent_step(begun: _Begun, response: Any, error: BaseException | None) -> None:
    try:
        _CUR.reset(begun.cur_token)
    except ValueError:
        _CUR.set(None)
    _detach(begun.otel_token)
    sc = begun.ctx
    if sc is None:
        return
    session = sc.session
    if error is not None:
        sc.handle.end(error=error)
        if sc.own_run:
            session.recorder.end_run(sc.run, error=error)
        return
    msgs = list(getattr(response, "msgs", None) or [])
    content = _text(msgs[0]) if msgs else ""
    info = getattr(response, "info", None) or {}
    terminated = bool(getattr(response, "terminated", False))
    meta: dict[str, Any] = {}
    if terminated:
        meta["terminated"] = True
    reasons = info.get("termination_reasons") if isinstance(info, dict) else None
    if reasons:
        meta["termination_reasons"] = [str(r) for r in reasons]
    sc.handle.end(content, usage=_usage_of(info) or None, metadata=meta)
    if sc.own_run:
        session.recorder.end_run(sc.run, final_answer=content)
        return
    if session.kind == "role_playing" and not session.managed:
        # a society driven by the caller's own loop (e.g. OWL's run_society): the run ends where that loop stops
        st = session.round_state
        if sc.role == "user":
            st["user_done"] = TASK_DONE in content
            if terminated or not msgs:
                close_run(session, final_answer=content)
        elif sc.role == "assistant" and (terminated or st.get("user_done")):
            close_run(session, final_answer=content)


def _record_sync(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    begun = _guard("agent step start", _begin_agent_step, instance, args, kwargs)
    if begun is None:
        return wrapped(*args, **kwargs)
    try:
        response = wrapped(*args, **kwargs)
    except BaseException as e:
        _guard("agent step end", _end_agent_step, begun, None, e)
        raise
    _guard("agent step end", _end_agent_step, begun, response, None)
    return response


def _w_step(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``ChatAgent.step``: remember the caller's context for ``_step_impl`` (which may run in a thread)."""
    pushed = _guard("step context", _push_pending, instance)
    try:
        return wrapped(*args, **kwargs)
    finally:
        if pushed:
            _guard("step context", _pop_pending, instance)


def _push_pending(instance: Any) -> bool:
    if _AGENTS.get(instance) is None and _ACTIVE.get() is None and _WORKER.get() is None:
        return False
    with _PENDING_LOCK:
        _PENDING.setdefault(id(instance), []).append((contextvars.copy_context(), threading.get_ident()))
    return True


def _pop_pending(instance: Any) -> None:
    with _PENDING_LOCK:
        stack = _PENDING.get(id(instance))
        if stack:
            stack.pop()
            if not stack:
                del _PENDING[id(instance)]


def _peek_pending(instance: Any) -> tuple[contextvars.Context, int] | None:
    with _PENDING_LOCK:
        stack = _PENDING.get(id(instance))
        return stack[-1] if stack else None


def _w_step_impl(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``ChatAgent._step_impl``: one agent step; re-enter the caller's context if we crossed a thread.

    The recording is inlined here (not in a helper) on purpose: CAMEL's ``_step_impl`` walks the whole
    call stack with ``inspect.stack()`` on every step, so each extra frame of ours costs real time.
    """
    pending = _guard("step context", _peek_pending, instance)
    if pending is not None and pending[1] != threading.get_ident():
        # a fresh copy of the caller's context is never "already entered", so this cannot fail
        return pending[0].copy().run(_record_sync, wrapped, instance, args, kwargs)
    begun = _guard("agent step start", _begin_agent_step, instance, args, kwargs)
    if begun is None:
        return wrapped(*args, **kwargs)
    try:
        response = wrapped(*args, **kwargs)
    except BaseException as e:
        _guard("agent step end", _end_agent_step, begun, None, e)
        raise
    _guard("agent step end", _end_agent_step, begun, response, None)
    return response


async def _w_astep_task(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``ChatAgent._astep_non_streaming_task``: one async agent step (asyncio copies the context)."""
    begun = _guard("agent step start", _begin_agent_step, instance, args, kwargs)
    if begun is None:
        return await wrapped(*args, **kwargs)
    try:
        response = await wrapped(*args, **kwargs)
    except BaseException as e:
        _guard("agent step end", _end_agent_step, begun, None, e)
        raise
    _guard("agent step end", _end_agent_step, begun, response, None)
    return response


# --------------------------------------------------------------------------- LLM calls


def model_name(manager: Any) -> str:
    """A stable display/key name for a ModelManager's model(s)."""
    models = list(getattr(manager, "models", None) or [])
    names = []
    for m in models or [getattr(manager, "current_model", None)]:
        mt = getattr(m, "model_type", None)
        names.append(str(getattr(mt, "value", mt) or "unknown"))
    return "|".join(dict.fromkeys(names)) or "unknown"


def make_completion(text: str, model: str = "replay") -> Any:
    """A plain-text ``ChatCompletion`` (used for fork overrides and for recordings without a payload)."""
    from camel.types import ChatCompletion, ChatCompletionMessage, Choice

    return ChatCompletion(
        id="agentracer-replay",
        model=model,
        object="chat.completion",
        created=0,
        choices=[Choice(finish_reason="stop", index=0, logprobs=None,
                        message=ChatCompletionMessage(content=text, role="assistant"))],
    )


def _rebuild(hit: dict[str, Any], model: str) -> Any:
    payload = hit.get("response")
    if isinstance(payload, dict):
        from camel.types import ChatCompletion

        return ChatCompletion.model_validate(payload)
    return make_completion(str(hit.get("text") or ""), model)


@dataclass
class _LLMCall:
    handle: Any
    response: Any = None
    otel_token: Any = None


def _begin_llm(sc: StepCtx, manager: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _LLMCall | None:
    if not isinstance(sc.handle, StepHandle):
        return None
    messages = args[0] if args else kwargs.get("messages")
    model = model_name(manager)
    h = sc.session.recorder.begin_llm(model, messages=messages, agent=sc.name, parent=sc.handle)
    call = _LLMCall(h)
    plan = _FORK.get()
    if sc.override is not None:
        call.response = make_completion(sc.override, model)
        sc.override = None
        h.set(replay={"overridden": True})
    elif h.replayed is not None:
        call.response = _rebuild(h.replayed, model)
    elif plan is not None:
        hit = plan.replay.lookup(llm_call_key(sc.name, model, messages))
        if hit is not None:
            call.response = _rebuild(hit, model)
            plan.served += 1
            h.set(replay={"served_from": hit.get("step")})
    call.otel_token = _attach_span(h)
    return call


def _end_llm(call: _LLMCall, response: Any, error: BaseException | None) -> None:
    _detach(call.otel_token)
    h = call.handle
    if error is not None:
        h.end(error=error)
        return
    choices = getattr(response, "choices", None)
    if not choices:  # a stream or an unknown object: note it, keep no payload
        h.end("", metadata={"response_type": type(response).__name__})
        return
    msg = choices[0].message
    text = msg.content or ""
    meta: dict[str, Any] = {}
    tcs = getattr(msg, "tool_calls", None) or []
    if tcs:
        meta["tool_calls"] = [
            {"id": getattr(tc, "id", None), "name": getattr(getattr(tc, "function", None), "name", None),
             "arguments": getattr(getattr(tc, "function", None), "arguments", None)}
            for tc in tcs
        ]
    usage = getattr(response, "usage", None)
    u = {}
    if usage is not None:
        if getattr(usage, "prompt_tokens", None) is not None:
            u["input_tokens"] = usage.prompt_tokens
        if getattr(usage, "completion_tokens", None) is not None:
            u["output_tokens"] = usage.completion_tokens
    try:
        payload = response.model_dump(mode="json")
    except Exception:
        payload = None
    h.end(text, response=payload, usage=u or None, metadata=meta)


# --------------------------------------------------------------------------- tool calls


def _begin_tool(sc: StepCtx, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if not isinstance(sc.handle, StepHandle):
        return None
    req = args[0] if args else kwargs.get("tool_call_request")
    return sc.session.recorder.begin_tool(
        str(getattr(req, "tool_name", "tool")),
        args=getattr(req, "args", None),
        call_id=getattr(req, "tool_call_id", None),
        agent=sc.name,
        parent=sc.handle,
    )


def _end_tool(h: Any, record: Any, error: BaseException | None) -> None:
    if error is not None:
        h.end(error=error)
        return
    result = getattr(record, "result", record)
    failed = isinstance(result, str) and result.startswith("Tool execution failed")
    h.end(result, error=result if failed else None)


def _child_call_wrappers(
    what: str, begin: Callable[..., Any], end: Callable[..., None], served: Callable[[Any], Any] | None = None
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The sync and async wrapt wrappers that record a child call (an LLM or tool call) under the open
    agent step: ``begin(sc, instance, args, kwargs)`` opens it (None: not recorded), ``served(handle)`` is a
    recorded result to return instead of calling (replay), ``end(handle, result, error)`` closes it."""

    def start(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        sc = _CUR.get()
        return _guard(f"{what} start", begin, sc, instance, args, kwargs) if isinstance(sc, StepCtx) else None

    def sync(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        h = start(instance, args, kwargs)
        if h is None:
            return wrapped(*args, **kwargs)
        hit = served(h) if served is not None else None
        if hit is not None:
            _guard(f"{what} end", end, h, hit, None)
            return hit
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as e:
            _guard(f"{what} end", end, h, None, e)
            raise
        _guard(f"{what} end", end, h, result, None)
        return result

    async def asynchronous(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        h = start(instance, args, kwargs)
        if h is None:
            return await wrapped(*args, **kwargs)
        hit = served(h) if served is not None else None
        if hit is not None:
            _guard(f"{what} end", end, h, hit, None)
            return hit
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as e:
            _guard(f"{what} end", end, h, None, e)
            raise
        _guard(f"{what} end", end, h, result, None)
        return result

    return sync, asynchronous


# ``ModelManager.run`` / ``arun``: an LLM call under the open agent step; serves recorded responses on replay
_w_model_run, _w_model_arun = _child_call_wrappers("llm call", _begin_llm, _end_llm, served=lambda call: call.response)
# ``ChatAgent._execute_tool`` / ``_aexecute_tool``: a tool call under the open agent step
_w_execute_tool, _w_aexecute_tool = _child_call_wrappers("tool call", _begin_tool, _end_tool)


# --------------------------------------------------------------------------- RolePlaying runs


def _begin_init_chat(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    session: Session | None = _SYSTEMS.get(instance)
    if session is None or session.kind != "role_playing":
        return
    register_society_agents(session, instance)
    init_prompt = args[0] if args else kwargs.get("init_msg_content")
    with session.lock:
        if not session.managed:
            close_run(session)  # the previous manually driven run, if the caller never ended it
            session.run = None
            _ensure_society_run(session)
        session.rounds = []
        session.round_state = {}
        if session.run is not None:
            meta = camel_meta(session.run)
            meta["init_prompt"] = redacted(session, init_prompt)
            meta.setdefault("rounds", [])


def _w_init_chat(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``RolePlaying.init_chat``: a RolePlaying run starts (unless ``run_society`` already opened one)."""
    if _IN_INIT.get():
        return wrapped(*args, **kwargs)
    token = _IN_INIT.set(True)
    try:
        result = wrapped(*args, **kwargs)
    finally:
        _IN_INIT.reset(token)
    _guard("init_chat", _begin_init_chat, instance, args, kwargs)
    return result


async def _w_ainit_chat(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``RolePlaying.ainit_chat``: the async twin of :func:`_w_init_chat`."""
    if _IN_INIT.get():
        return await wrapped(*args, **kwargs)
    token = _IN_INIT.set(True)
    try:
        result = await wrapped(*args, **kwargs)
    finally:
        _IN_INIT.reset(token)
    _guard("ainit_chat", _begin_init_chat, instance, args, kwargs)
    return result


def register_society_agents(session: Session, society: Any) -> None:
    """(Re-)register a society's current user, assistant and critic agents."""
    for attr, role in (("user_agent", "user"), ("assistant_agent", "assistant"), ("critic", "critic")):
        agent = getattr(society, attr, None)
        if agent is not None and hasattr(agent, "_step_impl"):
            _AGENTS.set(agent, AgentInfo(session, role))


# --------------------------------------------------------------------------- Workforce runs


def register_workforce_agents(session: Session, wf: Any) -> None:
    """Register the coordinator and task agents of ``wf`` (workers are named through ``_WORKER``)."""
    for attr, role in (("coordinator_agent", "coordinator"), ("task_agent", "planner")):
        agent = getattr(wf, attr, None)
        if agent is not None:
            hit = _workforce_agent_name(session, wf, agent)
            _AGENTS.set(agent, AgentInfo(session, role, hit[0] if hit else None))
    for child in list(getattr(wf, "_children", []) or []):
        if hasattr(child, "worker") and hasattr(child, "node_id"):
            worker_name(session, child)


def _task_meta(run: Run) -> dict[str, Any]:
    return camel_meta(run).setdefault("tasks", {})


def _begin_workforce_run(session: Session, wf: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    task = args[0] if args else kwargs.get("task")
    register_workforce_agents(session, wf)
    meta = {
        "kind": "workforce",
        "system": session.system_class,
        "description": str(getattr(wf, "description", "") or ""),
        "task_id": str(getattr(task, "id", "") or ""),
        "workers": dict(session.worker_names),
        "tasks": {},
    }
    run = open_run(session, _text(task), meta)
    if run is None:
        return None
    # the coordinator and planner keep memory across tasks: snapshot it so a fork restarts from here
    agents = {}
    for attr in ("coordinator_agent", "task_agent"):
        agent = getattr(wf, attr, None)
        if agent is not None:
            try:
                agents[attr] = dump_memory(agent)
            except Exception:
                log.exception("agentracer.camel: could not snapshot %s", attr)
    keep_snapshots(run.trace.run_id, {"kind": "workforce", "agents": agents})
    return _ACTIVE.set(session)


def _end_workforce_run(session: Session, token: Any, result: Any, error: BaseException | None) -> None:
    try:
        _ACTIVE.reset(token)
    except ValueError:
        _ACTIVE.set(None)
    run = session.run
    if run is not None and not run.ended:
        camel_meta(run)["workers"] = dict(session.worker_names)
    if error is not None:
        close_run(session, error=error)
        return
    state = str(getattr(getattr(result, "state", None), "value", getattr(result, "state", "")) or "").upper()
    outcome = "success" if state == "DONE" else "failure" if state == "FAILED" else None
    close_run(session, final_answer=_text(getattr(result, "result", None)) or None, outcome=outcome)


async def _w_process_task_async(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``Workforce.process_task_async``: one Workforce run (``process_task`` runs through it too)."""
    session: Session | None = _SYSTEMS.get(instance)
    if session is None or _ACTIVE.get() is not None:
        return await wrapped(*args, **kwargs)
    token = _guard("workforce run start", _begin_workforce_run, session, instance, args, kwargs)
    if token is None:
        return await wrapped(*args, **kwargs)
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as e:
        _guard("workforce run end", _end_workforce_run, session, token, None, e)
        raise
    _guard("workforce run end", _end_workforce_run, session, token, result, None)
    return result


async def _w_worker_process(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``SingleAgentWorker._process_task``: name the worker's agent clones after the worker node."""
    session = _ACTIVE.get()
    if session is None:
        return await wrapped(*args, **kwargs)
    task = args[0] if args else kwargs.get("task")
    token = _WORKER.set((session, instance, task))
    try:
        return await wrapped(*args, **kwargs)
    finally:
        _WORKER.reset(token)


class _RedactingDict:
    """A view of a metadata dict whose writes go through the session's redactor."""

    def __init__(self, session: Session, target: dict[str, Any]) -> None:
        self._s, self._d = session, target

    def update(self, **kw: Any) -> None:
        self._d.update(redacted(self._s, kw))

    def __setitem__(self, key: str, value: Any) -> None:
        self._d[key] = redacted(self._s, value)

    def setdefault(self, key: str, default: Any) -> Any:
        return self._d.setdefault(key, default)


def make_workforce_callback(session: Session) -> Any:
    """A ``WorkforceCallback`` that files task assignments and results into the run's metadata."""
    from camel.societies.workforce.workforce_callback import WorkforceCallback

    sref = weakref.ref(session)

    class AgentracerWorkforceCallback(WorkforceCallback):
        """Records the Workforce's task lifecycle into ``trace.metadata['camel']['tasks']`` (never raises)."""

        def _task(self, task_id: str) -> dict[str, Any] | None:
            s = sref()
            if s is None or not s.run_open():
                return None
            return _RedactingDict(s, _task_meta(s.run).setdefault(str(task_id), {}))

        def _safe(self, fn: Callable[[], None]) -> None:
            _guard("workforce callback", fn)

        def log_message(self, event: Any) -> None:
            return None

        def log_task_created(self, event: Any) -> None:
            def f() -> None:
                t = self._task(event.task_id)
                if t is not None:
                    t.update(content=event.description, parent=event.parent_task_id)

            self._safe(f)

        def log_task_decomposed(self, event: Any) -> None:
            def f() -> None:
                t = self._task(event.parent_task_id)
                if t is not None:
                    t["subtasks"] = list(event.subtask_ids)

            self._safe(f)

        def log_task_assigned(self, event: Any) -> None:
            def f() -> None:
                s = sref()
                t = self._task(event.task_id)
                if t is not None and s is not None:
                    t["worker_id"] = event.worker_id
                    t["worker"] = s.worker_names.get(event.worker_id, event.worker_id)
                    t["dependencies"] = list(event.dependencies or [])

            self._safe(f)

        def log_task_started(self, event: Any) -> None:
            return None

        def log_task_updated(self, event: Any) -> None:
            def f() -> None:
                t = self._task(event.task_id)
                if t is not None:
                    t.setdefault("updates", []).append(
                        redacted(sref(), {"type": event.update_type, "new": event.new_value}))

            self._safe(f)

        def log_task_completed(self, event: Any) -> None:
            def f() -> None:
                t = self._task(event.task_id)
                if t is not None:
                    t.update(state="done", result=event.result_summary)

            self._safe(f)

        def log_task_failed(self, event: Any) -> None:
            def f() -> None:
                t = self._task(event.task_id)
                if t is not None:
                    t.update(state="failed", error=event.error_message)

            self._safe(f)

        def log_worker_created(self, event: Any) -> None:
            def f() -> None:
                s = sref()
                wf = s.system if s is not None else None
                for child in list(getattr(wf, "_children", []) or []):
                    if getattr(child, "node_id", None) == event.worker_id:
                        worker_name(s, child)

            self._safe(f)

        def log_worker_deleted(self, event: Any) -> None:
            return None

        def log_all_tasks_completed(self, event: Any) -> None:
            return None

    return AgentracerWorkforceCallback()


# --------------------------------------------------------------------------- patches

_PATCH_LOCK = threading.Lock()
_PATCHED: set[tuple[str, str]] = set()


def _wrap(cls: type, method: str, wrapper: Callable[..., Any]) -> None:
    import wrapt

    key = (f"{cls.__module__}.{cls.__qualname__}", method)
    if key in _PATCHED or method not in cls.__dict__:
        return
    wrapt.wrap_function_wrapper(cls, method, wrapper)
    _PATCHED.add(key)


def install_patches() -> None:
    """Install the class-level wrappers once (idempotent, thread-safe)."""
    with _PATCH_LOCK:
        from camel.agents import ChatAgent
        from camel.models.model_manager import ModelManager
        from camel.societies import RolePlaying
        from camel.societies.workforce import Workforce
        from camel.societies.workforce.role_playing_worker import RolePlayingWorker
        from camel.societies.workforce.single_agent_worker import SingleAgentWorker

        _wrap(ChatAgent, "step", _w_step)
        _wrap(ChatAgent, "_step_impl", _w_step_impl)
        _wrap(ChatAgent, "_astep_non_streaming_task", _w_astep_task)
        _wrap(ChatAgent, "_execute_tool", _w_execute_tool)
        _wrap(ChatAgent, "_aexecute_tool", _w_aexecute_tool)
        _wrap(ModelManager, "run", _w_model_run)
        _wrap(ModelManager, "arun", _w_model_arun)
        _wrap(RolePlaying, "init_chat", _w_init_chat)
        _wrap(RolePlaying, "ainit_chat", _w_ainit_chat)
        _wrap(Workforce, "process_task_async", _w_process_task_async)
        _wrap(SingleAgentWorker, "_process_task", _w_worker_process)
        _wrap(RolePlayingWorker, "_process_task", _w_worker_process)


def patch_subclass(system: Any) -> None:
    """Also wrap run entry points that a subclass overrides (e.g. a custom ``init_chat``)."""
    from camel.societies import RolePlaying
    from camel.societies.workforce import Workforce

    with _PATCH_LOCK:
        for cls in type(system).__mro__:
            if cls in (RolePlaying, Workforce, object):
                break
            if isinstance(system, RolePlaying):
                _wrap(cls, "init_chat", _w_init_chat)
                _wrap(cls, "ainit_chat", _w_ainit_chat)
            if isinstance(system, Workforce):
                _wrap(cls, "process_task_async", _w_process_task_async)


def register(system: Any, recorder: Recorder, names: dict[str, str] | None = None) -> Session | None:
    """Instrument a ChatAgent, RolePlaying society or Workforce; returns its session (None if not CAMEL).

    Idempotent: instrumenting again only swaps the recorder (and adds ``names``).
    """
    from camel.agents import ChatAgent
    from camel.societies import RolePlaying
    from camel.societies.workforce import Workforce

    if isinstance(system, Workforce):
        kind = "workforce"
    elif isinstance(system, RolePlaying):
        kind = "role_playing"
    elif isinstance(system, ChatAgent):
        kind = "agent"
    else:
        return None
    install_patches()
    patch_subclass(system)
    session: Session | None = _SYSTEMS.get(system)
    if session is None:
        session = Session(recorder=recorder, kind=kind, system_ref=weakref.ref(system),
                          system_class=type(system).__name__)
        _SYSTEMS.set(system, session)
    else:
        session.recorder = recorder
    if names:
        session.names.update({str(k): str(v) for k, v in names.items()})
        session.worker_names.clear()
    if kind == "agent":
        _AGENTS.set(system, AgentInfo(session, "solo"))
    elif kind == "role_playing":
        register_society_agents(session, system)
    else:
        register_workforce_agents(session, system)
        cbs = getattr(system, "_callbacks", None)
        if isinstance(cbs, list) and not any(type(cb).__name__ == "AgentracerWorkforceCallback" for cb in cbs):
            cbs.append(make_workforce_callback(session))
    return session


def unregister(system: Any) -> None:
    """Stop recording ``system`` (the class patches stay; they pass everything through)."""
    session = _SYSTEMS.pop(system)
    if session is None:
        return
    for attr in ("user_agent", "assistant_agent", "critic", "coordinator_agent", "task_agent"):
        agent = getattr(system, attr, None)
        if agent is not None:
            _AGENTS.pop(agent)
    _AGENTS.pop(system)
    cbs = getattr(system, "_callbacks", None)
    if isinstance(cbs, list):
        cbs[:] = [cb for cb in cbs if type(cb).__name__ != "AgentracerWorkforceCallback"]


def session_of(system: Any) -> Session | None:
    """The session of an instrumented system, or None."""
    return _SYSTEMS.get(system)


def agents_by_name(system: Any) -> dict[str, list[Any]]:
    """Every ChatAgent of ``system`` under its recorded name (Workforce workers: base agent + pool clones)."""
    from camel.agents import ChatAgent
    from camel.societies import RolePlaying
    from camel.societies.workforce import Workforce

    session = _SYSTEMS.get(system) or Session(recorder=Recorder(), kind="", system_ref=weakref.ref(system),
                                              system_class=type(system).__name__)
    out: dict[str, list[Any]] = {}

    def add(name: str, agent: Any) -> None:
        if agent is not None and not any(a is agent for a in out.setdefault(name, [])):
            out[name].append(agent)

    if isinstance(system, ChatAgent):
        hit = resolve(system)
        add(hit[1] if hit else (_role_name(system) or "assistant"), system)
    elif isinstance(system, RolePlaying):
        for attr, role in (("user_agent", "user"), ("assistant_agent", "assistant"), ("critic", "critic")):
            agent = getattr(system, attr, None)
            if agent is not None and hasattr(agent, "append_to_system_message"):
                hit = resolve(agent)
                add(hit[1] if hit else (_role_name(agent) or role), agent)
    elif isinstance(system, Workforce):

        def walk(wf: Any, prefix: str) -> None:
            for attr in ("coordinator_agent", "task_agent"):
                agent = getattr(wf, attr, None)
                hit = _workforce_agent_name(session, wf, agent) if agent is not None else None
                if hit:
                    add(prefix + hit[0], agent)
            for child in list(getattr(wf, "_children", []) or []):
                if isinstance(child, Workforce):
                    walk(child, prefix + short_description(getattr(child, "description", "") or "workforce") + " / ")
                elif hasattr(child, "worker"):
                    name = worker_name(session, child)
                    add(name, child.worker)
                    pool = getattr(child, "agent_pool", None)
                    for agent in list(getattr(pool, "_available_agents", []) or []):
                        add(name, agent)

        walk(system, "")
    return out
