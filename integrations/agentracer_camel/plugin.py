"""The AgenTracer plugin for CAMEL (ChatAgent, RolePlaying, Workforce) and OWL (registered as ``camel``).

Nothing here imports CAMEL until a hook sees an object whose class comes from ``camel``.
"""

from __future__ import annotations

from typing import Any

from agentracer.hooks import hookimpl

from .detect import is_camel


@hookimpl
def agentracer_wrap(system: Any, recorder: Any) -> Any:
    """Record a CAMEL ChatAgent, RolePlaying society (OWL's OwlRolePlaying included) or Workforce."""
    if not is_camel(system):
        return None
    from .instrument import register

    return system if register(system, recorder) is not None else None


@hookimpl
def agentracer_fork(system: Any, trace: Any, step: int, replacement: str) -> Any:
    """A runnable rerunning a RolePlaying society or Workforce from ``step`` with its output replaced."""
    if not is_camel(system):
        return None
    from camel.societies import RolePlaying
    from camel.societies.workforce import Workforce

    if not isinstance(system, (RolePlaying, Workforce)):
        return None
    from .fork import fork

    return fork(system, trace, step, replacement)


@hookimpl
def agentracer_inject_feedback(system: Any, agent: str, text: str) -> Any:
    """Append ``text`` to the system message of the agent named ``agent`` (memory kept)."""
    if not is_camel(system):
        return None
    from .feedback import inject_feedback

    return inject_feedback(system, agent, text)


@hookimpl
def agentracer_plugin_info() -> dict[str, Any]:
    """This plugin's name, framework and the distribution whose version ``agentracer plugins`` shows."""
    return {"name": "camel", "framework": "CAMEL / OWL", "distribution": "camel-ai"}


@hookimpl
def agentracer_run(system: Any, task: str) -> Any:
    """Run a CAMEL Workforce on ``task``; the task's result, or None if ``system`` is not a Workforce."""
    if not is_camel(system):
        return None
    from .run import run_workforce

    return run_workforce(system, task)


@hookimpl
def agentracer_sample(framework: str, kind: str) -> Any:
    """The driver of the annotation generator's systems on CAMEL (``kind="generated"``, see :mod:`.generated`)."""
    import importlib.util

    if framework != "camel" or kind != "generated" or importlib.util.find_spec("camel") is None:
        return None
    from .generated import DRIVER

    return DRIVER
