"""Feedback for one agent of a LangGraph graph, for its next runs (the refinement loop's last step).

Two ways, chosen by ``via``:

- ``"state"``: the graph's state has a ``feedback`` key (``dict[agent -> str]``) that the nodes read into
  their prompts. The feedback is merged into the ``feedback`` field of every dict input the graph is
  called with (an explicit ``feedback`` in the input wins).
- ``"system"``: nothing in the graph has to cooperate. Each LLM call made by that agent (a top-level
  node, or any model inside its subgraph) gets the feedback appended to its system prompt; other agents'
  calls are untouched.

``"auto"`` (the default) picks ``"state"`` when the state schema has the key, else ``"system"``.
"""

from __future__ import annotations

from typing import Any, Literal

from agentracer.recording import Recorder

from .detect import is_langgraph
from .instrument import handler_of, instrument_graph

__all__ = ["FEEDBACK_KEY", "clear_feedback", "inject_feedback"]

FEEDBACK_KEY = "feedback"


def _has_state_key(graph: Any, key: str) -> bool:
    channels = getattr(graph, "channels", None) or {}
    return key in channels


def inject_feedback(
    graph: Any,
    agent: str,
    text: str,
    *,
    via: Literal["auto", "state", "system"] = "auto",
    key: str = FEEDBACK_KEY,
) -> Any:
    """Tell ``agent`` of ``graph`` the feedback ``text`` from now on; returns the same graph (instrumented)."""
    if not is_langgraph(graph):
        raise TypeError(f"not a compiled LangGraph graph: {type(graph).__qualname__}")
    if not isinstance(agent, str) or not agent:
        raise ValueError("agent must be a non-empty agent (node) name")
    handler = handler_of(graph)
    if handler is None:
        instrument_graph(graph, Recorder(framework="langgraph"))
        handler = handler_of(graph)
    assert handler is not None
    mode = via if via != "auto" else ("state" if _has_state_key(graph, key) else "system")
    if mode == "state":
        if not _has_state_key(graph, key):
            raise ValueError(f"the graph's state has no {key!r} key; use via='system'")
        handler.state_feedback[agent] = text
        _install_input_hook(graph, key)
    elif mode == "system":
        from . import llm_patch

        handler.feedback[agent] = text
        llm_patch.install()
    else:
        raise ValueError(f"via must be 'auto', 'state' or 'system', not {via!r}")
    return graph


def clear_feedback(graph: Any, agent: str | None = None) -> Any:
    """Forget the feedback for ``agent`` (all agents if None); returns the graph."""
    handler = handler_of(graph)
    if handler is not None:
        for store in (handler.feedback, handler.state_feedback):
            if agent is None:
                store.clear()
            else:
                store.pop(agent, None)
    return graph


def _install_input_hook(graph: Any, key: str) -> None:
    """Wrap this graph object's ``stream``/``astream`` (``invoke``/``ainvoke`` go through them)."""
    if graph.__dict__.get("_agentracer_input_hook"):
        return
    cls = type(graph)

    def merged(inp: Any) -> Any:
        try:
            h = handler_of(graph)
            if h is None or not h.state_feedback or not isinstance(inp, dict):
                return inp
            given = inp.get(key)
            fb = {**h.state_feedback, **(given if isinstance(given, dict) else {})}
            return {**inp, key: fb}
        except Exception:  # never break the call
            return inp

    def stream(input: Any, *args: Any, **kwargs: Any) -> Any:
        return cls.stream(graph, merged(input), *args, **kwargs)

    def astream(input: Any, *args: Any, **kwargs: Any) -> Any:
        return cls.astream(graph, merged(input), *args, **kwargs)

    graph.__dict__["stream"] = stream
    graph.__dict__["astream"] = astream
    graph.__dict__["_agentracer_input_hook"] = True
