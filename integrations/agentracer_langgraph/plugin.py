"""The pluggy hook implementations of the LangGraph plugin (entry point ``agentracer.langgraph``)."""

from __future__ import annotations

from typing import Any

from agentracer.hooks import hookimpl

from .detect import is_langgraph, is_uncompiled_graph


@hookimpl
def agentracer_wrap(system: Any, recorder: Any) -> Any:
    """Record ``system``'s runs if it is a compiled LangGraph graph (in place; the same object is returned)."""
    if is_uncompiled_graph(system):
        raise TypeError("agentracer.instrument: this LangGraph StateGraph is not compiled; call .compile() first "
                        "and instrument the compiled graph (graph = builder.compile(); agentracer.instrument(graph))")
    if not is_langgraph(system):
        return None
    from .instrument import instrument_graph

    return instrument_graph(system, recorder)


@hookimpl
def agentracer_fork(system: Any, trace: Any, step: int, replacement: str) -> Any:
    """A callable resuming ``trace`` at ``step`` with its output replaced; it returns ``ForkResult(result, trace)``."""
    if not is_langgraph(system):
        return None
    from .fork import fork_graph

    return fork_graph(system, trace, step, replacement)


@hookimpl
def agentracer_inject_feedback(system: Any, agent: str, text: str) -> Any:
    """Give ``agent`` the feedback through the state's ``feedback`` key, else through its system prompt."""
    if not is_langgraph(system):
        return None
    from .feedback import inject_feedback

    return inject_feedback(system, agent, text)


@hookimpl
def agentracer_plugin_info() -> dict[str, Any]:
    """This plugin's name, framework and the framework's distribution."""
    return {"name": "langgraph", "framework": "LangGraph", "distribution": "langgraph"}


@hookimpl
def agentracer_run(system: Any, task: str) -> Any:
    """Run a compiled graph on ``task`` (a messages state); its last message's content, or None if not a graph."""
    from .run import run_graph

    return run_graph(system, task)


@hookimpl
def agentracer_sample(framework: str, kind: str) -> Any:
    """LangGraph samples: the annotation generator's driver (``generated``, :mod:`.generated`), the ``demo``
    system (:func:`.demo.demo_system`) and the ``simulated`` refinement pipeline
    (:func:`.simulated.langgraph_system`); None for anything else or when LangGraph is not installed."""
    if framework != "langgraph" or kind not in ("generated", "demo", "simulated"):
        return None
    try:
        if kind == "generated":
            from .generated import DRIVER

            return DRIVER
        if kind == "demo":
            from .demo import demo_system

            return demo_system
        from .simulated import langgraph_system

        return langgraph_system
    except ImportError:
        return None
