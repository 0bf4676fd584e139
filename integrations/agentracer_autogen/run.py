"""Run an AutoGen AgentChat team on one question (the ``agentracer_run`` hook, used by ``agentracer.refine``)."""

from __future__ import annotations

import asyncio
from typing import Any

from .detect import is_autogen

__all__ = ["run_team"]


def run_team(system: Any, task: str) -> str | None:
    """Reset the team and run it on ``task``; the content of its last message ("" without messages), or
    None if ``system`` is not an AutoGen team."""
    if not (is_autogen(system) and hasattr(system, "run_stream") and hasattr(system, "reset")):
        return None

    async def go() -> Any:
        await system.reset()
        return await system.run(task=task)

    res = asyncio.run(go())
    msgs = getattr(res, "messages", []) or []
    return str(getattr(msgs[-1], "content", "")) if msgs else ""
