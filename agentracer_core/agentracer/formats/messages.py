"""Chat messages in any common form reduced to plain fields, and the step text read from them.

:func:`message_fields` accepts LangChain message objects (duck-typed, nothing is imported), every JSON
form LangChain serialises them to, and OpenAI-style ``{"role", "content"}`` dicts. On top of it,
:func:`output_text`, :func:`task_text` and :func:`final_answer_text` read a step's output, a run's task
and its final answer, and :func:`canonical_messages` the part of a prompt that identifies an LLM call.

They are shared by the LangGraph plugin (live recording) and the OpenInference importer, so a node's
output reads as the same step text whether it was recorded live or imported from OpenInference JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ROLES",
    "canonical_messages",
    "final_answer_text",
    "is_handoff_text",
    "marked_answer",
    "message_fields",
    "output_text",
    "render_message",
    "task_text",
    "tool_calls_of",
]

# message type or role (lower case) -> role
ROLES = {
    "human": "user",
    "user": "user",
    "humanmessage": "user",
    "humanmessagechunk": "user",
    "ai": "assistant",
    "assistant": "assistant",
    "aimessage": "assistant",
    "aimessagechunk": "assistant",
    "system": "system",
    "systemmessage": "system",
    "developer": "system",
    "tool": "tool",
    "toolmessage": "tool",
    "function": "tool",
    "functionmessage": "tool",
    "chat": "user",
    "chatmessage": "user",
}


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, Mapping):
                if isinstance(block.get("text"), str):
                    parts.append(block["text"])
                elif block.get("type") not in ("image", "image_url", "tool_use", "reasoning"):
                    parts.append(json.dumps(block, ensure_ascii=False, default=str))
        return "\n".join(p for p in parts if p)
    return json.dumps(content, ensure_ascii=False, default=str)


def tool_calls_of(raw: Any) -> list[dict[str, Any]]:
    """Tool calls in LangChain or OpenAI wire form as ``{name, args, id}`` (JSON string args decoded)."""
    out = []
    for tc in raw or []:
        if isinstance(tc, Mapping):
            args = tc.get("args", tc.get("arguments"))
            fn = tc.get("function")
            if isinstance(fn, Mapping):  # OpenAI wire form
                args = fn.get("arguments", args)
                name = fn.get("name")
            else:
                name = tc.get("name")
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except json.JSONDecodeError:
                    pass
            out.append({"name": name, "args": {} if args in (None, "") else args, "id": tc.get("id")})
    return out


def message_fields(m: Any) -> dict[str, Any] | None:
    """``{role, content, name, tool_calls, tool_call_id, id}`` of one chat message in any common form.

    Accepts LangChain message objects, ``message_to_dict`` output (``{"type": "ai", "data": {...}}``),
    ``dumpd`` output (``{"lc": 1, "type": "constructor", "id": [..., "AIMessage"], "kwargs": {...}}``),
    ``model_dump`` output, OpenAI-style ``{"role", "content"}`` dicts and ``("ai", "text")`` tuples. Returns
    None for anything else.
    """
    if m is None or isinstance(m, (str, bytes, int, float, bool)):
        return None
    if type(m) is tuple and len(m) == 2 and isinstance(m[0], str) and isinstance(m[1], str):
        role = ROLES.get(m[0].lower())  # LangChain's ("ai", "text") message form
        if role is None:
            return None
        return {"role": role, "content": m[1], "name": None, "tool_calls": [], "tool_call_id": None, "id": None}
    if not isinstance(m, Mapping):
        typ = getattr(m, "type", None)
        if not isinstance(typ, str) or not hasattr(m, "content"):
            return None
        return {
            "role": ROLES.get(typ.lower(), typ.lower()),
            "content": _content_text(getattr(m, "content", "")),
            "name": getattr(m, "name", None),
            "tool_calls": tool_calls_of(getattr(m, "tool_calls", None)),
            "tool_call_id": getattr(m, "tool_call_id", None),
            "id": getattr(m, "id", None),
        }
    d: Mapping[str, Any] = m
    if d.get("lc") == 1 and d.get("type") == "constructor" and isinstance(d.get("kwargs"), Mapping):
        ident = d.get("id") or []
        typ = str(ident[-1]) if ident else ""
        d = dict(d["kwargs"], type=typ)
    elif isinstance(d.get("data"), Mapping) and isinstance(d.get("type"), str) and "content" in d["data"]:
        d = dict(d["data"], type=d["type"])
    typ = d.get("role") or d.get("type")
    if not isinstance(typ, str) or "content" not in d and "tool_calls" not in d:
        return None
    role = ROLES.get(typ.lower().replace("_", ""))
    if role is None:
        return None
    tool_calls = d.get("tool_calls")
    if not tool_calls and isinstance(d.get("additional_kwargs"), Mapping):
        tool_calls = d["additional_kwargs"].get("tool_calls")
    return {
        "role": role,
        "content": _content_text(d.get("content")),
        "name": d.get("name"),
        "tool_calls": tool_calls_of(tool_calls),
        "tool_call_id": d.get("tool_call_id"),
        "id": d.get("id"),
    }


def _message_list(value: Any, *, strings: bool = False) -> list[dict[str, Any]] | None:
    if isinstance(value, (list, tuple)) and value:
        fields = [message_fields(x) for x in value]
        if strings:  # inside a ``messages`` key, a bare string is a message (some exporters flatten them)
            fields = [
                f if f is not None or not isinstance(x, str)
                else {"role": "unknown", "content": x, "name": None, "tool_calls": [], "tool_call_id": None, "id": None}
                for f, x in zip(fields, value, strict=True)
            ]
        if all(f is not None for f in fields):
            return fields  # type: ignore[return-value]
    return None


def render_message(f: Mapping[str, Any]) -> str:
    """A message's text: its content, then each tool call as ``name(args)`` on a line of its own."""
    text = f.get("content") or ""
    calls = [
        f"{c.get('name')}({json.dumps(c.get('args'), ensure_ascii=False, sort_keys=True, default=str)})"
        for c in f.get("tool_calls") or []
    ]
    return "\n".join([text, *calls]) if text and calls else (text or "\n".join(calls))


