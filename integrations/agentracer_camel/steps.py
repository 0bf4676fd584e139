"""Recording agent steps: the ``ChatAgent.step`` / ``_step_impl`` / ``_astep_non_streaming_task`` patches.

One ``_step_impl`` call of a registered agent is one agent step (``invoke_agent``), recorded into the
run of its system: the society's or Workforce's run, the run the user opened around it, or a run of its
own. ``ChatAgent.step`` hands ``_step_impl`` to a ``ThreadPoolExecutor`` when ``step_timeout`` is set,
and threads do not inherit contextvars (so neither our open step nor the OpenTelemetry context): the
``step`` patch notes the caller's context and ``_step_impl`` re-enters it when it crossed a thread.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentracer.recording import Run, StepHandle, guarded

from .names import resolve, text_of, usage_of
from .roleplaying import ensure_society_run, society_round_start
from .session import (
    ACTIVE,
    AGENTS,
    CURRENT,
    FORK,
    FRAMEWORK,
    SKIP,
    TASK_DONE,
    WORKER,
    StepCtx,
    attach_span,
    close_run,
    detach,
    user_run,
)


@dataclass
class _Begun:
    ctx: StepCtx | None
    cur_token: Any
    otel_token: Any = None


def _input_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if args:
        return args[0]
    return kwargs.get("input_message")


def _begin_agent_step(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Begun | None:
    cur = CURRENT.get()
    if cur is not None and AGENTS.get(agent) is None:
        # an agent that nobody instrumented, running inside a step (e.g. a toolkit's own helper agent):
        # its calls belong to the enclosing tool call, so record nothing below it
        return _Begun(None, CURRENT.set(SKIP))
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
        run = ensure_society_run(session)
        if role == "user" and run is not None:
            rnd = society_round_start(session, input_message)
        else:
            rnd = session.round_state.get("round")
    elif session.kind == "workforce" and session.run_open() and ACTIVE.get() is session:
        run = session.run
    else:
        run = session.run if session.run_open() else user_run(rec)
        if run is None:
            started = rec.start_run(text_of(input_message), framework=FRAMEWORK, metadata={"camel": {
                "kind": "agent", "system": type(agent).__name__}})
            if not isinstance(started, Run):
                return None
            run, own_run = started, True
    if run is None:
        return None
    if rnd is not None:
        meta["round"] = rnd
    w = WORKER.get()
    if w is not None and role == "worker":
        node, task = w[1], w[2]
        meta["worker_id"] = str(getattr(node, "node_id", ""))
        if task is not None:
            meta["task_id"] = str(getattr(task, "id", ""))
    override = None
    plan = FORK.get()
    if plan is not None and not plan.applied and name == plan.agent:
        done = sum(1 for s in run.trace.steps if s.parent is None and s.agent == name)
        if done == plan.ordinal:
            override, plan.applied = plan.replacement, True
    handle = rec.begin_step(name, input=text_of(input_message), run=run, metadata=meta,
                            agent_id=str(getattr(agent, "agent_id", "") or "") or None)
    if override is not None and isinstance(handle, StepHandle):
        handle.set(replay={"overridden": True, "fork_of": plan.parent_run_id, "fork_step": plan.step})
    ctx = StepCtx(session, role, name, agent, handle, run, own_run=own_run, override=override, round=rnd)
    otel_token = attach_span(handle)
    return _Begun(ctx, CURRENT.set(ctx), otel_token)


def _tokens(response: Any) -> dict[str, int]:
    usage = usage_of(response)
    out = {}
    if usage.get("prompt_tokens") is not None:
        out["input_tokens"] = int(usage["prompt_tokens"])
    if usage.get("completion_tokens") is not None:
        out["output_tokens"] = int(usage["completion_tokens"])
    return out


def _end_agent_step(begun: _Begun, response: Any, error: BaseException | None) -> None:
    try:
        CURRENT.reset(begun.cur_token)
    except ValueError:
        CURRENT.set(None)
    detach(begun.otel_token)
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
    content = text_of(msgs[0]) if msgs else ""
    info = getattr(response, "info", None) or {}
    terminated = bool(getattr(response, "terminated", False))
    meta: dict[str, Any] = {}
    if terminated:
        meta["terminated"] = True
    reasons = info.get("termination_reasons") if isinstance(info, dict) else None
    if reasons:
        meta["termination_reasons"] = [str(r) for r in reasons]
    sc.handle.end(content, usage=_tokens(response) or None, metadata=meta)
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
    begun = guarded(_begin_agent_step, instance, args, kwargs, what="agent step start")
    if begun is None:
        return wrapped(*args, **kwargs)
    try:
        response = wrapped(*args, **kwargs)
    except BaseException as e:
        guarded(_end_agent_step, begun, None, e, what="agent step end")
        raise
    guarded(_end_agent_step, begun, response, None, what="agent step end")
    return response


# --------------------------------------------------------------------------- the caller's context, per agent

_PENDING: dict[int, list[tuple[contextvars.Context, int]]] = {}
_PENDING_LOCK = threading.Lock()


def _push_pending(instance: Any) -> bool:
    if AGENTS.get(instance) is None and ACTIVE.get() is None and WORKER.get() is None:
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


# --------------------------------------------------------------------------- the patches


def w_step(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``ChatAgent.step``: remember the caller's context for ``_step_impl`` (which may run in a thread)."""
    pushed = guarded(_push_pending, instance, what="step context")
    try:
        return wrapped(*args, **kwargs)
    finally:
        if pushed:
            guarded(_pop_pending, instance, what="step context")


def w_step_impl(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``ChatAgent._step_impl``: one agent step; re-enter the caller's context if we crossed a thread.

    CAMEL's ``_step_impl`` walks the whole call stack with ``inspect.stack()`` on every step, so each frame
    of ours costs a little; the one frame of :func:`_record_sync` (shared with the other path) is kept
    rather than a second inlined copy of the recording (bench/bench_camel.py measures it).
    """
    pending = guarded(_peek_pending, instance, what="step context")
    if pending is not None and pending[1] != threading.get_ident():
        # a fresh copy of the caller's context is never "already entered", so this cannot fail
        return pending[0].copy().run(_record_sync, wrapped, instance, args, kwargs)
    return _record_sync(wrapped, instance, args, kwargs)


async def w_astep_task(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...],
                       kwargs: dict[str, Any]) -> Any:
    """``ChatAgent._astep_non_streaming_task``: one async agent step (asyncio copies the context)."""
    begun = guarded(_begin_agent_step, instance, args, kwargs, what="agent step start")
    if begun is None:
        return await wrapped(*args, **kwargs)
    try:
        response = await wrapped(*args, **kwargs)
    except BaseException as e:
        guarded(_end_agent_step, begun, None, e, what="agent step end")
        raise
    guarded(_end_agent_step, begun, response, None, what="agent step end")
    return response
