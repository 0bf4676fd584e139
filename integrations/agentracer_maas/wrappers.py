"""Instance-attribute wrappers: the LLM's ``aask`` (``chat`` children, feedback, replay) and the
controller's ``forward`` (the sampled architecture, recorded, or replayed in a fork).

Both are set on the instance (nothing global is patched), marked so that instrumenting twice wraps
once, and removed again by :func:`_unwrap_method`.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

from agentracer.recording import StepHandle, guarded

from .output import _float, render_output
from .state import _OP, _RUN, FRAMEWORK, ForkPlan, _OpCtx, _RunCtx

__all__ = ["feedback_block"]


def _wrap_method(obj: Any, name: str, make: Callable[[Any], Callable[..., Any]], *, raw: bool = False) -> None:
    """Set ``obj.<name>`` to ``make(original)`` on the instance, once; ``raw`` bypasses the class's ``__setattr__``."""
    current = getattr(obj, name, None)
    if current is None or getattr(current, "_agentracer_maas", False):
        return
    wrapper = functools.wraps(current)(make(current))
    wrapper._agentracer_maas = True  # type: ignore[attr-defined]
    wrapper._agentracer_original = current  # type: ignore[attr-defined]
    (object.__setattr__ if raw else setattr)(obj, name, wrapper)


def _unwrap_method(obj: Any, name: str, *, raw: bool = False) -> None:
    """Undo :func:`_wrap_method` (a no-op when ``obj.<name>`` is not our wrapper)."""
    current = getattr(obj, name, None)
    if not getattr(current, "_agentracer_maas", False):
        return
    try:
        (object.__delattr__ if raw else delattr)(obj, name)
    except AttributeError:
        if not raw:
            setattr(obj, name, current._agentracer_original)


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
    def make(orig: Any) -> Callable[..., Any]:
        async def aask(msg: Any, *args: Any, **kwargs: Any) -> Any:
            opctx = _OP.get()
            fb = None
            if opctx is not None and opctx.inst is not None:
                fb = opctx.inst.feedback.get(opctx.agent)
            if fb:
                msg = guarded(_with_feedback, msg, opctx.agent, fb, default=msg)
            h = guarded(_llm_begin, llm, msg, args, kwargs, opctx)
            if h is not None and getattr(h, "replayed", None) is not None:
                hit = h.replayed
                text = hit.get("text", "")
                guarded(h.end, text, response=hit.get("response"))
                return text
            before = guarded(_tokens, llm)
            try:
                rsp = await orig(msg, *args, **kwargs)
            except BaseException as e:
                if h is not None:
                    guarded(h.end, error=e)
                raise
            if h is not None:
                guarded(_llm_end, h, llm, rsp, before)
            return rsp

        return aask

    _wrap_method(llm, "aask", make)


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
    def make(orig: Any) -> Callable[..., Any]:
        def forward(*args: Any, **kwargs: Any) -> Any:
            run_ctx = _RUN.get()
            plan = run_ctx.plan if run_ctx is not None else None
            if plan is not None and plan.architecture is not None:
                replayed = guarded(_replay_architecture, plan)
                if replayed is not None:
                    if run_ctx is not None:
                        guarded(_record_architecture, run_ctx, replayed, True)
                    return replayed
            out = orig(*args, **kwargs)
            if run_ctx is not None:
                guarded(_record_architecture, run_ctx, out, False)
            return out

        return forward

    _wrap_method(controller, "forward", make, raw=True)


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
