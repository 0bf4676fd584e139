"""Feedback for one agent of a CAMEL system, for its next steps and runs (the refinement loop's last step).

CAMEL's own ``append_to_system_message(text, reset_memory=False)`` extends that agent's system message;
the system record already in its memory is rewritten too, so its very next LLM call sees the feedback
while the conversation is kept.
"""

from __future__ import annotations

from typing import Any

from agentracer.trace import normalize_agent

from .memory import refresh_system_record
from .names import agents_by_name

__all__ = ["agent_names", "inject_feedback"]


def agent_names(system: Any) -> list[str]:
    """The names the agents of ``system`` are recorded under (what feedback and attributions use)."""
    return list(agents_by_name(system))


def inject_feedback(system: Any, agent: str, text: str) -> Any:
    """Tell one agent of ``system`` the feedback ``text``, for its next steps and runs; returns ``system``.

    Uses CAMEL's ``append_to_system_message(text, reset_memory=False)`` on that agent only (for a
    Workforce worker: its base agent and the pooled clones), then rewrites the system record already in
    its memory so that even its very next LLM call sees it, without losing the conversation.
    ``agent`` is a recorded name (see :func:`agent_names`), compared case- and punctuation-insensitively.
    Raises ``ValueError`` naming the known agents when no agent has that name.
    """
    table = agents_by_name(system)
    want = normalize_agent(agent)
    targets = [a for name, agents in table.items() if normalize_agent(name) == want for a in agents]
    if not targets:
        known = ", ".join(repr(n) for n in table) or "none"
        raise ValueError(f"agentracer_camel.inject_feedback: no agent named {agent!r} in this "
                         f"{type(system).__name__}; its agents are: {known}")
    for a in targets:
        a.append_to_system_message(text, reset_memory=False)
        refresh_system_record(a)
    return system
