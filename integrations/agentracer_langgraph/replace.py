"""Putting a fork's replacement where step k's output was: in the node's pending writes (the checkpoint
fork's ``writes`` strategy, applied with ``bulk_update_state``) and in a recorded LLM response (what the
``rerun`` and ``replay`` strategies serve in place of step k's last LLM call).
"""

from __future__ import annotations

import copy
from typing import Any

from agentracer.formats.messages import message_fields, output_text

_INTERNAL_PREFIXES = ("__", "branch:", "join:")


def _state_keys(graph: Any) -> set[str] | None:
    builder = getattr(graph, "builder", None)
    chans = getattr(builder, "channels", None)
    return set(chans) if isinstance(chans, dict) else None


def _values(graph: Any, node: str, writes: list[tuple[str, Any]]) -> Any:
    """A node's pending writes as an ``update_state`` value (a dict, or a Command when it routed itself)."""
    from langgraph.types import Command

    keys = _state_keys(graph)
    state: dict[str, Any] = {}
    targets: list[Any] = []
    for ch, v in writes:
        if ch.startswith("branch:to:"):
            targets.append(ch[len("branch:to:"):])
        elif ch == "__pregel_tasks":
            targets.append(v)
        elif ch.startswith(_INTERNAL_PREFIXES) or (keys is not None and ch not in keys):
            continue
        elif ch in state and isinstance(state[ch], list) and isinstance(v, list):
            state[ch] = [*state[ch], *v]
        else:
            state[ch] = v
    goto = _own_routing(graph, node, targets)
    return Command(update=state, goto=goto) if goto else state


def _own_routing(graph: Any, node: str, targets: list[Any]) -> list[Any]:
    """The routing writes the node made itself (``Command(goto=...)``), not those its edges recompute."""
    builder = getattr(graph, "builder", None)
    if builder is None:
        return targets
    if getattr(builder, "branches", {}).get(node):
        return []  # conditional edges re-decide from the replaced state
    static = {e for s, e in getattr(builder, "edges", set()) if s == node}
    static |= {e for starts, e in getattr(builder, "waiting_edges", set()) if node in starts}
    return [t for t in targets if not (isinstance(t, str) and t in static)]


def _render(f: dict[str, Any]) -> str:
    return output_text({"role": f["role"], "content": f["content"], "tool_calls": f["tool_calls"]})


def _replace_message(m: Any, text: str) -> tuple[Any, set[str]]:
    f = message_fields(m) or {}
    dropped = {c.get("id") for c in f.get("tool_calls") or [] if c.get("id")}
    if isinstance(m, dict):
        new = copy.deepcopy(m)
        new["content"] = text
        new.pop("tool_calls", None)
        return new, dropped
    update: dict[str, Any] = {"content": text}
    if f.get("tool_calls"):
        update["tool_calls"] = []
        update["invalid_tool_calls"] = []
        ak = dict(getattr(m, "additional_kwargs", {}) or {})
        ak.pop("tool_calls", None)
        ak.pop("function_call", None)
        update["additional_kwargs"] = ak
    return m.model_copy(update=update), dropped


def _replace(writes: list[tuple[str, Any]], old: str, new: str | dict[str, Any]) -> list[tuple[str, Any]]:
    """The writes with the step's output replaced: its last assistant message, or its output string."""
    writes = list(writes)
    if isinstance(new, dict):  # explicit state update: overrides those keys
        rest = [(ch, v) for ch, v in writes if ch not in new]
        return [*rest, *new.items()]
    cands: list[tuple[int, int | None, dict[str, Any]]] = []
    for wi, (ch, v) in enumerate(writes):
        if ch.startswith(_INTERNAL_PREFIXES):
            continue
        f = message_fields(v)
        if f is not None:
            if f["role"] == "assistant":
                cands.append((wi, None, f))
        elif isinstance(v, (list, tuple)):
            for mi, m in enumerate(v):
                fm = message_fields(m)
                if fm is not None and fm["role"] == "assistant":
                    cands.append((wi, mi, fm))
    if cands:
        match = [c for c in cands if _render(c[2]) == old]
        wi, mi, _ = (match or cands)[-1]
        ch, v = writes[wi]
        if mi is None:
            writes[wi] = (ch, _replace_message(v, new)[0])
        else:
            msgs = list(v)
            msgs[mi], dropped = _replace_message(msgs[mi], new)
            if dropped:  # the answers to tool calls that no longer exist go too
                msgs = [m for m in msgs if (message_fields(m) or {}).get("tool_call_id") not in dropped]
            writes[wi] = (ch, msgs)
        return writes
    strings = [i for i, (ch, v) in enumerate(writes) if isinstance(v, str) and not ch.startswith(_INTERNAL_PREFIXES)]
    exact = [i for i in strings if writes[i][1] == old]
    pick = exact or (strings if len(strings) == 1 else [])
    if not pick:
        raise ValueError(
            "cannot tell which state field holds the step's output; pass the replacement as a dict of state keys"
        )
    for i in pick:
        writes[i] = (writes[i][0], new)
    return writes


def _replaced_payload(payload: Any, text: str) -> Any:
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        data = dict(payload["data"])
        data["content"] = text
        data["tool_calls"] = []
        data["invalid_tool_calls"] = []
        ak = dict(data.get("additional_kwargs") or {})
        ak.pop("tool_calls", None)
        data["additional_kwargs"] = ak
        data.pop("id", None)
        return {**payload, "data": data}
    return {"type": "ai", "data": {"content": text, "type": "ai"}}
