"""Instrumentation of MaAS operator workflows: operators as agent steps, ``llm.aask`` calls as ``chat`` children.

MaAS (github.com/bingreeky/MaAS) is not on the package registry, so everything here is structural:

- a **workflow** is an object with an ``async __call__`` that holds operators among its attributes
  (directly, or inside a dict/list such as ``selection_operator_instances``);
- an **operator** is an object with an ``async __call__``, an ``llm`` attribute, and either a
  ``_fill_node`` method or a class named ``Operator`` in its MRO (MaAS's ``template/operator.py``);
- the **LLM** is whatever the operators hold in ``.llm``; its ``aask(msg, system_msgs=None, ...)``
  coroutine is wrapped on the instance;
- the **controller** is an attribute whose name contains ``controller`` and that has a ``forward``
  returning ``(log_probs_layers, selected_names_layers)`` (MaAS's ``MultiLayerController``).

Agent names: an operator's agent name is its ``name`` attribute (MaAS sets it to the class name, e.g.
``Generate``). When two distinct operator instances of one workflow share a name, the instance kept in
a dict under that name (the controller's selection pool) keeps the plain name and the others are named
``<name>@<attribute>`` (e.g. ``ScEnsemble@sc_ensemble``), so every agent name is unambiguous. The same
operator instance chosen in several layers is one agent; its calls are separate steps.

Instances are instrumented in place: the workflow's and each operator's class is swapped for a
cached subclass of the same name whose ``__call__`` records the step (``isinstance`` still holds), and
``aask``/``forward`` are wrapped as instance attributes. Nothing global is patched, and every
recorder interaction is guarded, so an error of ours is logged and never reaches the host run.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import functools
import inspect
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentracer.recording import Recorder, ReplayLLM, StepHandle
from agentracer.trace import Trace, TraceError, normalize_agent

__all__ = [
    "FRAMEWORK",
    "ForkPlan",
    "MaasFork",
    "MaasInstrumentation",
    "feedback_block",
    "find_operators",
    "instrument_workflow",
    "instrumentation_of",
    "is_operator",
    "is_workflow",
    "override_output",
    "render_output",
    "set_feedback",
    "uninstrument_workflow",
]

log = logging.getLogger("agentracer.maas")
FRAMEWORK = "maas"
_STATE = "_agentracer_maas"
_ORIGINAL = "_agentracer_original_class"
_MISSING = object()


# ---------------------------------------------------------------------------------------------- guards
def _guard(fn: Callable[..., Any], *args: Any, default: Any = None, **kwargs: Any) -> Any:
    """Call ``fn``; log and swallow any exception (instrumentation never breaks the host)."""
    try:
        return fn(*args, **kwargs)
    except Exception:
        log.exception("agentracer-maas: internal error in %s (ignored; the host run continues)",
                      getattr(fn, "__qualname__", fn))
        return default


# ---------------------------------------------------------------------------------------------- detection
def _is_async_callable(obj: Any) -> bool:
    call = getattr(type(obj), "__call__", None)  # noqa: B004 - we need the class attribute, not callable()
    if call is None:
        return False
    call = inspect.unwrap(call)
    return inspect.iscoroutinefunction(call)


def is_operator(obj: Any) -> bool:
    """Whether ``obj`` looks like a MaAS operator instance (see the module docstring)."""
    if isinstance(obj, type) or obj is None:
        return False
    try:
        if not _is_async_callable(obj) or not hasattr(obj, "llm"):
            return False
        if callable(getattr(obj, "_fill_node", None)):
            return True
        return any(c.__name__ == "Operator" for c in type(obj).__mro__[1:])
    except Exception:
        return False


def _children(workflow: Any) -> list[tuple[str, Any, bool]]:
    """``(path, value, in_pool)`` for each attribute value and each item of dict/list attributes."""
    out: list[tuple[str, Any, bool]] = []
    try:
        attrs = dict(vars(workflow))
    except TypeError:
        return out
    for name, value in attrs.items():
        if name.startswith("_agentracer"):
            continue
        if isinstance(value, dict):
            for k, v in list(value.items()):
                out.append((f"{name}[{k}]", v, str(k) == str(getattr(v, "name", None) or type(v).__name__)))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                out.append((f"{name}[{i}]", v, False))
        else:
            out.append((name, value, False))
    return out


def find_operators(workflow: Any) -> dict[str, Any]:
    """The operators of ``workflow`` by unambiguous agent name (see the module docstring for the rule)."""
    seen: dict[int, tuple[str, Any, bool]] = {}
    for path, value, in_pool in _children(workflow):
        if not is_operator(value):
            continue
        prev = seen.get(id(value))
        if prev is None or (in_pool and not prev[2]):
            seen[id(value)] = (path, value, in_pool or (prev[2] if prev else False))
    groups: dict[str, list[tuple[str, Any, bool]]] = {}
    for path, op, in_pool in seen.values():
        base = str(getattr(op, "name", None) or type(op).__name__)
        groups.setdefault(base, []).append((path, op, in_pool))
    names: dict[str, Any] = {}
    for base, members in groups.items():
        if len(members) == 1:
            names[base] = members[0][1]
            continue
        pooled = [m for m in members if m[2]]
        for path, op, in_pool in members:
            if in_pool and len(pooled) == 1:
                names[base] = op
            else:
                attr = path.split("[", 1)[0] if not in_pool else path
                name = f"{base}@{attr}"
                k = 2
                while name in names:
                    name = f"{base}@{attr}{k}"
                    k += 1
                names[name] = op
    return names


def is_workflow(obj: Any) -> bool:
    """Whether ``obj`` looks like a MaAS workflow: an ``async __call__`` and at least one operator."""
    if isinstance(obj, type) or obj is None:
        return False
    try:
        if instrumentation_of(obj) is not None:
            return True
        return _is_async_callable(obj) and not is_operator(obj) and bool(find_operators(obj))
    except Exception:
        return False


def _find_controller(workflow: Any) -> Any:
    try:
        for name, value in vars(workflow).items():
            if "controller" in name.lower() and callable(getattr(value, "forward", None)):
                return value
    except TypeError:
        return None
    return None


def _llms(workflow: Any, operators: dict[str, Any]) -> list[Any]:
    found: list[Any] = []
    for obj in [getattr(workflow, "llm", None), *[getattr(op, "llm", None) for op in operators.values()]]:
        if obj is not None and callable(getattr(obj, "aask", None)) and all(obj is not f for f in found):
            found.append(obj)
    return found


# ---------------------------------------------------------------------------------------------- state
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


# ---------------------------------------------------------------------------------------------- wrappers
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


def _make_workflow_call(orig: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(orig)
    async def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        ctx = _guard(_run_begin, self, orig, args, kwargs)
        token = _RUN.set(ctx) if ctx is not None else None
        try:
            result = await orig(self, *args, **kwargs)
        except BaseException as e:
            if ctx is not None:
                _guard(_run_end, ctx, None, e)
            raise
        finally:
            if token is not None:
                _guard(_RUN.reset, token)
        if ctx is not None:
            _guard(_run_end, ctx, result, None)
        return result

    return __call__


def _make_operator_call(orig: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(orig)
    async def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _OP.get() is not None:  # an operator called inside another: part of the outer step
            return await orig(self, *args, **kwargs)
        begun = _guard(_op_begin, self, orig, args, kwargs)
        opctx, override = begun if begun is not None else (None, _MISSING)
        token = _OP.set(opctx) if opctx is not None else None
        try:
            result = override if override is not _MISSING else await orig(self, *args, **kwargs)
        except BaseException as e:
            if opctx is not None:
                _guard(opctx.handle.end, error=e)
            raise
        finally:
            if token is not None:
                _guard(_OP.reset, token)
        if opctx is not None:
            _guard(_op_end, opctx, result, override is not _MISSING)
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
    run = _guard(rec.start_run, _task_text(bound), framework=FRAMEWORK, agents=list(inst.operators), metadata=meta)
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


def _float(x: Any) -> float | None:
    try:
        return float(x.item() if hasattr(x, "item") else x)
    except (TypeError, ValueError, RuntimeError):
        return None


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
        bound = _guard(_bind, orig, op, args, kwargs, default={}) or {}
        run = run_ctx.run if run_ctx is not None and hasattr(run_ctx.run, "trace") else None
        handle = _guard(
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


class _Null:
    replayed = None
    step = None

    def end(self, *a: Any, **k: Any) -> None:
        return None

    def set(self, **k: Any) -> None:
        return None


_OWNERS: dict[int, Any] = {}


def _owner_of(op: Any) -> MaasInstrumentation | None:
    ref = _OWNERS.get(id(op))
    if ref is None:
        return None
    inst = ref()
    return inst if isinstance(inst, MaasInstrumentation) else None


# ---------------------------------------------------------------------------------------------- LLM
def feedback_block(agent: str, text: str) -> str:
    """The block prepended to an operator's prompt when it has feedback."""
    return (
        f"### Feedback for {agent} from earlier runs (apply it to this task)\n{text.strip()}\n"
        f"### End of feedback\n\n"
    )


