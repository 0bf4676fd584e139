"""AgenTracer plugin for CAMEL (ChatAgent, RolePlaying, Workforce) and OWL.

``agentracer.instrument(x)`` records a ``ChatAgent``, a ``RolePlaying`` society (OWL's
``OwlRolePlaying`` included) or a ``Workforce``::

    society = agentracer.instrument(society)
    answer, history, tokens = agentracer_camel.run_society(society, round_limit=15)   # OWL's loop
    trace = agentracer.last_trace()

This module adds what the three generic hooks cannot express: readable names for Workforce workers
(``instrument(wf, names={...})``), OWL's round loop (:func:`run_society`), :func:`end_run` for runs
driven by your own loop, and :func:`fork` with a round limit. Importing it does not import CAMEL.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentracer.trace import normalize_agent

from .society import DEFAULT_INIT_PROMPT, arun_society, end_run, fork, run_society

if TYPE_CHECKING:
    from agentracer.recording import Recorder, Sink

__all__ = [
    "DEFAULT_INIT_PROMPT",
    "agent_names",
    "arun_society",
    "end_run",
    "fork",
    "inject_feedback",
    "instrument",
    "run_society",
    "uninstrument",
]


def instrument(
    system: Any,
    *,
    names: dict[str, str] | None = None,
    recorder: Recorder | None = None,
    tracer_provider: Any = None,
    capture_content: bool | None = None,
    sink: Sink | str | Path | None = None,
) -> Any:
    """``agentracer.instrument`` for a CAMEL system, plus ``names``: readable agent names.

    ``names`` maps a Workforce worker's node id (its agent's uuid ``agent_id``), its description, or an
    agent's ``agent_id``/role name to the name steps are recorded under (e.g. ``{"A helpful assistant
    that can search the web...": "Web Agent"}``). Without it a worker is named by its agent's role name
    when that is specific, else by the first clause of its description.
    """
    import agentracer

    from . import _core

    out = agentracer.instrument(system, recorder=recorder, tracer_provider=tracer_provider,
                                capture_content=capture_content, sink=sink)
    if names:
        session = _core.session_of(system)
        if session is not None:
            _core.register(system, session.recorder, names=names)
    return out


def uninstrument(system: Any) -> None:
    """Stop recording ``system``; its calls pass straight through again."""
    from . import _core

    _core.unregister(system)


def agent_names(system: Any) -> list[str]:
    """The names the agents of ``system`` are recorded under (what feedback and attributions use)."""
    from . import _core

    return list(_core.agents_by_name(system))


def inject_feedback(system: Any, agent: str, text: str) -> Any:
    """Tell one agent of ``system`` the feedback ``text``, for its next steps and runs; returns ``system``.

    Uses CAMEL's ``append_to_system_message(text, reset_memory=False)`` on that agent only (for a
    Workforce worker: its base agent and the pooled clones), then rewrites the system record already in
    its memory so that even its very next LLM call sees it, without losing the conversation.
    ``agent`` is a recorded name (see :func:`agent_names`), compared case- and punctuation-insensitively.
    Raises ``ValueError`` naming the known agents when no agent has that name.
    """
    from . import _core

    table = _core.agents_by_name(system)
    want = normalize_agent(agent)
    targets = [a for name, agents in table.items() if normalize_agent(name) == want for a in agents]
    if not targets:
        known = ", ".join(repr(n) for n in table) or "none"
        raise ValueError(f"agentracer_camel.inject_feedback: no agent named {agent!r} in this "
                         f"{type(system).__name__}; its agents are: {known}")
    for a in targets:
        a.append_to_system_message(text, reset_memory=False)
        _core.refresh_system_record(a)
    return system