def canonical_messages(messages: Any) -> list[dict[str, Any]]:
    """The prompt messages reduced to what identifies an LLM call: role, content, name, tool calls.

    Message ids and tool-call ids are left out (they are random per run), so the same prompt gives the
    same record/replay key in the original run and in its replay.
    """
    out = []
    for m in messages or []:
        f = message_fields(m)
        if f is None:
            out.append({"role": "user", "content": _content_text(m) if not isinstance(m, str) else m})
            continue
        c: dict[str, Any] = {"role": f["role"], "content": f["content"]}
        if f.get("name"):
            c["name"] = f["name"]
        if f.get("tool_calls"):
            c["tool_calls"] = [{"name": t["name"], "args": t["args"]} for t in f["tool_calls"]]
        out.append(c)
    return out


def _unwrap(value: Any) -> Any:
    # langgraph.types.Command (duck-typed, or its JSON form): its update is the node's output
    if hasattr(value, "update") and hasattr(value, "goto") and hasattr(value, "graph"):
        return value.update
    if isinstance(value, str):
        s = value.strip()
        if s[:1] in "{[":
            try:
                value = json.loads(s)
            except (json.JSONDecodeError, RecursionError):
                return value
    if isinstance(value, Mapping) and {"goto", "update"} <= set(value) and set(value) <= {"goto", "update", "graph", "resume"}:
        return value["update"]
    return value