def _with_feedback(msg: Any, agent: str, text: str) -> Any:
    block = feedback_block(agent, text)
    if isinstance(msg, str):
        return block + msg
    if isinstance(msg, list):
        out = copy.deepcopy(msg)
        for m in out:
            if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str):
                m["content"] = block + m["content"]
                return out
        return [{"role": "user", "content": block.strip()}, *out]
    return msg


def _messages(msg: Any, system_msgs: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in system_msgs or []:
        out.append({"role": "system", "content": str(s)})
    if isinstance(msg, str):
        out.append({"role": "user", "content": msg})
    elif isinstance(msg, list):
        out.extend(m if isinstance(m, dict) else {"role": "user", "content": str(m)} for m in msg)
    else:
        out.append({"role": "user", "content": str(msg)})
    return out


def _model_of(llm: Any) -> str:
    for path in (("config", "model"), ("model",), ("model_name",)):
        obj = llm
        for p in path:
            obj = getattr(obj, p, None)
        if isinstance(obj, str) and obj:
            return obj
    return type(llm).__name__


def _tokens(llm: Any) -> tuple[int, int] | None:
    cm = getattr(llm, "cost_manager", None)
    if cm is None:
        return None
    try:
        return int(getattr(cm, "total_prompt_tokens", 0) or 0), int(getattr(cm, "total_completion_tokens", 0) or 0)
    except (TypeError, ValueError):
        return None


def _wrap_llm(llm: Any) -> None:
    current = getattr(llm, "aask", None)
    if current is None or getattr(current, "_agentracer_maas", False):
        return
    orig = current

    @functools.wraps(orig)
    async def aask(msg: Any, *args: Any, **kwargs: Any) -> Any:
        opctx = _OP.get()
        fb = None
        if opctx is not None and opctx.inst is not None:
            fb = opctx.inst.feedback.get(opctx.agent)
        if fb:
            msg = _guard(_with_feedback, msg, opctx.agent, fb, default=msg)
        h = _guard(_llm_begin, llm, msg, args, kwargs, opctx)
        if h is not None and getattr(h, "replayed", None) is not None:
            hit = h.replayed
            text = hit.get("text", "")
            _guard(h.end, text, response=hit.get("response"))
            return text
        before = _guard(_tokens, llm)
        try:
            rsp = await orig(msg, *args, **kwargs)
        except BaseException as e:
            if h is not None:
                _guard(h.end, error=e)
            raise
        if h is not None:
            _guard(_llm_end, h, llm, rsp, before)
        return rsp

    aask._agentracer_maas = True  # type: ignore[attr-defined]
    aask._agentracer_original = orig  # type: ignore[attr-defined]
    llm.aask = aask


def _llm_begin(llm: Any, msg: Any, args: tuple, kwargs: dict, opctx: _OpCtx | None) -> Any:
    run_ctx = _RUN.get()
    rec = run_ctx.recorder if run_ctx is not None else (
        opctx.inst.recorder if opctx is not None and opctx.inst is not None else None)
    if rec is None:
        return None
    system_msgs = args[0] if args else kwargs.get("system_msgs")
    parent = opctx.handle if opctx is not None and isinstance(opctx.handle, StepHandle) else None
    return rec.begin_llm(
        _model_of(llm),
        messages=_messages(msg, system_msgs),
        agent=opctx.agent if opctx is not None else None,
        parent=parent,
        provider=FRAMEWORK,
    )


def _llm_end(h: Any, llm: Any, rsp: Any, before: tuple[int, int] | None) -> None:
    usage = None
    after = _tokens(llm)
    if before is not None and after is not None:
        usage = {"input_tokens": after[0] - before[0], "output_tokens": after[1] - before[1]}
        if usage["input_tokens"] <= 0 and usage["output_tokens"] <= 0:
            usage = None
    text = rsp if isinstance(rsp, str) else render_output(rsp)
    h.end(text, response={"text": text}, usage=usage)


# ---------------------------------------------------------------------------------------------- controller
def _wrap_controller(controller: Any) -> None:
    current = getattr(controller, "forward", None)
    if current is None or getattr(current, "_agentracer_maas", False):
        return
    orig = current

    @functools.wraps(orig)
    def forward(*args: Any, **kwargs: Any) -> Any:
        run_ctx = _RUN.get()
        plan = run_ctx.plan if run_ctx is not None else None
        if plan is not None and plan.architecture is not None:
            replayed = _guard(_replay_architecture, plan)
            if replayed is not None:
                if run_ctx is not None:
                    _guard(_record_architecture, run_ctx, replayed, True)
                return replayed
        out = orig(*args, **kwargs)
        if run_ctx is not None:
            _guard(_record_architecture, run_ctx, out, False)
        return out

    forward._agentracer_maas = True  # type: ignore[attr-defined]
    forward._agentracer_original = orig  # type: ignore[attr-defined]
    object.__setattr__(controller, "forward", forward)


def _record_architecture(run_ctx: _RunCtx, out: Any, replayed: bool) -> None:
    tr = getattr(run_ctx.run, "trace", None)
    if tr is None or not isinstance(out, tuple) or len(out) < 2:
        return
    log_probs, names = out[0], out[1]
    m = tr.metadata.setdefault("maas", {})
    m["architecture"] = [[str(n) for n in layer] for layer in names]
    m["log_probs"] = [_float(x) for x in log_probs]
    m["log_probs_tensor"] = bool(log_probs) and hasattr(log_probs[0], "item")
    if replayed:
        m["architecture_replayed"] = True


def _replay_architecture(plan: ForkPlan) -> tuple[list[Any], list[list[str]]]:
    names = [list(layer) for layer in plan.architecture or []]
    lps: list[Any] = [float(x) if x is not None else 0.0 for x in (plan.log_probs or [0.0] * len(names))]
    if plan.log_probs_tensor:
        try:
            import torch  # noqa: PLC0415

            lps = [torch.tensor(x) for x in lps]
        except ImportError:
            pass
    return lps, names


# ---------------------------------------------------------------------------------------------- public
def instrument_workflow(workflow: Any, recorder: Recorder) -> Any:
    """Instrument a MaAS workflow in place for ``recorder``; returns the same workflow object.

    Re-instrumenting an instrumented workflow only switches its recorder.
    """
    import weakref

    inst = instrumentation_of(workflow)
    if inst is not None:
        inst.recorder = recorder
        return workflow
    inst = MaasInstrumentation(workflow, recorder)
    inst.operators = find_operators(workflow)
    for op in inst.operators.values():
        if _guard(_swap_class, op, "operator", default=False):
            _OWNERS[id(op)] = weakref.ref(inst)
        else:
            log.warning("agentracer-maas: could not instrument operator %s (not recorded)", type(op).__name__)
    for llm in _llms(workflow, inst.operators):
        _guard(_wrap_llm, llm)
        inst.llms.append(llm)
    inst.controller = _find_controller(workflow)
    if inst.controller is not None:
        _guard(_wrap_controller, inst.controller)
    object.__setattr__(workflow, _STATE, inst)
    if not _guard(_swap_class, workflow, "workflow", default=False):
        log.warning("agentracer-maas: could not instrument workflow %s", type(workflow).__name__)
    return workflow


def uninstrument_workflow(workflow: Any) -> Any:
    """Undo :func:`instrument_workflow`: original classes, ``aask`` and ``forward`` restored."""
    inst = instrumentation_of(workflow)
    if inst is None:
        return workflow
    for obj in [workflow, *inst.operators.values()]:
        orig = type(obj).__dict__.get(_ORIGINAL)
        if orig is not None:
            obj.__class__ = orig
        _OWNERS.pop(id(obj), None)
    for llm in inst.llms:
        if getattr(getattr(llm, "aask", None), "_agentracer_maas", False):
            try:
                del llm.aask
            except AttributeError:
                llm.aask = llm.aask._agentracer_original
    ctl = inst.controller
    if ctl is not None and getattr(getattr(ctl, "forward", None), "_agentracer_maas", False):
        try:
            object.__delattr__(ctl, "forward")
        except AttributeError:
            pass
    try:
        delattr(workflow, _STATE)
    except AttributeError:
        pass
    return workflow


def set_feedback(workflow: Any, agent: str, text: str) -> list[str]:
    """Set (replace) the feedback of operator ``agent``; an empty text clears it. Returns the agents set.

    ``agent`` is an operator agent name (normalised comparison); a bare operator name such as
    ``Generate`` also matches every ``Generate@...`` when no operator is named exactly that.
    Raises ``ValueError`` naming the operators when nothing matches.
    """
    inst = instrumentation_of(workflow)
    if inst is None:
        raise ValueError("workflow is not instrumented")
    targets = inst.resolve(agent)
    if not targets:
        raise ValueError(f"no operator named {agent!r} in this MaAS workflow; operators: {', '.join(inst.agents)}")
    for a in targets:
        if text and text.strip():
            inst.feedback[a] = text.strip()
        else:
            inst.feedback.pop(a, None)
    return targets


# ---------------------------------------------------------------------------------------------- fork
_PRIMARY_KEYS = ("response", "solution", "output", "answer", "code", "result")


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


class MaasFork:
    """A zero-argument runnable that replays a recorded MaAS run with operator call k's output replaced.

    The recorded architecture is replayed (the controller is not sampled), LLM calls of the operator
    steps before k are served from the recording, step k's output is the replacement (same schema),
    and every later operator runs again, live. Calling it returns ``(result, new_trace)``; use
    :meth:`arun` inside a running event loop.
    """

    def __init__(self, workflow: Any, trace: Trace, step: int, replacement: Any) -> None:
        inst = instrumentation_of(workflow)
        if inst is None:
            raise ValueError("workflow is not instrumented")
        if not 0 <= step < len(trace.steps):
            raise TraceError(f"no step {step} (the trace has {len(trace.steps)} steps)", field="step", step=step)
        s = trace.steps[step]
        call = s.replay.get("operator_call")
        if s.parent is not None or call is None:
            raise TraceError("is not an operator step of a recorded MaAS run (fork at a top-level step)",
                             field="step", step=step)
        self.workflow = workflow
        self.trace = trace
        self.step = step
        meta = trace.metadata.get("maas") or {}
        self._base = inst.recorder
        self.recorder = self._new_recorder()
        self.plan = ForkPlan(
            recorder=self.recorder,
            parent=trace,
            step=step,
            operator_call=int(call),
            replacement=replacement,
            recorded_output=s.metadata.get("output"),
            architecture=meta.get("architecture"),
            log_probs=meta.get("log_probs"),
            log_probs_tensor=bool(meta.get("log_probs_tensor")),
        )
        c = meta.get("call") or {}
        self.args = list(c.get("args") or ([trace.task] if not c.get("kwargs") else []))
        self.kwargs = dict(c.get("kwargs") or {})

    def _new_recorder(self) -> Recorder:
        return Recorder(
            tracer_provider=getattr(self._base, "_tracer_provider", None),
            capture_content=getattr(self._base, "capture_content", None),
            framework=FRAMEWORK,
            replay=ReplayLLM.from_trace(self.trace, upto_step=self.step),
        )

    @property
    def replay(self) -> ReplayLLM:
        """The record/replay store of the latest call (its ``served``/``missed`` counters)."""
        return self.recorder.replay  # type: ignore[return-value]

    async def arun(self) -> tuple[Any, Trace | None]:
        """Run the fork in the current event loop; returns ``(workflow result, new trace)``.

        Each call replays afresh (a new recorder and replay store), so a fork can be run repeatedly.
        """
        if self.recorder.traces:
            self.recorder = self._new_recorder()
        self.plan.recorder = self.recorder
        token = _PLAN.set(self.plan)
        try:
            result = await self.workflow(*self.args, **self.kwargs)
        finally:
            _PLAN.reset(token)
        return result, self.recorder.last_trace()

    def __call__(self) -> tuple[Any, Trace | None]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.arun())
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["out"] = asyncio.run(self.arun())
            except BaseException as e:  # re-raised in the caller's thread
                box["err"] = e

        t = threading.Thread(target=target, name="agentracer-maas-fork")
        t.start()
        t.join()
        if "err" in box:
            raise box["err"]
        return box["out"]
