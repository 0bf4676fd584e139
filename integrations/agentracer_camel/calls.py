"""Recording the calls an agent step makes: LLM calls (``ModelManager.run``/``arun``) and tool calls
(``ChatAgent._execute_tool``/``_aexecute_tool``), each a child of the open agent step.

The LLM patch is also the record/replay point: a response recorded earlier (the recorder's replay, or a
fork's :class:`~agentracer_camel.session.ForkPlan`) or a fork's replacement text is returned as a
``ChatCompletion`` instead of calling the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentracer.recording import StepHandle, guarded, llm_call_key

from .session import CURRENT, FORK, StepCtx, attach_span, detach


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
    plan = FORK.get()
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
    call.otel_token = attach_span(h)
    return call


def _end_llm(call: _LLMCall, response: Any, error: BaseException | None) -> None:
    detach(call.otel_token)
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
    started, ended = f"{what} start", f"{what} end"

    def start(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        sc = CURRENT.get()
        return guarded(begin, sc, instance, args, kwargs, what=started) if isinstance(sc, StepCtx) else None

    def sync(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        h = start(instance, args, kwargs)
        if h is None:
            return wrapped(*args, **kwargs)
        hit = served(h) if served is not None else None
        if hit is not None:
            guarded(end, h, hit, None, what=ended)
            return hit
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as e:
            guarded(end, h, None, e, what=ended)
            raise
        guarded(end, h, result, None, what=ended)
        return result

    async def asynchronous(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...],
                           kwargs: dict[str, Any]) -> Any:
        h = start(instance, args, kwargs)
        if h is None:
            return await wrapped(*args, **kwargs)
        hit = served(h) if served is not None else None
        if hit is not None:
            guarded(end, h, hit, None, what=ended)
            return hit
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as e:
            guarded(end, h, None, e, what=ended)
            raise
        guarded(end, h, result, None, what=ended)
        return result

    return sync, asynchronous


# ``ModelManager.run`` / ``arun``: an LLM call under the open agent step; serves recorded responses on replay
w_model_run, w_model_arun = _child_call_wrappers("llm call", _begin_llm, _end_llm, served=lambda call: call.response)
# ``ChatAgent._execute_tool`` / ``_aexecute_tool``: a tool call under the open agent step
w_execute_tool, w_aexecute_tool = _child_call_wrappers("tool call", _begin_tool, _end_tool)
