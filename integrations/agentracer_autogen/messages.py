"""AutoGen messages as agentracer records them: their text, their recorded prompt form and their call key.

:func:`msg_text` / :func:`task_text` / :func:`create_result_text` give the text of chat messages, tasks and
model results; :func:`llm_messages_for_step` and :func:`llm_messages_for_key` the two forms of a prompt's
``LLMMessage``s (the step's redacted messages, the record/replay call key); :func:`prompt_forms` both,
cached per message by value (the LLM-call hot path: a multi-turn prompt resends the same messages).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agentracer.recording import Recorder, llm_key_part

__all__ = [
    "create_result_text",
    "llm_messages_for_key",
    "llm_messages_for_step",
    "msg_text",
    "prompt_forms",
    "replace_last_assistant",
    "task_text",
]


def msg_text(msg: Any) -> str:
    """The text of a chat message or event (``to_model_text``, else ``to_text``, else its content)."""
    for attr in ("to_model_text", "to_text"):
        fn = getattr(msg, attr, None)
        if callable(fn):
            try:
                return str(fn())
            except Exception:
                continue
    content = getattr(msg, "content", msg)
    return content if isinstance(content, str) else str(content)


def task_text(task: Any) -> str:
    """The text of a run's task: a string, a message, or a list of messages (one per line)."""
    if task is None:
        return ""
    if isinstance(task, str):
        return task
    if isinstance(task, (list, tuple)):
        return "\n".join(msg_text(m) for m in task)
    return msg_text(task)


def create_result_text(result: Any) -> str:
    """The text of a ``CreateResult``: its content, or its function calls as JSON."""
    content = getattr(result, "content", result)
    if isinstance(content, str):
        return content
    try:
        return json.dumps(
            [{"name": c.name, "arguments": c.arguments, "id": c.id} for c in content], ensure_ascii=False
        )
    except Exception:
        return str(content)


_ROLES = {
    "SystemMessage": "system",
    "UserMessage": "user",
    "AssistantMessage": "assistant",
    "FunctionExecutionResultMessage": "tool",
}


def llm_messages_for_key(messages: Sequence[Any]) -> list[Any]:
    """Canonical, deterministic form of AutoGen ``LLMMessage``s (the record/replay call key)."""
    out: list[Any] = []
    for m in messages:
        try:
            out.append(m.model_dump(mode="json"))
        except Exception:
            out.append(str(m))
    return out


def llm_messages_for_step(messages: Sequence[Any]) -> list[dict[str, Any]]:
    """``LLMMessage``s as a step records them: ``{"role", "content", "name"}`` dicts."""
    out = []
    for m in messages:
        typ = type(m).__name__
        content = getattr(m, "content", "")
        if not isinstance(content, str):
            try:
                content = json.dumps([c.model_dump(mode="json") for c in content], ensure_ascii=False)
            except Exception:
                content = str(content)
        d: dict[str, Any] = {"role": _ROLES.get(typ, typ), "content": content}
        src = getattr(m, "source", None)
        if src:
            d["name"] = src
        out.append(d)
    return out


_PROMPT_CACHE_MAX = 4096  # entries
_PROMPT_CACHE_MAX_CHARS = 65536  # a longer message is not cached
_PROMPT_CACHE_BUDGET = 4_000_000  # characters of message content held by the cache, in all
_PROMPT_CACHE_SIZE = [0]
# value key of a prompt message -> (redactor, its redacted step form, its call-key part); see prompt_forms
_PROMPT_CACHE: dict[Any, tuple[Any, Any, str]] = {}
_PLAIN_FIELD_TYPES = frozenset({str, int, bool, type(None)})
_PLAIN_TYPES: dict[tuple[type, ...], bool] = {}  # field value types of a message -> all plain?


def _message_key(m: Any) -> Any:
    """:func:`_value_key` of a message, made without a Python loop when its fields are plain values
    (strings, ints, bools, None: the usual system / user / assistant text messages)."""
    d = getattr(m, "__dict__", None)
    if type(d) is not dict or getattr(m, "__pydantic_extra__", None):
        return None
    content = d.get("content")
    if type(content) is str and len(content) > _PROMPT_CACHE_MAX_CHARS:  # huge messages are not kept
        return None
    types = tuple(map(type, d.values()))
    plain = _PLAIN_TYPES.get(types)
    if plain is None:
        plain = all(t in _PLAIN_FIELD_TYPES for t in types)
        if len(_PLAIN_TYPES) < 1024:
            _PLAIN_TYPES[types] = plain
    if plain:  # equal keys: same class, same field names, same value types and equal values
        return (type(m), tuple(d.items()), types)
    return _value_key(m)


def _value_key(obj: Any, depth: int = 0) -> Any:
    """A hashable key equal for two messages exactly when their fields are equal (same class, same values),
    so a message's recorded forms can be cached by value; None when a field is not a plain value (then the
    forms are computed afresh). By value, not by ``id()``: a message mutated in place gets a new key."""
    d = getattr(obj, "__dict__", None)
    if type(d) is not dict or depth > 3 or getattr(obj, "__pydantic_extra__", None):
        return None
    parts: list[Any] = [type(obj)]
    for k, v in d.items():
        t = type(v)
        if t is str or v is None:
            parts.append((k, v))
        elif t is bool or t is int:
            parts.append((k, t, v))
        elif t is list:
            items: list[Any] = []
            for x in v:
                if type(x) is str:
                    items.append(x)
                    continue
                xk = _value_key(x, depth + 1)  # function calls / results in a message
                if xk is None:
                    return None
                items.append(xk)
            parts.append((k, list, tuple(items)))
        else:  # floats (-0.0 == 0.0, NaN), nested models, images...: not cached
            return None
    return tuple(parts)


def prompt_forms(recorder: Recorder, messages: Sequence[Any]) -> tuple[list[Any], list[str]]:
    """The recorded prompt (redacted step forms, as ``Recorder.begin_llm(prepared=True)`` takes them)
    and the call-key parts of ``messages``, each message's forms computed once and then cached (by
    value, with the redactor they were made with): a multi-turn prompt resends the same messages on
    every LLM call, and runs of one team resend the same system and task messages."""
    red = recorder.redact
    cache = _PROMPT_CACHE
    msgs: list[Any] = []
    parts: list[str] = []
    for m in messages:
        k = _message_key(m)
        hit = cache.get(k) if k is not None else None
        if hit is None or hit[0] is not red:
            hit = (red, recorder.clean(llm_messages_for_step((m,))[0], 1), llm_key_part(llm_messages_for_key((m,))[0]))
            if k is not None:
                size = len(hit[2])
                if len(cache) >= _PROMPT_CACHE_MAX or _PROMPT_CACHE_SIZE[0] + size > _PROMPT_CACHE_BUDGET:
                    cache.clear()
                    _PROMPT_CACHE_SIZE[0] = 0
                cache[k] = hit
                _PROMPT_CACHE_SIZE[0] += size
        step = hit[1]
        msgs.append(dict(step) if type(step) is dict else step)
        parts.append(hit[2])
    return msgs, parts


def replace_last_assistant(messages: list[dict[str, Any]], original: str, text: str) -> bool:
    """In dumped ``LLMMessage``s (a model context's state), set the content of the last ``AssistantMessage``
    whose content is ``original`` to ``text``; whether one was found."""
    for m in reversed(messages):
        if m.get("type") == "AssistantMessage" and m.get("content") == original:
            m["content"] = text
            return True
    return False
