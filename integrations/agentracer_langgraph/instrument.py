"""Attach and detach the recording callback handler on a compiled LangGraph graph, in place.

The handler goes into the graph's own ``config["callbacks"]``, which LangGraph merges with whatever
callbacks the caller passes at run time. So ``graph = agentracer.instrument(graph)`` and a bare
``agentracer.instrument(graph)`` both work, and copies made later with ``graph.with_config(...)`` are
recorded too. Nothing else about the graph changes.
"""

from __future__ import annotations

from typing import Any

from agentracer.recording import Recorder

from .detect import is_langgraph
from .handler import AgentracerCallbackHandler

__all__ = ["handler_of", "instrument_graph", "is_langgraph", "uninstrument_graph"]


def _callbacks_list(callbacks: Any) -> list[Any]:
    if callbacks is None:
        return []
    if isinstance(callbacks, list):
        return list(callbacks)
    return list(getattr(callbacks, "handlers", []) or [])


def handler_of(graph: Any) -> AgentracerCallbackHandler | None:
    """The recording handler attached to ``graph``, or None."""
    cfg = getattr(graph, "config", None) or {}
    for h in _callbacks_list(cfg.get("callbacks")):
        if isinstance(h, AgentracerCallbackHandler):
            return h
    return None


def instrument_graph(graph: Any, recorder: Recorder | None = None) -> Any:
    """Record every run of ``graph`` into ``recorder`` (a new one if None); returns the same graph.

    Instrumenting twice with the same recorder is a no-op; with another recorder, the handler is replaced.
    """
    if not is_langgraph(graph):
        raise TypeError(f"not a compiled LangGraph graph: {type(graph).__qualname__}")
    if recorder is None:
        recorder = Recorder(framework="langgraph")
    if recorder.framework == "unknown":
        recorder.framework = "langgraph"
    existing = handler_of(graph)
    if existing is not None:
        if existing.recorder is recorder:
            return graph
        uninstrument_graph(graph)
    handler = AgentracerCallbackHandler(recorder, graph)
    if existing is not None:  # keep injected feedback across re-instrumentation
        handler.feedback.update(existing.feedback)
        handler.state_feedback.update(existing.state_feedback)
    cfg = dict(graph.config or {})
    cbs = cfg.get("callbacks")
    if cbs is None:
        cfg["callbacks"] = [handler]
    elif isinstance(cbs, list):
        cfg["callbacks"] = [*cbs, handler]
    else:  # a callback manager
        mngr = cbs.copy()
        mngr.add_handler(handler, inherit=True)
        cfg["callbacks"] = mngr
    graph.config = cfg
    return graph


def uninstrument_graph(graph: Any) -> Any:
    """Remove the recording handler from ``graph`` (a no-op if there is none); returns the graph."""
    cfg = dict(getattr(graph, "config", None) or {})
    cbs = cfg.get("callbacks")
    if cbs is None:
        return graph
    if isinstance(cbs, list):
        rest = [h for h in cbs if not isinstance(h, AgentracerCallbackHandler)]
        if rest:
            cfg["callbacks"] = rest
        else:
            cfg.pop("callbacks")
    else:
        mngr = cbs.copy()
        for h in list(mngr.handlers):
            if isinstance(h, AgentracerCallbackHandler):
                mngr.remove_handler(h)
        cfg["callbacks"] = mngr
    graph.config = cfg or None
    return graph
