"""Instrumentation of AutoGen AgentChat 0.7 teams and agents (in place, per instance, never global).

:func:`instrument` is the entry point. What is patched, on the instances passed in (no class is touched, so
other teams are unaffected):

* ``team.run_stream`` (``team.run`` goes through it), here: one :class:`~agentracer.recording.Run` per run,
  with the task as ``Trace.task`` and the last chat message as ``final_answer``; a single agent's ``run``
  and ``run_stream`` alike.
* each participant's ``on_messages_stream`` (:mod:`.agents`): one agent step per agent turn.
* each participant's ``_model_client`` (and the team's, for SelectorGroupChat / MagenticOneGroupChat)
  (:mod:`.client`): a ``chat {model}`` child per LLM call, served from the recording when it holds the call.
* each tool instance's ``run`` (:mod:`.tools`): ``execute_tool {tool}`` children.
* the team's output queue ``put``, here: the group chat manager's own chat messages (the MagenticOne
  orchestrator's ledger, instructions and final answer) become steps of the manager agent. The
  manager's LLM calls (selector / orchestrator) are children of a manager step that is opened lazily
  at the first call; for SelectorGroupChat it is a ``handoff`` step whose content is the selected
  speaker.

The recording state of a team is its :class:`~.session.Session`.

No duplicates: AutoGen opens its own ``invoke_agent {agent}`` and ``execute_tool {tool}`` spans on the
*global* tracer provider. When our recorder exports to that same provider, the step adopts AutoGen's
open span (our attributes are added to it; AutoGen ends it) instead of opening a second one. When the
recorder has its own provider, AutoGen's spans go elsewhere and ours are complete on their own.

Every hook is guarded (``agentracer.recording.guarded``): an error inside agentracer is logged and the
host's call proceeds unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from typing import Any

from agentracer.recording import Recorder, Run, guarded

from .agents import wrap_agent
from .client import is_traced_client, wrap_client
from .detect import ag_class
from .patching import install, late_bound
from .session import SESSION_ATTR, Session, session_of

log = logging.getLogger("agentracer.autogen")

__all__ = ["instrument"]

_WHAT = "the AutoGen plugin (team run)"


def _task_arg(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The ``task`` argument of a ``run`` / ``run_stream`` call."""
    return kwargs.get("task", args[0] if args else None)


def _wrap_run_stream(obj: Any) -> None:
    """``obj.run_stream`` (a team's or a single agent's) records one run, into ``obj``'s session."""
    orig = late_bound(obj, "run_stream")

    def run_stream(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
        return _traced_run_stream(getattr(obj, SESSION_ATTR), orig, args, kwargs)

    install(obj, "run_stream", run_stream, orig)


async def _traced_run_stream(session: Session, orig: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> AsyncGenerator[Any, None]:
    """``orig(*args, **kwargs)``'s items passed through, the whole stream recorded as one run."""
    TaskResult = ag_class("TaskResult")  # noqa: N806
    guarded(session.begin_run, _task_arg(args, kwargs), what=_WHAT)
    gen = orig(*args, **kwargs)
    result = None
    try:
        while True:
            token = guarded(session.attach_context, what=_WHAT)
            try:
                item = await gen.__anext__()
            except StopAsyncIteration:
                break
            finally:
                session.detach_context(token)
            if isinstance(item, TaskResult):
                result = item
            yield item
    except GeneratorExit:
        try:
            await gen.aclose()  # AutoGen finishes the turns in flight here: they belong to this run
        finally:
            guarded(session.end_run, result, "the run was closed before it finished", what=_WHAT)
        raise
    except BaseException as e:
        guarded(session.end_run, result, e, what=_WHAT)
        raise
    else:
        guarded(session.end_run, result, None, what=_WHAT)


def _wrap_agent_run(agent: Any) -> None:
    """Single agent: ``agent.run()`` is one run (``run_stream`` is wrapped like a team's)."""
    orig = late_bound(agent, "run")

    async def run(*args: Any, **kwargs: Any) -> Any:
        session = getattr(agent, SESSION_ATTR)
        guarded(session.begin_run, _task_arg(args, kwargs), what=_WHAT)
        token = guarded(session.attach_context, what=_WHAT)
        try:
            result = await orig(*args, **kwargs)
        except BaseException as e:
            session.detach_context(token)
            guarded(session.end_run, None, e, what=_WHAT)
            raise
        session.detach_context(token)
        guarded(session.end_run, result, None, what=_WHAT)
        return result

    install(agent, "run", run, orig)


def _wrap_output_queue(team: Any) -> None:
    """The team's output queue ``put``: the manager's own messages become its steps (``Session.manager_output``)."""
    queue = getattr(team, "_output_message_queue", None)
    if queue is None or getattr(queue, SESSION_ATTR, False):
        return
    orig_put = queue.put

    async def put(item: Any) -> None:
        session = getattr(team, SESSION_ATTR)
        if session.override is not None:
            session.manager_output(item)  # a fork: its override errors must surface
        else:
            guarded(session.manager_output, item, what=_WHAT)
        return await orig_put(item)

    queue.put = put
    setattr(queue, SESSION_ATTR, True)


def instrument(system: Any, recorder: Recorder, *, external_run: Run | None = None) -> Session:
    """Instrument an AutoGen team (``BaseGroupChat``) or a single ``ChatAgent`` in place; return its session.

    Instrumenting again only points the existing hooks at the new ``recorder``. Call it before the
    team's first run, so that the selector / orchestrator model client is wrapped too. A participant of an
    instrumented team, instrumented on its own as well, keeps recording into the team's session (each of its
    turns is recorded once, in the team's run).
    """
    from autogen_agentchat.base import ChatAgent, Team
    from autogen_agentchat.teams import BaseGroupChat

    existing = session_of(system)
    if isinstance(system, BaseGroupChat):
        session = Session(recorder, team=system, external_run=external_run)
        object.__setattr__(system, SESSION_ATTR, session)
        if existing is None:
            _wrap_run_stream(system)
            _wrap_output_queue(system)
        if getattr(system, "_model_client", None) is not None and session.manager_name:
            if getattr(system, "_initialized", False) and not is_traced_client(system._model_client):
                log.warning("agentracer: %s already ran; its manager's LLM calls will not be recorded", type(system).__name__)
            system._model_client = wrap_client(system._model_client, session.manager_name, session)
        for p in system._participants:
            if isinstance(p, Team):
                log.warning("agentracer: nested team %r is not instrumented (record it separately)", getattr(p, "name", p))
                continue
            wrap_agent(p, session)
        return session
    if isinstance(system, ChatAgent):
        if existing is not None and existing.team is not None and external_run is None:
            # a participant of an instrumented team: its turns stay in the team's run (recorded once)
            log.info("agentracer: %r is a participant of an instrumented team; it records into the team's run",
                     getattr(system, "name", system))
            return existing
        session = Session(recorder, agent=system, external_run=external_run)
        wrap_agent(system, session)  # sets the session attribute
        if existing is None:
            _wrap_agent_run(system)
            _wrap_run_stream(system)
        return session
    raise TypeError(f"not an AutoGen team or agent: {type(system).__qualname__}")
