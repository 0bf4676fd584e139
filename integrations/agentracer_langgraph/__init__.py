"""AgenTracer plugin for LangGraph.

``agentracer.instrument(graph)`` records every run of a compiled graph (``StateGraph(...).compile()``,
``create_react_agent(...)``, supervisor and hand-off graphs): one agent step per top-level node execution,
named after the node, with ``chat {model}`` and ``execute_tool {tool}`` children. ``agentracer.fork``
replays a recorded run with one step's output replaced (through the checkpointer, or by LLM replay), and
``agentracer.inject_feedback`` tells one agent what went wrong.

The plugin module (:mod:`agentracer_langgraph.plugin`) is what the ``agentracer`` entry point loads; the
functions below are the same operations with their LangGraph-specific options.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AgentracerCallbackHandler",
    "ForkResult",
    "LangGraphFork",
    "ScriptedChatModel",
    "clear_feedback",
    "fork_graph",
    "handler_of",
    "inject_feedback",
    "instrument_graph",
    "is_langgraph",
    "scripted",
    "uninstrument_graph",
]

_LAZY = {
    "AgentracerCallbackHandler": ".handler",
    "ForkResult": ".fork",
    "LangGraphFork": ".fork",
    "fork_graph": ".fork",
    "ScriptedChatModel": ".fakes",
    "scripted": ".fakes",
    "clear_feedback": ".feedback",
    "inject_feedback": ".feedback",
    "handler_of": ".instrument",
    "instrument_graph": ".instrument",
    "is_langgraph": ".detect",
    "uninstrument_graph": ".instrument",
}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'agentracer_langgraph' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(mod, __name__), name)
