"""Import spans from OpenInference instrumentors (and plain OTel GenAI spans) into a :class:`Trace`.

Spans exported by ``openinference-instrumentation-langchain`` look like this for a LangGraph run: a root
``LangGraph`` CHAIN span, one CHAIN span per node execution (named after the node, with the node and its
checkpoint namespace only inside the JSON ``metadata`` attribute), and LLM / TOOL spans below them. Other
instrumentors (``-autogen-agentchat``, CrewAI...) emit AGENT spans with ``graph.node.id`` / ``agent.name``;
OTel GenAI instrumentations emit ``invoke_agent`` / ``chat`` / ``execute_tool`` spans. All three become
the same thing: top-level agent steps with ``llm_call`` and ``tool_call`` children.

This module classifies the spans and builds the steps; the chat messages inside their attributes are
read by :mod:`agentracer.formats.messages` (whose helpers are still importable from here).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..trace import Step, Trace, TraceError
from .messages import (
    ROLES,
    canonical_messages,
    final_answer_text,
    is_handoff_text,
    marked_answer,
    message_fields,
    output_text,
    render_message,
    task_text,
    tool_calls_of,
)

__all__ = [
    "canonical_messages",
    "final_answer_text",
    "from_openinference_spans",
    "is_openinference",
    "json_value",
    "message_fields",
    "output_text",
    "task_text",
]

# LangGraph's prebuilt agents name their inner nodes like this; the agent is the graph itself.
_PREBUILT_INNER_NODES = ("agent", "tools", "model")
_DEFAULT_GRAPH_NAMES = ("LangGraph", "")


# ---------------------------------------------------------------------------------------------- import
def is_openinference(spans: Iterable[Mapping[str, Any]]) -> bool:
    """Whether normalised spans (see :func:`from_openinference_spans`) carry OpenInference or GenAI kinds."""
    for s in spans:
        a = s.get("attributes") or {}
        if "openinference.span.kind" in a or "gen_ai.operation.name" in a:
            return True
    return False


def json_value(v: Any) -> Any:
    """A span attribute decoded from JSON when it is a JSON string, else as it is."""
    if isinstance(v, str):
        try:
            return json.loads(v)
        except (json.JSONDecodeError, RecursionError):
            return v
    return v


def _json_attr(a: Mapping[str, Any], key: str) -> Any:
    return json_value(a.get(key))


def _kind(a: Mapping[str, Any]) -> str:
    k = str(a.get("openinference.span.kind") or "").upper()
    if k:
        return k
    op = str(a.get("gen_ai.operation.name") or "")
    if op in ("invoke_agent", "create_agent"):
        return "AGENT" if op == "invoke_agent" else "OTHER"
    if op in ("chat", "text_completion", "generate_content"):
        return "LLM"
    if op == "execute_tool":
        return "TOOL"
    if op in ("invoke_workflow",):
        return "CHAIN"
    return ""


def _ns_top(meta: Any) -> str | None:
    if not isinstance(meta, Mapping):
        return None
    ns = meta.get("langgraph_checkpoint_ns")
    if isinstance(ns, str) and ns:
        return ns.split("|")[0]
    node = meta.get("langgraph_node")
    return f"{node}:" if isinstance(node, str) and node else None


def _llm_text(a: Mapping[str, Any]) -> str:
    i = 0
    texts = []
    while f"llm.output_messages.{i}.message.content" in a or f"llm.output_messages.{i}.message.role" in a:
        pre = f"llm.output_messages.{i}.message"
        calls = []
        j = 0
        while f"{pre}.tool_calls.{j}.tool_call.function.name" in a:
            calls.append({
                "name": a[f"{pre}.tool_calls.{j}.tool_call.function.name"],
                "args": a.get(f"{pre}.tool_calls.{j}.tool_call.function.arguments"),
            })
            j += 1
        f = {"role": "assistant", "content": str(a.get(f"{pre}.content") or ""), "tool_calls": tool_calls_of(calls)}
        texts.append(render_message(f))
        i += 1
    if texts:
        return "\n".join(t for t in texts if t)
    out = _json_attr(a, "output.value")
    if isinstance(out, Mapping) and isinstance(out.get("generations"), list):
        try:
            gen = out["generations"][0][0]
            f = message_fields(gen.get("message")) if isinstance(gen, Mapping) else None
            if f is not None:
                return render_message(f)
            return str(gen.get("text") or "")
        except (IndexError, KeyError, TypeError):
            pass
    gm = _json_attr(a, "gen_ai.output.messages")
    if isinstance(gm, list):
        parts = []
        for m in gm:
            for p in (m.get("parts") or []) if isinstance(m, Mapping) else []:
                if isinstance(p, Mapping) and isinstance(p.get("content"), str):
                    parts.append(p["content"])
        if parts:
            return "\n".join(parts)
    return output_text(out) if out is not None else ""


def _llm_messages(a: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    msgs = []
    i = 0
    while f"llm.input_messages.{i}.message.role" in a:
        m = {
            "role": ROLES.get(str(a[f"llm.input_messages.{i}.message.role"]).lower(), "user"),
            "content": str(a.get(f"llm.input_messages.{i}.message.content") or ""),
        }
        name = a.get(f"llm.input_messages.{i}.message.name")
        if name:
            m["name"] = name
        msgs.append(m)
        i += 1
    return msgs or None


def _ns(t: Any) -> float | None:
    return None if t is None else int(t) / 1e9


def from_openinference_spans(spans: list[Mapping[str, Any]], *, name: str = "<spans>") -> Trace:
    """Build a Trace from the spans of one trace exported by an OpenInference (or OTel GenAI) instrumentor.

    ``spans`` are normalised dicts: ``trace_id``, ``span_id``, ``parent_span_id`` (hex or None), ``name``,
    ``start`` / ``end`` (ns), ``attributes`` (a flat dict) and ``status`` (``{"code", "message"}``), as
    produced by :func:`agentracer.formats.otlp_json.parse_otlp_spans`.

    Agent steps are: AGENT / ``invoke_agent`` spans, and for LangGraph the outermost CHAIN span of each
    node execution (``metadata.langgraph_checkpoint_ns``). LLM and TOOL spans become ``llm_call`` and
    ``tool_call`` children of the agent step they run under.
    """
    if not isinstance(spans, (list, tuple)) or not spans:
        raise TraceError("no spans", file=name)
    spans = [_checked_span(s, i, name) for i, s in enumerate(spans)]
    try:
        return _build(spans, name)
    except TraceError as e:
        raise (e if e.file else e.with_file(name)) from None
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError) as e:
        raise TraceError(f"malformed spans ({type(e).__name__}: {e})", file=name) from None


def _checked_span(s: Any, i: int, name: str) -> dict[str, Any]:
    where = f"spans[{i}]"
    if not isinstance(s, Mapping):
        raise TraceError(f"expected a span object, got {type(s).__name__}", file=name, field=where)
    sid = s.get("span_id")
    if not isinstance(sid, str) or not sid:
        raise TraceError("missing or not a string", file=name, field=where + ".span_id")
    parent = s.get("parent_span_id")
    if parent is not None and not isinstance(parent, str):
        raise TraceError("not a string", file=name, field=where + ".parent_span_id")
    attrs = s.get("attributes") or {}
    if not isinstance(attrs, Mapping):
        raise TraceError("expected an object", file=name, field=where + ".attributes")
    times = {}
    for key in ("start", "end"):
        v = s.get(key)
        if v is None:
            times[key] = 0
            continue
        try:
            times[key] = int(v)
        except (TypeError, ValueError, OverflowError):
            raise TraceError(f"not an integer: {v!r}", file=name, field=f"{where}.{key}") from None
    status = s.get("status")
    return {
        "trace_id": s.get("trace_id") if isinstance(s.get("trace_id"), str) else None,
        "span_id": sid,
        "parent_span_id": parent,
        "name": s.get("name") if isinstance(s.get("name"), str) else "",
        "kind": s.get("kind"),
        "start": times["start"],
        "end": times["end"],
        "attributes": dict(attrs),
        "status": dict(status) if isinstance(status, Mapping) else None,
    }


def _build(spans: list[dict[str, Any]], name: str) -> Trace:
    by_id = {s["span_id"]: s for s in spans}
    children: dict[str | None, list[Mapping[str, Any]]] = {}
    for s in spans:
        parent = s.get("parent_span_id")
        children.setdefault(parent if parent in by_id else None, []).append(s)
    roots = sorted(children.get(None, []), key=lambda s: int(s.get("start") or 0))
    root = roots[0]
    ra = root.get("attributes") or {}
    graph_name = root.get("name") or ""
    meta_cache: dict[str, Any] = {}

    def meta(s: Mapping[str, Any]) -> Any:
        sid = s["span_id"]
        if sid not in meta_cache:
            meta_cache[sid] = _json_attr(s.get("attributes") or {}, "metadata")
        return meta_cache[sid]

    root_top = _ns_top(meta(root))

    def agent_of(s: Mapping[str, Any], a: Mapping[str, Any], top: str | None) -> str:
        if top is not None:
            node = top.split(":")[0]
            if node in _PREBUILT_INNER_NODES and graph_name not in _DEFAULT_GRAPH_NAMES:
                return graph_name
            return node
        for key in ("gen_ai.agent.name", "agent.name", "graph.node.id", "graph.node.name"):
            if isinstance(a.get(key), str) and a[key]:
                return a[key]
        nm = str(s.get("name") or "agent")
        return nm.split(" ", 1)[1] if nm.startswith("invoke_agent ") else nm

    # 1. agent steps: walk the tree; a span opens a step if it is an AGENT span not under another agent
    #    step, or a LangGraph node span (its top namespace differs from its parent's).
    steps: list[tuple[Mapping[str, Any], str, list[Mapping[str, Any]]]] = []

    def walk(s: Mapping[str, Any], parent_top: str | None, in_step: list[Mapping[str, Any]] | None) -> None:
        a = s.get("attributes") or {}
        k = _kind(a)
        top = _ns_top(meta(s))
        node_span = top is not None and top not in (parent_top, root_top) and k in ("CHAIN", "AGENT", "")
        agent_span = k == "AGENT" and s is not root
        opens = in_step is None and (node_span or agent_span)
        bucket = in_step
        if opens:
            bucket = []
            steps.append((s, agent_of(s, a, top if top != root_top else None), bucket))
        elif in_step is not None and k in ("LLM", "TOOL"):
            in_step.append(s)
        for c in sorted(children.get(s["span_id"], []), key=lambda x: int(x.get("start") or 0)):
            walk(c, top if top is not None else parent_top, bucket)

    for r in roots:
        walk(r, None, None)
    steps.sort(key=lambda t: int(t[0].get("start") or 0))

    session = ra.get("session.id") or ra.get("gen_ai.conversation.id")
    last_message = final_answer_text(_json_attr(ra, "output.value"))
    md: dict[str, Any] = {"source": "openinference", "trace_id": root.get("trace_id"), "root_span": graph_name}
    final = marked_answer(last_message)
    if final != last_message:
        md["final_message"] = last_message
    trace = Trace(
        run_id=str(session or root.get("trace_id") or "run"),
        task=task_text(_json_attr(ra, "input.value")),
        framework=_framework(spans, graph_name),
        final_answer=final,
        metadata=md,
    )
    for s, agent, kids in steps:
        a = s.get("attributes") or {}
        top_step = trace.add_step(
            Step(
                index=0,
                agent=agent,
                content=_step_text(output_text(_json_attr(a, "output.value")), kids),
                started=_ns(s.get("start")),
                ended=_ns(s.get("end")),
                span_id=s["span_id"],
                metadata=_step_meta(s, a, meta(s)),
            )
        )
        for c in sorted(kids, key=lambda x: int(x.get("start") or 0)):
            ca = c.get("attributes") or {}
            if _kind(ca) == "LLM":
                md: dict[str, Any] = {}
                model = ca.get("llm.model_name") or ca.get("gen_ai.request.model") or c.get("name")
                if model:
                    md["model"] = model
                msgs = _llm_messages(ca)
                if msgs:
                    md["messages"] = msgs
                usage = {}
                for src, dst in (("llm.token_count.prompt", "input_tokens"), ("llm.token_count.completion", "output_tokens"),
                                 ("gen_ai.usage.input_tokens", "input_tokens"), ("gen_ai.usage.output_tokens", "output_tokens")):
                    if isinstance(ca.get(src), int):
                        usage[dst] = ca[src]
                trace.add_step(
                    Step(index=0, agent=agent, kind="llm_call", content=_llm_text(ca), parent=top_step.index,
                         started=_ns(c.get("start")), ended=_ns(c.get("end")), span_id=c["span_id"], metadata=md,
                         usage=usage)
                )
            else:
                tool = ca.get("tool.name") or ca.get("gen_ai.tool.name") or c.get("name")
                if isinstance(tool, str) and tool.startswith("execute_tool "):
                    tool = tool.split(" ", 1)[1]
                args = _json_attr(ca, "input.value")
                if args is None:
                    args = _json_attr(ca, "gen_ai.tool.call.arguments")
                result = ca.get("output.value", ca.get("gen_ai.tool.call.result"))
                trace.add_step(
                    Step(index=0, agent=agent, kind="tool_call", role="tool", tool_name=str(tool), tool_args=args,
                         tool_result=_json_attr(ca, "output.value") if "output.value" in ca else result,
                         content=output_text(_json_attr(ca, "output.value")) if "output.value" in ca else str(result or ""),
                         parent=top_step.index, started=_ns(c.get("start")), ended=_ns(c.get("end")),
                         span_id=c["span_id"])
                )
    return trace.validate()


def _step_text(output: str, kids: list[Mapping[str, Any]]) -> str:
    """What an agent step said: its node's output, unless that is empty or only handoff bookkeeping (a
    langgraph-supervisor worker's output ends with an added "Transferring back to supervisor" message that
    no model wrote): then the last answer of its own LLM calls."""
    if output and not is_handoff_text(output):
        return output
    said = [t for t in (_llm_text(c.get("attributes") or {}) for c in kids if _kind(c.get("attributes") or {}) == "LLM") if t]
    return said[-1] if said else output


def _step_meta(s: Mapping[str, Any], a: Mapping[str, Any], meta: Any) -> dict[str, Any]:
    md: dict[str, Any] = {"span_name": s.get("name")}
    if isinstance(meta, Mapping):
        for key in ("langgraph_node", "langgraph_step", "langgraph_checkpoint_ns"):
            if key in meta:
                md[key] = meta[key]
    status = s.get("status") or {}
    if status.get("code") in (2, "STATUS_CODE_ERROR", "ERROR"):
        md["error"] = status.get("message") or "error"
    return md


def _framework(spans: list[Mapping[str, Any]], graph_name: str) -> str:
    for s in spans:
        a = s.get("attributes") or {}
        meta = a.get("metadata")
        if isinstance(meta, str) and "langgraph" in meta:
            return "langgraph"
        prov = a.get("gen_ai.provider.name") or a.get("gen_ai.system")
        if isinstance(prov, str) and prov in ("autogen", "langgraph", "camel", "crewai"):
            return prov
    return "langgraph" if graph_name == "LangGraph" else "unknown"
