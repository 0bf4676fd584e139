"""Two small wrappers on LangChain's ``BaseChatModel``, installed only when a feature needs them.

- ``generate`` / ``agenerate``: when the call runs inside an instrumented graph whose handler holds
  feedback for the calling agent, the feedback is added to that call's system prompt (and only that
  agent's calls). See :mod:`agentracer_langgraph.feedback`.
- ``_generate_with_cache`` / ``_agenerate_with_cache``: when the recorder of the calling handler has a
  :class:`~agentracer.recording.ReplayLLM` hit for this call (``handle.replayed``), the recorded response
  is returned instead of calling the model: the record/replay layer a replay fork uses.

For any other call both wrappers pass straight through; they never raise (a failure inside them is
logged by :func:`agentracer.recording.guarded` and the original call proceeds untouched).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from agentracer.recording import guarded

from .handler import AgentracerCallbackHandler

__all__ = ["FEEDBACK_TEMPLATE", "install", "installed", "message_from_recording"]

log = logging.getLogger("agentracer.langgraph")
FEEDBACK_TEMPLATE = "Feedback on a previous attempt (from failure attribution): {text}"
_LOCK = threading.Lock()
_INSTALLED = False
_LOOKUP = "the replay lookup (calling the model)"


def installed() -> bool:
    """Whether the wrappers are in place."""
    return _INSTALLED


def install() -> None:
    """Install the wrappers once per process (idempotent)."""
    global _INSTALLED
    with _LOCK:
        if _INSTALLED:
            return
        import wrapt

        mod = "langchain_core.language_models.chat_models"
        wrapt.wrap_function_wrapper(mod, "BaseChatModel.generate", _generate)
        wrapt.wrap_function_wrapper(mod, "BaseChatModel.agenerate", _agenerate)
        wrapt.wrap_function_wrapper(mod, "BaseChatModel._generate_with_cache", _generate_with_cache)
        wrapt.wrap_function_wrapper(mod, "BaseChatModel._agenerate_with_cache", _agenerate_with_cache)
        _INSTALLED = True


def _handlers(callbacks: Any) -> list[AgentracerCallbackHandler]:
    if callbacks is None:
        return []
    hs = callbacks if isinstance(callbacks, list) else list(getattr(callbacks, "handlers", []) or [])
    return [h for h in hs if isinstance(h, AgentracerCallbackHandler)]


# ------------------------------------------------------------------ feedback (prompt side)
def _with_feedback(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    callbacks = kwargs.get("callbacks", args[2] if len(args) > 2 else None)
    handlers = [h for h in _handlers(callbacks) if h.feedback]
    if not handlers:
        return None
    metadata = dict(getattr(callbacks, "inheritable_metadata", None) or {})
    metadata.update(kwargs.get("metadata") or {})
    parent = getattr(callbacks, "parent_run_id", None)
    from agentracer.trace import normalize_agent

    for h in handlers:
        agent = h.agent_for(parent, metadata)
        if agent is None:
            continue
        text = next((t for a, t in h.feedback.items() if normalize_agent(a) == normalize_agent(agent)), None)
        if text is None:
            continue
        messages = args[0] if args else kwargs["messages"]
        new = [add_feedback(list(ms), text) for ms in messages]
        if args:
            return (new, *args[1:]), kwargs
        return args, {**kwargs, "messages": new}
    return None


def add_feedback(messages: list[Any], text: str) -> list[Any]:
    """``messages`` with the feedback appended to the first system message (or a new one in front)."""
    from langchain_core.messages import SystemMessage

    block = FEEDBACK_TEMPLATE.format(text=text)
    if messages and getattr(messages[0], "type", None) == "system":
        first = messages[0]
        content = first.content
        if isinstance(content, str):
            new_first = first.model_copy(update={"content": f"{content}\n\n{block}" if content else block})
        else:
            new_first = first.model_copy(update={"content": [*content, {"type": "text", "text": block}]})
        return [new_first, *messages[1:]]
    return [SystemMessage(content=block), *messages]


def _safe_feedback(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The call's arguments with feedback injected, or unchanged when injection fails (logged)."""
    changed = guarded(_with_feedback, args, kwargs, what="feedback injection (the call proceeds unchanged)")
    return changed if changed is not None else (args, kwargs)


def _generate(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    args, kwargs = _safe_feedback(args, kwargs)
    return wrapped(*args, **kwargs)


async def _agenerate(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    args, kwargs = _safe_feedback(args, kwargs)
    return await wrapped(*args, **kwargs)


# ------------------------------------------------------------------ replay (response side)
def message_from_recording(hit: dict[str, Any]) -> Any:
    """The AIMessage of a recorded LLM response (``ReplayLLM`` hit: ``{"text", "response"}``)."""
    from langchain_core.messages import AIMessage, messages_from_dict

    payload = hit.get("response")
    if isinstance(payload, dict) and "type" in payload and isinstance(payload.get("data"), dict):
        try:
            return messages_from_dict([payload])[0]
        except Exception:
            log.debug("agentracer: recorded payload not a message; using its text", exc_info=True)
    return AIMessage(content=str(hit.get("text") or ""))


def _served(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    run_manager = kwargs.get("run_manager", args[2] if len(args) > 2 else None)
    if run_manager is None:
        return None
    for h in _handlers(getattr(run_manager, "handlers", None)):
        handle = h.llm_handle(getattr(run_manager, "run_id", None))
        hit = getattr(handle, "replayed", None)
        if hit is not None:
            from langchain_core.outputs import ChatGeneration, ChatResult

            return ChatResult(generations=[ChatGeneration(message=message_from_recording(hit))])
    return None


def _generate_with_cache(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = guarded(_served, args, kwargs, what=_LOOKUP)
    return result if result is not None else wrapped(*args, **kwargs)


async def _agenerate_with_cache(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = guarded(_served, args, kwargs, what=_LOOKUP)
    return result if result is not None else await wrapped(*args, **kwargs)