def output_text(value: Any) -> str:
    """The text of an agent step's output (a LangGraph node's state update, or its JSON form).

    A ``messages`` list gives its last assistant message (tool calls rendered as ``name(args)``), or its
    last message; a dict with a single string field gives that string; other values give compact JSON.
    """
    value = _unwrap(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    f = message_fields(value)
    if f is not None:
        return render_message(f)
    msgs = _message_list(value)
    if msgs is not None:
        return _last_message_text(msgs)
    if isinstance(value, Mapping):
        if "messages" in value:
            m = value["messages"]
            single = message_fields(m)
            msgs = [single] if single is not None else _message_list(m, strings=True)
            if msgs:
                return _last_message_text(msgs)
        strings = [v for k, v in value.items() if isinstance(v, str) and k != "messages"]
        others = {k: v for k, v in value.items() if k != "messages"}
        if len(strings) == 1 and len(others) == 1:
            return strings[0]
        if others:
            return json.dumps(_plain(others), ensure_ascii=False, sort_keys=True, default=str)
        return ""
    if isinstance(value, (list, tuple)):
        return json.dumps(_plain(value), ensure_ascii=False, default=str)
    return str(value)


def _last_message_text(msgs: list[dict[str, Any]]) -> str:
    for f in reversed(msgs):
        if f["role"] == "assistant":
            return render_message(f)
    return render_message(msgs[-1])


def _plain(value: Any) -> Any:
    f = message_fields(value)
    if f is not None:
        return render_message(f)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def task_text(value: Any) -> str:
    """The task of a run from its input: the first user message, a ``task``/``question``-like field, or text."""
    value = _unwrap(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        for key in ("task", "question", "input", "query", "problem", "prompt"):
            if isinstance(value.get(key), str):
                return value[key]
        msgs = value.get("messages")
        single = message_fields(msgs)
        fields = [single] if single is not None else _message_list(msgs) or []
        for f in fields:
            if f["role"] == "user":
                return f["content"]
        if fields:
            return fields[0]["content"]
    msgs = _message_list(value)
    if msgs:
        return next((f["content"] for f in msgs if f["role"] == "user"), msgs[0]["content"])
    return output_text(value)


def final_answer_text(value: Any) -> str | None:
    """The final answer of a run from its output: a ``final_answer``/``answer`` field, else its output text."""
    value = _unwrap(value)
    if value is None:
        return None
    if isinstance(value, Mapping):
        for key in ("final_answer", "answer", "output", "result"):
            if isinstance(value.get(key), str):
                return value[key]
    text = output_text(value)
    return text or None


# "Final answer: 381", "FINAL ANSWER: 41. TERMINATE", "**Final Answer:** 7" (the last one marked wins)
_MARKED = re.compile(r"final\s+answer\s*\**\s*[:：]\s*\**\s*(.+)", re.IGNORECASE)
_TRAILER = re.compile(r"(\s*\bTERMINATE\b\s*|\s*\**\s*)$")
# what langgraph-supervisor (and hand-written handoff tools) add when an agent hands control over
_HANDOFF_LINE = re.compile(
    r"^(Transferring back to \S+|Successfully transferred (back )?to \S+|transfer_(back_)?to_\w+\(.*\))$"
)


def marked_answer(text: str | None) -> str | None:
    """The answer a message marks with "Final answer:" (the last such mark, one line, without a trailing
    ``TERMINATE`` or full stop), or ``text`` itself when nothing is marked."""
    if not text:
        return text
    found = None
    for line in text.splitlines():
        m = _MARKED.search(line)
        if m:
            found = m.group(1)
    if found is None:
        return text
    ans = _TRAILER.sub("", found.strip()).strip()
    ans = ans[:-1].rstrip() if ans.endswith(".") and not ans[:-1].rstrip().endswith(".") else ans
    return ans or text


def is_handoff_text(text: str | None) -> bool:
    """Whether a step's text is only handoff bookkeeping (``Transferring back to supervisor`` and the
    ``transfer_back_to_supervisor({})`` call), not something the agent said about the task."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return bool(lines) and all(_HANDOFF_LINE.match(ln) for ln in lines)
