"""Feedback to one agent of an AutoGen team (:func:`inject_feedback`).

A ``ListMemory`` holding the text is added to the target agent's ``memory`` list only; AutoGen injects it
as a system message into that agent's next LLM prompts, which the other agents never see.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FEEDBACK_MEMORY", "inject_feedback"]

FEEDBACK_MEMORY = "agentracer_feedback"


def _find_agent(system: Any, agent: str) -> Any:
    """The participant named ``agent`` of a team, or the single agent itself; else ValueError."""
    from autogen_agentchat.teams import BaseGroupChat

    if isinstance(system, BaseGroupChat):
        for p in system._participants:
            if getattr(p, "name", None) == agent:
                return p
        names = [getattr(p, "name", "?") for p in system._participants]
        raise ValueError(f"agentracer.inject_feedback: no agent {agent!r} in the team (participants: {', '.join(names)})")
    if getattr(system, "name", None) == agent:
        return system
    raise ValueError(f"agentracer.inject_feedback: the agent is {getattr(system, 'name', '?')!r}, not {agent!r}")


def inject_feedback(system: Any, agent: str, text: str) -> Any:
    """Add ``text`` to ``agent``'s memory (a ``ListMemory``), so its next LLM prompts carry it; return ``system``.

    Only that agent is told: the memory is attached to it alone, and AutoGen puts memory into the
    agent's own model context as a system message, which the other agents never see. Feedback given
    twice to the same agent goes into the same memory.
    """
    from autogen_core.memory import ListMemory, MemoryContent, MemoryMimeType

    target = _find_agent(system, agent)
    if not hasattr(target, "_memory"):
        raise TypeError(
            f"agentracer.inject_feedback: {type(target).__name__} {agent!r} has no memory; feedback goes to AssistantAgent-like agents"
        )
    content = MemoryContent(content=text, mime_type=MemoryMimeType.TEXT, metadata={"source": "agentracer"})
    memories = list(target._memory or [])
    for m in memories:
        if isinstance(m, ListMemory) and m.name == FEEDBACK_MEMORY:
            m.content.append(content)
            break
    else:
        memories.append(ListMemory(name=FEEDBACK_MEMORY, memory_contents=[content]))
    target._memory = memories
    return system
