"""Recording RolePlaying societies (OWL's ``OwlRolePlaying`` included): their runs and rounds.

A run starts at ``init_chat`` (patched here) or at the first agent step, and each round starts with the
user agent's step: both agents' memories and the round's input are snapshotted then, so that a fork can
restart from that round (see :mod:`agentracer_camel.fork`).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

from agentracer.recording import Run, guarded

from .memory import dump_memory, keep_snapshots
from .names import SOCIETY_ROLES, resolve
from .session import AGENTS, IN_INIT, SYSTEMS, AgentInfo, Session, camel_meta, close_run, open_run, redacted

log = logging.getLogger("agentracer.camel")


def register_society_agents(session: Session, society: Any) -> None:
    """(Re-)register a society's current user, assistant and critic agents."""
    for attr, role in SOCIETY_ROLES:
        agent = getattr(society, attr, None)
        if agent is not None and hasattr(agent, "_step_impl"):
            AGENTS.set(agent, AgentInfo(session, role))


def ensure_society_run(session: Session) -> Run | None:
    """The society's open run; opens one (named after the task prompt) when none is open."""
    if session.run_open():
        return session.run
    society = session.system
    task = str(getattr(society, "task_prompt", "") or "")
    meta = {"kind": "role_playing", "system": session.system_class, "rounds": []}
    session.rounds = []
    names = []
    for a in (getattr(society, "user_agent", None), getattr(society, "assistant_agent", None)):
        r = resolve(a) if a is not None else None
        if r:
            names.append(r[1])
    return open_run(session, task, meta, agents=names)


def society_round_start(session: Session, input_message: Any) -> int | None:
    """A RolePlaying round starts with the user agent's step: snapshot both agents and the input."""
    society = session.system
    if society is None:
        return None
    with session.lock:
        run = session.run
        if run is None or run.ended:
            return None
        r = len(session.rounds)
        snap: dict[str, Any] = {"round": r, "first_step": len(run.trace.steps)}
        try:
            snap["input"] = copy.deepcopy(input_message)
            snap["user"] = dump_memory(society.user_agent)
            snap["assistant"] = dump_memory(society.assistant_agent)
        except Exception:
            log.exception("agentracer.camel: could not snapshot round %d (fork will replay from the start)", r)
            snap = {"round": r, "first_step": snap["first_step"]}
        session.rounds.append(snap)
        keep_snapshots(run.trace.run_id, {"kind": "role_playing", "rounds": session.rounds})
        camel_meta(run).setdefault("rounds", []).append({"round": r, "first_step": snap["first_step"]})
        session.round_state = {"round": r}
        return r


def _begin_init_chat(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    session: Session | None = SYSTEMS.get(instance)
    if session is None or session.kind != "role_playing":
        return
    register_society_agents(session, instance)
    init_prompt = args[0] if args else kwargs.get("init_msg_content")
    with session.lock:
        if not session.managed:
            close_run(session)  # the previous manually driven run, if the caller never ended it
            session.run = None
            ensure_society_run(session)
        session.rounds = []
        session.round_state = {}
        if session.run is not None:
            meta = camel_meta(session.run)
            meta["init_prompt"] = redacted(session, init_prompt)
            meta.setdefault("rounds", [])


def w_init_chat(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``RolePlaying.init_chat``: a RolePlaying run starts (unless ``run_society`` already opened one)."""
    if IN_INIT.get():
        return wrapped(*args, **kwargs)
    token = IN_INIT.set(True)
    try:
        result = wrapped(*args, **kwargs)
    finally:
        IN_INIT.reset(token)
    guarded(_begin_init_chat, instance, args, kwargs, what="init_chat")
    return result


async def w_ainit_chat(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...],
                       kwargs: dict[str, Any]) -> Any:
    """``RolePlaying.ainit_chat``: the async twin of :func:`w_init_chat`."""
    if IN_INIT.get():
        return await wrapped(*args, **kwargs)
    token = IN_INIT.set(True)
    try:
        result = await wrapped(*args, **kwargs)
    finally:
        IN_INIT.reset(token)
    guarded(_begin_init_chat, instance, args, kwargs, what="ainit_chat")
    return result
