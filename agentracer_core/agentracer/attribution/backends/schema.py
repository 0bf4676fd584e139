"""Constrained output: the JSON schema of an answer for one trace, and the prompt line that asks for it.

A backend that can constrain decoding (llama.cpp's grammar from a JSON schema, an OpenAI-compatible
server's ``response_format``) is handed :func:`answer_schema` so that even a weak model writes an answer
the parser reads: ``{"agent": one of the trace's agents, "step": one of its top-level step numbers,
"reason": a short text}``. :func:`ask_for_json` swaps the prompt's tag format for that JSON form, so the
instructions and the constraint agree.
"""

from __future__ import annotations

from typing import Any

from ...trace import Trace
from ..prompt import ANSWER_FORMAT

__all__ = ["JSON_ANSWER_FORMAT", "answer_schema", "ask_for_json"]

JSON_ANSWER_FORMAT = (
    'Answer with one JSON object: {"agent": NAME, "step": N, "reason": TEXT}, '
    "where NAME is one of the agents named in the log, N is the number of the decisive step "
    "(as printed after 'Step'), and TEXT is one or two sentences on what went wrong."
)
REASON_MAX_CHARS = 160


def answer_schema(trace: Trace) -> dict[str, Any]:
    """The JSON schema of an answer for ``trace``: agent and step limited to the trace's own."""
    agents = [a for a in trace.agents if a] or sorted({s.agent for s in trace.steps if s.agent})
    steps = [s.index for s in trace.agent_steps()] or [s.index for s in trace.steps]
    props: dict[str, Any] = {
        "agent": {"type": "string", "enum": agents} if agents else {"type": "string"},
        "step": {"type": "integer", "enum": steps} if steps else {"type": "integer"},
        "reason": {"type": "string", "maxLength": REASON_MAX_CHARS},
    }
    return {"type": "object", "properties": props, "required": ["agent", "step", "reason"]}


def ask_for_json(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """``messages`` with the tag answer format replaced by the JSON one (added when absent)."""
    out = [dict(m) for m in messages]
    for m in out:
        if ANSWER_FORMAT in (m.get("content") or ""):
            m["content"] = m["content"].replace(ANSWER_FORMAT, JSON_ANSWER_FORMAT)
            return out
    if out and out[-1].get("role") == "user":
        out[-1]["content"] = f"{out[-1].get('content') or ''}\n\n{JSON_ANSWER_FORMAT}"
    return out
