"""Instrumenting CAMEL systems: class-level wrapt patches that record only what was instrumented.

The patches (installed once, on first :func:`register`) are:

- ``ChatAgent.step``, ``ChatAgent._step_impl`` / ``_astep_non_streaming_task``: one agent step
  (:mod:`agentracer_camel.steps`).
- ``ModelManager.run`` / ``arun``: one LLM call (``chat {model}``) under the open agent step, also the
  record/replay point; ``ChatAgent._execute_tool`` / ``_aexecute_tool``: one tool call
  (``execute_tool {tool}``) (:mod:`agentracer_camel.calls`).
- ``RolePlaying.init_chat`` / ``ainit_chat``: a RolePlaying run starts (:mod:`agentracer_camel.roleplaying`).
- ``Workforce.process_task_async`` (which ``process_task`` also goes through): a Workforce run;
  ``SingleAgentWorker._process_task`` / ``RolePlayingWorker._process_task``: which worker (a uuid) is at
  work, so its agent clones are recorded under the worker's readable name (:mod:`agentracer_camel.workforce`).

Every patch checks a weak registry first (:mod:`agentracer_camel.session`): agents and systems that were
not instrumented pass straight through. Every piece of our own code runs under
:func:`agentracer.recording.guarded`; an error is logged, never raised into the host, and the host call
itself is always made exactly once.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .calls import w_aexecute_tool, w_execute_tool, w_model_arun, w_model_run
from .roleplaying import register_society_agents, w_ainit_chat, w_init_chat
from .session import AGENTS, SYSTEMS, AgentInfo, Session, session_of
from .steps import w_astep_task, w_step, w_step_impl
from .workforce import (
    CALLBACK_CLASS,
    make_workforce_callback,
    register_workforce_agents,
    w_process_task_async,
    w_worker_process,
)

if TYPE_CHECKING:
    from agentracer.recording import Recorder, Sink

__all__ = ["install_patches", "instrument", "register", "uninstrument", "unregister"]

_PATCH_LOCK = threading.Lock()
_PATCHED: set[tuple[str, str]] = set()


def _wrap(cls: type, method: str, wrapper: Callable[..., Any]) -> None:
    import wrapt

    key = (f"{cls.__module__}.{cls.__qualname__}", method)
    if key in _PATCHED or method not in cls.__dict__:
        return
    wrapt.wrap_function_wrapper(cls, method, wrapper)
    _PATCHED.add(key)


def install_patches() -> None:
    """Install the class-level wrappers once (idempotent, thread-safe)."""
    with _PATCH_LOCK:
        from camel.agents import ChatAgent
        from camel.models.model_manager import ModelManager
        from camel.societies import RolePlaying
        from camel.societies.workforce import Workforce
        from camel.societies.workforce.role_playing_worker import RolePlayingWorker
        from camel.societies.workforce.single_agent_worker import SingleAgentWorker

        _wrap(ChatAgent, "step", w_step)
        _wrap(ChatAgent, "_step_impl", w_step_impl)
        _wrap(ChatAgent, "_astep_non_streaming_task", w_astep_task)
        _wrap(ChatAgent, "_execute_tool", w_execute_tool)
        _wrap(ChatAgent, "_aexecute_tool", w_aexecute_tool)
        _wrap(ModelManager, "run", w_model_run)
        _wrap(ModelManager, "arun", w_model_arun)
        _wrap(RolePlaying, "init_chat", w_init_chat)
        _wrap(RolePlaying, "ainit_chat", w_ainit_chat)
        _wrap(Workforce, "process_task_async", w_process_task_async)
        _wrap(SingleAgentWorker, "_process_task", w_worker_process)
        _wrap(RolePlayingWorker, "_process_task", w_worker_process)


def patch_subclass(system: Any) -> None:
    """Also wrap run entry points that a subclass overrides (e.g. a custom ``init_chat``)."""
    from camel.societies import RolePlaying
    from camel.societies.workforce import Workforce

    with _PATCH_LOCK:
        for cls in type(system).__mro__:
            if cls in (RolePlaying, Workforce, object):
                break
            if isinstance(system, RolePlaying):
                _wrap(cls, "init_chat", w_init_chat)
                _wrap(cls, "ainit_chat", w_ainit_chat)
            if isinstance(system, Workforce):
                _wrap(cls, "process_task_async", w_process_task_async)


def register(system: Any, recorder: Recorder, names: dict[str, str] | None = None) -> Session | None:
    """Instrument a ChatAgent, RolePlaying society or Workforce; returns its session (None if not CAMEL).

    Idempotent: instrumenting again only swaps the recorder (and adds ``names``).
    """
    from camel.agents import ChatAgent
    from camel.societies import RolePlaying
    from camel.societies.workforce import Workforce

    if isinstance(system, Workforce):
        kind = "workforce"
    elif isinstance(system, RolePlaying):
        kind = "role_playing"
    elif isinstance(system, ChatAgent):
        kind = "agent"
    else:
        return None
    install_patches()
    patch_subclass(system)
    session: Session | None = SYSTEMS.get(system)
    if session is None:
        session = Session(recorder=recorder, kind=kind, system_ref=weakref.ref(system),
                          system_class=type(system).__name__)
        SYSTEMS.set(system, session)
    else:
        session.recorder = recorder
    if names:
        session.names.update({str(k): str(v) for k, v in names.items()})
        session.worker_names.clear()
    if kind == "agent":
        AGENTS.set(system, AgentInfo(session, "solo"))
    elif kind == "role_playing":
        register_society_agents(session, system)
    else:
        register_workforce_agents(session, system)
        cbs = getattr(system, "_callbacks", None)
        if isinstance(cbs, list) and not any(type(cb).__name__ == CALLBACK_CLASS for cb in cbs):
            cbs.append(make_workforce_callback(session))
    return session


def unregister(system: Any) -> None:
    """Stop recording ``system`` (the class patches stay; they pass everything through)."""
    session = SYSTEMS.pop(system)
    if session is None:
        return
    for attr in ("user_agent", "assistant_agent", "critic", "coordinator_agent", "task_agent"):
        agent = getattr(system, attr, None)
        if agent is not None:
            AGENTS.pop(agent)
    AGENTS.pop(system)
    cbs = getattr(system, "_callbacks", None)
    if isinstance(cbs, list):
        cbs[:] = [cb for cb in cbs if type(cb).__name__ != CALLBACK_CLASS]


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

    out = agentracer.instrument(system, recorder=recorder, tracer_provider=tracer_provider,
                                capture_content=capture_content, sink=sink)
    if names:
        session = session_of(system)
        if session is not None:
            register(system, session.recorder, names=names)
    return out


def uninstrument(system: Any) -> None:
    """Stop recording ``system``; its calls pass straight through again."""
    unregister(system)
