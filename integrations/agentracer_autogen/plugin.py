"""The AgenTracer plugin for AutoGen AgentChat 0.7 (entry point ``autogen``).

``agentracer.instrument(team)`` records RoundRobinGroupChat, SelectorGroupChat, Swarm and
MagenticOneGroupChat teams, and single agents (``AssistantAgent``); see :mod:`.instrument`.
``agentracer.fork(team_or_factory, trace, step, text)`` is in :mod:`.fork`, ``agentracer.inject_feedback(team,
agent, text)`` in :mod:`.feedback`. Nothing here imports AutoGen until a system is offered to the plugin.
"""

from __future__ import annotations

from typing import Any

from agentracer.hooks import hookimpl

from .detect import FRAMEWORK, is_autogen


@hookimpl
def agentracer_plugin_info() -> dict[str, Any]:
    """What ``agentracer plugins`` lists for this plugin."""
    return {"name": "autogen", "framework": "AutoGen AgentChat", "distribution": "autogen-agentchat"}


@hookimpl
def agentracer_wrap(system: Any, recorder: Any) -> Any:
    """Instrument an AutoGen team or chat agent in place and return it; None for anything else."""
    if not is_autogen(system):
        return None
    from autogen_agentchat.base import ChatAgent
    from autogen_agentchat.teams import BaseGroupChat

    if not isinstance(system, (BaseGroupChat, ChatAgent)):
        return None
    from .instrument import instrument

    instrument(system, recorder)
    return system


@hookimpl
def agentracer_fork(system: Any, trace: Any, step: int, replacement: str) -> Any:
    """An :class:`~.fork.AutogenFork` for a team (or a factory of teams with an AutoGen trace); else None."""
    ours = is_autogen(system) or (
        callable(system) and getattr(trace, "framework", None) == FRAMEWORK and not hasattr(system, "invoke")
    )
    if not ours:
        return None
    from autogen_agentchat.base import ChatAgent

    if isinstance(system, ChatAgent):
        raise TypeError("agentracer.fork: forking needs an AutoGen team (a single agent has no turns to resume)")
    from .fork import AutogenFork

    return AutogenFork(system, trace, step, replacement)


@hookimpl
def agentracer_inject_feedback(system: Any, agent: str, text: str) -> Any:
    """Give ``agent`` of an AutoGen team (or a single agent) the feedback ``text`` through a ListMemory."""
    if not is_autogen(system):
        return None
    from .feedback import inject_feedback

    return inject_feedback(system, agent, text)


@hookimpl
def agentracer_run(system: Any, task: str) -> Any:
    """Reset an AutoGen team and run it on ``task``; its last message's content, or None if not a team."""
    from .run import run_team

    return run_team(system, task)


@hookimpl
def agentracer_sample(framework: str, kind: str) -> Any:
    """The driver of the annotation generator's systems on AutoGen (``kind="generated"``, see :mod:`.generated`)."""
    import importlib.util

    if framework != "autogen" or kind != "generated" or importlib.util.find_spec("autogen_agentchat") is None:
        return None
    from .generated import DRIVER

    return DRIVER
