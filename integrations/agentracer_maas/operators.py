"""Workflow and operator calls as a run and its agent steps: the class swap and the ``__call__`` wrappers.

An instrumented workflow's (and operator's) class is swapped for a cached subclass of the same name
whose ``async __call__`` opens the run (or the operator step) around the original call; in a fork the
operator call being replaced returns the replacement instead of running. Every recorder interaction
goes through :func:`agentracer.recording.guarded`, so an error of ours never reaches the workflow.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any

from agentracer.recording import guarded

from .output import _float, _jsonable, override_output, render_output
from .state import (
    _MISSING,
    _OP,
    _ORIGINAL,
    _PLAN,
    _RUN,
    FRAMEWORK,
    _Null,
    _OpCtx,
    _owner_of,
    _RunCtx,
    instrumentation_of,
)

_SUBCLASSES: dict[tuple[type, str], type] = {}
_SUB_LOCK = threading.Lock()


def _swap_class(obj: Any, kind: str) -> bool:
    cls = type(obj)
    if getattr(cls, _ORIGINAL, None) is not None and cls.__dict__.get(_ORIGINAL) is not None:
        return True  # already ours
    with _SUB_LOCK:
        sub = _SUBCLASSES.get((cls, kind))
        if sub is None:
            orig_call = cls.__call__
            wrapper = _make_workflow_call(orig_call) if kind == "workflow" else _make_operator_call(orig_call)
            ns = {
                "__call__": wrapper,
                "__module__": cls.__module__,
                "__qualname__": cls.__qualname__,
                "__doc__": cls.__doc__,
                _ORIGINAL: cls,
            }
            sub = type(cls.__name__, (cls,), ns)
            _SUBCLASSES[(cls, kind)] = sub
    obj.__class__ = sub
    return True


def _restore_class(obj: Any) -> None:
    """Undo :func:`_swap_class` (a no-op on an object whose class is not ours)."""
    orig = type(obj).__dict__.get(_ORIGINAL)
    if orig is not None:
        obj.__class__ = orig


def _original_class(obj: Any) -> type:
    return type(obj).__dict__.get(_ORIGINAL) or type(obj)


def _bind(fn: Callable[..., Any], obj: Any, args: tuple, kwargs: dict) -> dict[str, Any]:
    try:
        ba = inspect.signature(fn).bind(obj, *args, **kwargs)
        out = dict(ba.arguments)
        out.pop(next(iter(inspect.signature(fn).parameters)), None)  # drop self
        return out
    except (TypeError, ValueError):
        return {**{f"arg{i}": a for i, a in enumerate(args)}, **kwargs}


def _make_workflow_call(orig: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(orig)
    async def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        ctx = guarded(_run_begin, self, orig, args, kwargs)
        token = _RUN.set(ctx) if ctx is not None else None
        try:
            result = await orig(self, *args, **kwargs)
        except BaseException as e:
            if ctx is not None:
                guarded(_run_end, ctx, None, e)
            raise
        finally:
            if token is not None:
                guarded(_RUN.reset, token)
        if ctx is not None:
            guarded(_run_end, ctx, result, None)
        return result

    return __call__


def _make_operator_call(orig: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(orig)
    async def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _OP.get() is not None:  # an operator called inside another: part of the outer step
            return await orig(self, *args, **kwargs)
        begun = guarded(_op_begin, self, orig, args, kwargs)
        opctx, override = begun if begun is not None else (None, _MISSING)
        token = _OP.set(opctx) if opctx is not None else None
        try:
            result = override if override is not _MISSING else await orig(self, *args, **kwargs)
        except BaseException as e:
            if opctx is not None:
                guarded(opctx.handle.end, error=e)
            raise
        finally:
            if token is not None:
                guarded(_OP.reset, token)
        if opctx is not None:
            guarded(_op_end, opctx, result, override is not _MISSING)
        return result

    return __call__


def _task_text(bound: dict[str, Any]) -> str:
    for key in ("problem", "question", "input", "query", "task"):
        if isinstance(bound.get(key), str):
            return bound[key]
    for v in bound.values():
        if isinstance(v, str):
            return v
    return ""


def _run_begin(workflow: Any, orig: Callable[..., Any], args: tuple, kwargs: dict) -> _RunCtx | None:
    inst = instrumentation_of(workflow)
    if inst is None:
        return None
    plan = _PLAN.get()
    rec = plan.recorder if plan is not None else inst.recorder
    bound = _bind(orig, workflow, args, kwargs)
    meta: dict[str, Any] = {
        "maas": {
            "workflow": type(workflow).__qualname__,
            "operators": {a: type(op).__name__ for a, op in inst.operators.items()},
            "call": {"args": _jsonable(list(args)), "kwargs": _jsonable(kwargs)},
        }
    }
    if plan is not None:
        meta["fork"] = {"parent_run": plan.parent.run_id, "step": plan.step, "operator_call": plan.operator_call}
    if inst.feedback:
        meta["maas"]["feedback"] = dict(inst.feedback)
    run = guarded(rec.start_run, _task_text(bound), framework=FRAMEWORK, agents=list(inst.operators), metadata=meta)
    return _RunCtx(inst=inst, recorder=rec, run=run, plan=plan)


def _run_end(ctx: _RunCtx, result: Any, error: BaseException | None) -> None:
    if ctx.run is None:
        return
    tr = getattr(ctx.run, "trace", None)
    final = None
    if error is None:
        final = result[0] if isinstance(result, tuple) and result else result
        if tr is not None and isinstance(result, tuple) and len(result) >= 3:
            m = tr.metadata.setdefault("maas", {})
            m["cost"] = _float(result[1])
            m["log_prob"] = _float(result[2])
    if error is not None:
        ctx.recorder.end_run(ctx.run, error=error)
    else:
        ctx.recorder.end_run(ctx.run, final_answer=render_output(final) if final is not None else None)


def _op_begin(op: Any, orig: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[_OpCtx, Any]:
    run_ctx = _RUN.get()
    inst = run_ctx.inst if run_ctx is not None else _owner_of(op)
    agent = inst.agent_of(op) if inst is not None else str(getattr(op, "name", None) or type(op).__name__)
    rec = run_ctx.recorder if run_ctx is not None else (inst.recorder if inst is not None else None)
    ordinal = run_ctx.next_call() if run_ctx is not None else None
    override: Any = _MISSING
    plan = run_ctx.plan if run_ctx is not None else None
    replay: dict[str, Any] = {"operator_call": ordinal} if ordinal is not None else {}
    if plan is not None and ordinal == plan.operator_call:
        override = override_output(plan.recorded_output, plan.replacement)
        replay["overridden"] = True
        replay["parent_step"] = plan.step
    handle: Any = None
    if rec is not None:
        bound = guarded(_bind, orig, op, args, kwargs, default={}) or {}
        run = run_ctx.run if run_ctx is not None and hasattr(run_ctx.run, "trace") else None
        handle = guarded(
            rec.begin_step,
            agent,
            input=_jsonable(bound),
            run=run,
            metadata={"operator": _original_class(op).__name__, "maas.operator_call": ordinal},
            replay=replay,
        )
    return _OpCtx(inst=inst, agent=agent, handle=handle if handle is not None else _Null()), override


def _op_end(opctx: _OpCtx, result: Any, overridden: bool) -> None:
    h = opctx.handle
    h.set(metadata={"output": _jsonable(result)})
    h.end(render_output(result))
