"""Reading LangChain callback events of a LangGraph run: namespace segments, agent names, model names,
inputs, token usage and ``Command`` results.

Pure functions of the event payloads; the handler (:mod:`agentracer_langgraph.handler`) and its run
bookkeeping (:mod:`agentracer_langgraph.runs`) decide what to record with them.
"""

from __future__ import annotations

from typing import Any

from agentracer.formats.messages import message_fields, output_text

__all__ = ["agent_name"]

_PREBUILT_INNER_NODES = ("agent", "tools", "model")
_DEFAULT_GRAPH_NAMES = ("LangGraph", "")
_INPUT_CHARS = 4000


def agent_name(node: str, graph_name: str | None) -> str:
    """The agent a top-level node stands for: the node, or the graph for a prebuilt agent's inner nodes."""
    if node in _PREBUILT_INNER_NODES and graph_name and graph_name not in _DEFAULT_GRAPH_NAMES:
        return graph_name
    return node


def _segment(metadata: dict[str, Any] | None, depth: int) -> str | None:
    if not metadata:
        return None
    ns = metadata.get("langgraph_checkpoint_ns")
    if isinstance(ns, str) and ns:
        parts = ns.split("|")
        if len(parts) > depth:
            return parts[depth]
        return None
    node = metadata.get("langgraph_node")
    if depth == 0 and isinstance(node, str) and node:
        return f"{node}:{metadata.get('langgraph_step', '')}"
    return None


def _is_control_flow(error: BaseException) -> bool:
    """LangGraph's bubbling exceptions (Command to a parent graph, interrupts) are not failures."""
    try:
        from langgraph.errors import GraphBubbleUp
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, GraphBubbleUp)


def _command_update(error: BaseException) -> Any:
    for arg in getattr(error, "args", ()):
        if hasattr(arg, "update") and hasattr(arg, "goto"):
            return arg
    return None


def _command_tool_text(cmd: Any) -> str:
    """What a tool that returned a ``Command`` said: its last tool message, else the update's text."""
    update = getattr(cmd, "update", None)
    msgs = update.get("messages") if isinstance(update, dict) else None
    for m in reversed(msgs if isinstance(msgs, (list, tuple)) else []):
        f = message_fields(m)
        if f is not None and f["role"] == "tool":
            return f["content"]
    return output_text(cmd)


def _model_name(serialized: dict[str, Any] | None, invocation: dict[str, Any] | None, metadata: dict[str, Any] | None) -> str:
    for src in (invocation or {}, metadata or {}):
        for key in ("model", "model_name", "ls_model_name", "model_id", "deployment_name"):
            v = src.get(key)
            if isinstance(v, str) and v:
                return v
    ser = serialized or {}
    kw = ser.get("kwargs") if isinstance(ser.get("kwargs"), dict) else {}
    for key in ("model", "model_name"):
        if isinstance(kw.get(key), str) and kw[key]:
            return kw[key]
    if isinstance(ser.get("name"), str) and ser["name"]:
        return ser["name"]
    ident = ser.get("id")
    if isinstance(ident, list) and ident:
        return str(ident[-1])
    return "unknown"


def _input_text(inputs: Any) -> str | None:
    if inputs is None:
        return None
    if isinstance(inputs, dict) and "messages" in inputs:
        msgs = inputs["messages"]
        if isinstance(msgs, (list, tuple)) and msgs:
            f = message_fields(msgs[-1])
            if f is not None:
                return f["content"][:_INPUT_CHARS]
    try:
        text = output_text(inputs)
    except Exception:
        return None
    return text[:_INPUT_CHARS] if text else None


def _serialise_input(inputs: Any) -> Any:
    """A JSON form of the run input that ``langchain_core.load.load`` restores (for replay forks)."""
    import json

    try:
        from langchain_core.load import dumpd

        d = dumpd(inputs)
        json.dumps(d)
        return d
    except Exception:
        return None


def _usage(msg: Any, llm_output: Any) -> dict[str, int]:
    um = getattr(msg, "usage_metadata", None)
    if isinstance(um, dict):
        out = {k: int(um[k]) for k in ("input_tokens", "output_tokens") if isinstance(um.get(k), int)}
        if out:
            return out
    tu = (llm_output or {}).get("token_usage") if isinstance(llm_output, dict) else None
    if isinstance(tu, dict):
        out = {}
        if isinstance(tu.get("prompt_tokens"), int):
            out["input_tokens"] = tu["prompt_tokens"]
        if isinstance(tu.get("completion_tokens"), int):
            out["output_tokens"] = tu["completion_tokens"]
        return out
    return {}
