"""Agent step recording: each participant's ``on_messages_stream`` becomes one agent step per agent turn.

The step is named after the agent; its ``kind`` is ``handoff`` when the turn ends in a ``HandoffMessage``
(Swarm), else ``agent_message``. While the turn runs, it is the parent of the agent's LLM calls (its model
client, :mod:`.client`) and tool calls (:mod:`.tools`). A bare ``agent.on_messages()`` outside any run is a
run of its own. During a fork's live override, the turn's response is replaced here, together with the
speaker's own copy of it in its model context.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

from agentracer.recording import guarded

from .client import wrap_client
from .detect import ag_class
from .messages import replace_last_assistant
from .patching import install, late_bound
from .session import SESSION_ATTR, Session
from .tools import TURN, agent_tools, wrap_tool

__all__ = ["wrap_agent"]

_WHAT = "the AutoGen plugin (agent turn)"


def wrap_agent(agent: Any, session: Session) -> None:
    """Instrument one ``ChatAgent``: its turns, its model client and its tools."""
    prev = getattr(agent, SESSION_ATTR, None)
    object.__setattr__(agent, SESSION_ATTR, session)
    if hasattr(agent, "_model_client"):
        agent._model_client = wrap_client(agent._model_client, agent.name, session)
    for tool in agent_tools(agent):
        wrap_tool(tool)
    if prev is not None:
        return  # already wrapped: the wrappers look the session up on the agent
    orig = late_bound(agent, "on_messages_stream")

    def on_messages_stream(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
        return _traced_turn(agent, orig, args, kwargs)

    install(agent, "on_messages_stream", on_messages_stream, orig)


async def _traced_turn(agent: Any, orig: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> AsyncGenerator[Any, None]:
    """``agent.on_messages_stream(*args, **kwargs)``, its items passed through, recorded as one agent step."""
    Response = ag_class("Response")  # noqa: N806
    session: Session = getattr(agent, SESSION_ATTR)
    messages = args[0] if args else kwargs.get("messages", [])
    own_run = False
    if session.run is None and session.external_run is None:  # a bare on_messages() call: a run of its own
        guarded(session.begin_run, messages, what=_WHAT)
        own_run = session.run is not None
    h = guarded(session.begin_turn, agent, messages, what=_WHAT)
    token = guarded(TURN.set, (session, h), what=_WHAT) if h is not None else None
    gen = orig(*args, **kwargs)
    response = None
    try:
        while True:
            try:
                item = await gen.__anext__()
            except StopAsyncIteration:
                break
            if isinstance(item, Response) and h is not None:
                if session.override is not None:
                    # the override must not be swallowed: a failure here is the fork's, not the host's
                    item = session.turn_response(agent, h, item)
                    patch = session._pending_context_patch
                    if patch is not None:
                        session._pending_context_patch = None
                        await _patch_model_context(*patch)
                        session._fire_override()
                else:
                    item = guarded(session.turn_response, agent, h, item, default=item, what=_WHAT)
                response = item
            yield item
    except GeneratorExit:
        try:
            await gen.aclose()
        finally:
            if h is not None:
                guarded(session.end_turn, agent, h, "the turn was closed before it finished", what=_WHAT)
        raise
    except BaseException as e:
        if h is not None:
            guarded(session.end_turn, agent, h, e, what=_WHAT)
        if own_run:
            guarded(session.end_run, None, e, what=_WHAT)
        raise
    else:
        if h is not None:
            guarded(session.end_turn, agent, h, None, what=_WHAT)
        if own_run:
            guarded(session.end_run, _Result([response.chat_message] if response else []), None, what=_WHAT)
    finally:
        if token is not None:
            try:
                TURN.reset(token)
            except Exception:
                pass


class _Result:
    """What ``Session.end_run`` reads of a ``TaskResult``, for the run of a bare ``on_messages()`` call."""

    def __init__(self, messages: list[Any]) -> None:
        self.messages = messages
        self.stop_reason = None


async def _patch_model_context(agent: Any, original: str, text: str) -> None:
    """Replace the speaker's own copy of its message (last matching AssistantMessage) by ``text``."""
    ctx = getattr(agent, "_model_context", None)
    if ctx is None:
        return
    state = await ctx.save_state()
    replace_last_assistant(state.get("messages", []), original, text)
    await ctx.load_state(state)
