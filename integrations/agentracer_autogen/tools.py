"""Tool-call recording: each tool's ``run`` (tools of an agent's static workbenches and its handoff tools)
becomes an ``execute_tool {tool}`` child of the agent turn that calls it.

A tool instance may be shared by several agents, so it cannot know its agent by itself: the agent turn
running in the context is in :data:`TURN` (set by :mod:`.agents`), and the tool reads it.
"""

from __future__ import annotations

import contextvars
import logging
from typing import TYPE_CHECKING, Any

from agentracer.recording import guarded

from .patching import install, late_bound

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger("agentracer.autogen")

__all__ = ["TURN", "agent_tools", "wrap_tool"]

_TOOL_ATTR = "_agentracer_autogen_tool"

# (session, step handle) of the agent turn running in this context
TURN: contextvars.ContextVar[tuple[Session, Any] | None] = contextvars.ContextVar("agentracer_autogen_turn", default=None)


def agent_tools(agent: Any) -> list[Any]:
    """The tool instances of ``agent``: those of its static workbenches, then its handoff tools."""
    tools: list[Any] = []
    for wb in getattr(agent, "_workbench", None) or []:
        tools.extend(getattr(wb, "_tools", None) or [])
    tools.extend(getattr(agent, "_handoff_tools", None) or [])
    return tools


def wrap_tool(tool: Any) -> None:
    """Record ``tool.run`` under the agent turn running in the context (the tool may be shared)."""
    if getattr(tool, _TOOL_ATTR, False) or not callable(getattr(tool, "run", None)):
        return
    orig = late_bound(tool, "run")
    name = getattr(tool, "name", type(tool).__name__)

    async def run(args: Any, cancellation_token: Any, *rest: Any, **kwargs: Any) -> Any:
        cur = TURN.get()
        if cur is None:
            return await orig(args, cancellation_token, *rest, **kwargs)
        session, parent = cur
        if getattr(parent, "step", None) is None:  # the turn was not recorded
            return await orig(args, cancellation_token, *rest, **kwargs)

        def begin() -> Any:
            try:
                a = args.model_dump(mode="json")
            except Exception:
                a = str(args)
            adopt = session._adoptable(f"execute_tool {name}")
            call_id = None
            if adopt is not None:
                call_id = (getattr(adopt, "attributes", None) or {}).get("gen_ai.tool.call.id")
            return session.recorder.begin_tool(name, args=a, call_id=call_id, parent=parent, span=adopt)

        h = guarded(begin, what="the AutoGen plugin (opening a tool call)")
        try:
            result = await orig(args, cancellation_token, *rest, **kwargs)
        except BaseException as e:
            if h is not None:
                h.end(error=e)
            raise
        if h is not None:

            def finish() -> None:
                try:
                    out = tool.return_value_as_string(result)
                except Exception:
                    out = str(result)
                h.end(out)

            guarded(finish, what="the AutoGen plugin (ending a tool call)")
        return result

    try:
        install(tool, "run", run, orig)
        object.__setattr__(tool, _TOOL_ATTR, True)
    except Exception:
        log.debug("agentracer: cannot wrap tool %r", name, exc_info=True)
