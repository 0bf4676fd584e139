"""Import spans of ``openinference-instrumentation-autogen-agentchat`` (0.1.x) into a :class:`Trace`.

What that instrumentor emits for one ``team.run()`` (verified with 0.1.22 and AutoGen 0.7.5):

* a CHAIN span ``{TeamClass}.run_stream`` with ``input.value`` (``{"task": ...}``), ``participant_names``,
  ``team_id`` and ``output.value`` = the ``TaskResult`` as JSON (every message with ``source``, ``type``,
  ``content``, ``id``, ``created_at``, and the ``stop_reason``);
* one AGENT span ``{agent}.on_messages_stream`` per agent turn (``graph.node.id`` = the agent,
  ``graph.node.parent_id`` = the previous speaker) — with **no** ``output.value``;
* TOOL spans ``{agent}.{tool}`` under the agent span (``tool.name``, ``input.value`` = the JSON
  arguments, ``output.value`` = the result), and LLM spans only for OpenAI clients.

The group chat manager (selector, MagenticOne orchestrator) has no span. So the steps are rebuilt from
the ``TaskResult`` messages, in their order: the i-th chat message of agent X is the output of X's i-th
AGENT span (its tool and LLM spans become children); a chat message from a source that is neither a
participant nor the user (the MagenticOne orchestrator's ledger, instructions and final answer) is a step
of that manager, as in AgenTracer's own AutoGen recording. Spans of one run are found under its CHAIN
span; a document with several runs gives several traces (:func:`openinference_autogen_traces`).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ..trace import Step, Trace, TraceError
from .messages import marked_answer
from .openinference import json_value as _json
from .otlp_json import parse_otlp_spans, spans_to_otlp_json

__all__ = ["from_openinference_autogen_spans", "is_openinference_autogen", "openinference_autogen_traces"]

SCOPE = "openinference.instrumentation.autogen_agentchat"
_AGENT_SUFFIX = ".on_messages_stream"
_RUN_SUFFIX = ".run_stream"


def _normalise(spans: Any, name: str) -> list[dict[str, Any]]:
    """ReadableSpans, OTLP/JSON span dicts, normalised span dicts or a whole OTLP/JSON document -> normalised."""
    if isinstance(spans, Mapping):
        if "resourceSpans" in spans or "resource_spans" in spans:
            return parse_otlp_spans(spans, name)
        raise TraceError("expected an OTLP/JSON document or a list of spans", file=name)
    items = list(spans or [])
    if not items:
        return []
    first = items[0]
    if hasattr(first, "context") and hasattr(first, "attributes"):  # SDK ReadableSpan
        return parse_otlp_spans(spans_to_otlp_json(items), name)
    if not all(isinstance(x, Mapping) for x in items):
        raise TraceError("expected span objects or span dicts", file=name)
    if all("span_id" in x and isinstance(x.get("attributes", {}), Mapping) for x in items):
        return [dict(x) for x in items]
    return parse_otlp_spans({"resourceSpans": [{"scopeSpans": [{"spans": items}]}]}, name)


def _kind(s: Mapping[str, Any]) -> str:
    return str((s.get("attributes") or {}).get("openinference.span.kind") or "").upper()


def _is_run(s: Mapping[str, Any]) -> bool:
    return _kind(s) == "CHAIN" and str(s.get("name") or "").endswith(_RUN_SUFFIX)


def _is_agent(s: Mapping[str, Any]) -> bool:
    return _kind(s) == "AGENT" and str(s.get("name") or "").endswith(_AGENT_SUFFIX)


def is_openinference_autogen(spans: Iterable[Mapping[str, Any]]) -> bool:
    """Whether normalised spans come from the AutoGen AgentChat OpenInference instrumentor."""
    return any(_is_agent(s) or (_is_run(s) and "participant_names" in (s.get("attributes") or {})) for s in spans)


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False, default=str)


def _ns(t: Any) -> float | None:
    try:
        return int(t) / 1e9 if t else None
    except (TypeError, ValueError):
        return None


def _created(m: Mapping[str, Any]) -> float | None:
    v = m.get("created_at")
    if not isinstance(v, str):
        return None
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _agent_name(s: Mapping[str, Any]) -> str:
    a = s.get("attributes") or {}
    for key in ("graph.node.id", "agent.name", "gen_ai.agent.name"):
        if isinstance(a.get(key), str) and a[key]:
            return a[key]
    nm = str(s.get("name") or "agent")
    return nm[: -len(_AGENT_SUFFIX)] if nm.endswith(_AGENT_SUFFIX) else nm


def _task(value: Any) -> str:
    v = _json(value)
    if isinstance(v, Mapping):
        v = v.get("task")
    if isinstance(v, list):
        return "\n".join(_text(x.get("content") if isinstance(x, Mapping) else x) for x in v)
    if isinstance(v, Mapping):
        return _text(v.get("content"))
    return "" if v is None else str(v)


def _llm_text(a: Mapping[str, Any]) -> str:
    parts = []
    i = 0
    while f"llm.output_messages.{i}.message.role" in a or f"llm.output_messages.{i}.message.content" in a:
        parts.append(str(a.get(f"llm.output_messages.{i}.message.content") or ""))
        i += 1
    if parts:
        return "\n".join(p for p in parts if p)
    return _text(a.get("output.value"))


def _children(s: Mapping[str, Any], kids: Mapping[str | None, list[Mapping[str, Any]]]) -> list[Mapping[str, Any]]:
    """LLM and TOOL spans below an agent span (not below a nested agent span)."""
    out: list[Mapping[str, Any]] = []
    stack = list(kids.get(s["span_id"], []))
    while stack:
        c = stack.pop()
        if _is_agent(c):
            continue
        if _kind(c) in ("LLM", "TOOL"):
            out.append(c)
        stack.extend(kids.get(c["span_id"], []))
    return sorted(out, key=lambda x: int(x.get("start") or 0))


def _one_run(run: Mapping[str, Any] | None, group: list[Mapping[str, Any]], name: str) -> Trace:
    kids: dict[str | None, list[Mapping[str, Any]]] = {}
    for s in group:
        kids.setdefault(s.get("parent_span_id"), []).append(s)
    ra = (run or {}).get("attributes") or {}
    participants = [str(p) for p in (ra.get("participant_names") or [])]
    agent_spans = sorted((s for s in group if _is_agent(s)), key=lambda s: int(s.get("start") or 0))
    if not participants:
        participants = list(dict.fromkeys(_agent_name(s) for s in agent_spans))
    out = _json(ra.get("output.value"))
    messages = [m for m in (out.get("messages") or []) if isinstance(m, Mapping)] if isinstance(out, Mapping) else []
    chat = [m for m in messages if not str(m.get("type") or "").endswith("Event")]

    queues: dict[str, deque[Mapping[str, Any]]] = {}
    for s in agent_spans:
        queues.setdefault(_agent_name(s), deque()).append(s)
    plan: list[tuple[str, Mapping[str, Any] | None, Mapping[str, Any] | None]] = []
    for m in chat:
        src = str(m.get("source") or "")
        if src == "user" and "user" not in participants:
            continue
        if queues.get(src):
            plan.append((src, queues[src].popleft(), m))
        else:
            plan.append((src, None, m))  # a manager's message (or a turn whose span was not exported)
    leftover = sorted((s for q in queues.values() for s in q), key=lambda s: int(s.get("start") or 0))
    plan.extend((_agent_name(s), s, None) for s in leftover)  # turns with no message (e.g. a failed run)

    final = None
    for m in reversed(chat):
        if m.get("source") != "user" and m.get("type") != "StopMessage":
            final = _text(m.get("content"))
            break
    team = str((run or {}).get("name") or "")
    trace_id = (run or group[0]).get("trace_id")
    tr = Trace(
        run_id=str(ra.get("session.id") or trace_id or ra.get("team_id") or "run"),
        task=_task(ra.get("input.value")),
        framework="autogen",
        agents=list(participants),
        final_answer=marked_answer(final),
        metadata={
            "source": "openinference",
            "instrumentor": SCOPE,
            "trace_id": trace_id,
            "team": team[: -len(_RUN_SUFFIX)] if team.endswith(_RUN_SUFFIX) else team or None,
            "team_id": ra.get("team_id"),
            "stop_reason": out.get("stop_reason") if isinstance(out, Mapping) else None,
        },
    )
    if final != tr.final_answer:
        tr.metadata["final_message"] = final
    for agent, span, msg in plan:
        md: dict[str, Any] = {}
        if span is not None:
            md["span_name"] = span.get("name")
            parent = (span.get("attributes") or {}).get("graph.node.parent_id")
            if parent:
                md["graph.node.parent_id"] = parent
            if (span.get("status") or {}).get("code") == 2:
                md["error"] = (span.get("status") or {}).get("message") or "error"
        if msg is not None:
            md["message_id"] = msg.get("id")
            md["message_type"] = msg.get("type")
            if msg.get("target"):
                md["handoff_target"] = msg.get("target")
        content = _text(msg.get("content")) if msg is not None else _text((span or {}).get("attributes", {}).get("output.value"))
        top = tr.add_step(
            Step(
                index=0,
                agent=agent,
                content=content,
                kind="handoff" if msg is not None and msg.get("type") == "HandoffMessage" else "agent_message",
                started=_ns(span.get("start")) if span else (_created(msg) if msg else None),
                ended=_ns(span.get("end")) if span else None,
                span_id=span.get("span_id") if span else None,
                metadata=md,
            )
        )
        for c in _children(span, kids) if span is not None else []:
            ca = c.get("attributes") or {}
            if _kind(c) == "LLM":
                usage = {
                    dst: int(ca[src])
                    for src, dst in (("llm.token_count.prompt", "input_tokens"), ("llm.token_count.completion", "output_tokens"))
                    if isinstance(ca.get(src), int)
                }
                model = ca.get("llm.model_name") or c.get("name")
                tr.add_step(
                    Step(index=0, agent=agent, kind="llm_call", content=_llm_text(ca), parent=top.index,
                         started=_ns(c.get("start")), ended=_ns(c.get("end")), span_id=c.get("span_id"),
                         metadata={"model": model} if model else {}, usage=usage)
                )
            else:
                tool = ca.get("tool.name") or str(c.get("name") or "").split(".", 1)[-1]
                result = ca.get("output.value")
                tr.add_step(
                    Step(index=0, agent=agent, kind="tool_call", role="tool", tool_name=str(tool),
                         tool_args=_json(ca.get("input.value", ca.get("tool.parameters"))), tool_result=result,
                         content=_text(result), parent=top.index, started=_ns(c.get("start")),
                         ended=_ns(c.get("end")), span_id=c.get("span_id"))
                )
    return tr.validate()


def openinference_autogen_traces(spans: Any, *, name: str = "<spans>") -> list[Trace]:
    """One Trace per ``run_stream`` CHAIN span (a lone agent's spans without one make a single trace)."""
    norm = _normalise(spans, name)
    if not norm:
        raise TraceError("no spans", file=name)
    by_id = {s["span_id"]: s for s in norm}
    runs = sorted((s for s in norm if _is_run(s)), key=lambda s: int(s.get("start") or 0))
    run_ids = {r["span_id"] for r in runs}
    groups: dict[str | None, list[Mapping[str, Any]]] = {r["span_id"]: [] for r in runs}
    for s in norm:
        cur: Mapping[str, Any] | None = s
        owner = None
        seen = 0
        while cur is not None and seen < 10_000:
            if cur["span_id"] in run_ids:
                owner = cur["span_id"]
                break
            cur = by_id.get(cur.get("parent_span_id"))  # type: ignore[arg-type]
            seen += 1
        groups.setdefault(owner, []).append(s)
    out = [_one_run(r, groups[r["span_id"]], name) for r in runs]
    orphans = groups.get(None) or []
    if any(_is_agent(s) for s in orphans):
        out.append(_one_run(None, orphans, name))
    if not out:
        raise TraceError("no AutoGen AgentChat OpenInference spans (no *.run_stream or *.on_messages_stream span)", file=name)
    return out


def from_openinference_autogen_spans(spans: Any, *, name: str = "<spans>") -> Trace:
    """The Trace of the (first) team run in ``spans``.

    ``spans``: SDK ``ReadableSpan`` objects (e.g. from an ``InMemorySpanExporter``), OTLP/JSON span dicts,
    spans normalised by :func:`agentracer.formats.otlp_json.parse_otlp_spans`, or a whole OTLP/JSON document.
    Raises :class:`TraceError` when there is no AutoGen OpenInference span.
    """
    return openinference_autogen_traces(spans, name=name)[0]
