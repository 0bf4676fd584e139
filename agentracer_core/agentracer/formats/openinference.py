"""Import spans from OpenInference instrumentors (and plain OTel GenAI spans) into a :class:`Trace`.

Spans exported by ``openinference-instrumentation-langchain`` look like this for a LangGraph run: a root
``LangGraph`` CHAIN span, one CHAIN span per node execution (named after the node, with the node and its
checkpoint namespace only inside the JSON ``metadata`` attribute), and LLM / TOOL spans below them. Other
instrumentors (``-autogen-agentchat``, CrewAI...) emit AGENT spans with ``graph.node.id`` / ``agent.name``;
OTel GenAI instrumentations emit ``invoke_agent`` / ``chat`` / ``execute_tool`` spans. All three become
the same thing: top-level agent steps with ``llm_call`` and ``tool_call`` children.

The message helpers here (:func:`message_fields`, :func:`output_text`, :func:`canonical_messages`) are
shared with the LangGraph plugin, so a node's output reads as the same step text whether it was recorded
live or imported from OpenInference JSON. They accept LangChain message objects (duck-typed, nothing is
imported) and every JSON form LangChain serialises them to.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..trace import Step, Trace, TraceError

__all__ = [
    "canonical_messages",
    "final_answer_text",
    "from_openinference_spans",
    "is_openinference",
    "message_fields",
    "output_text",
    "task_text",
]

_ROLE = {
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

# LangGraph's prebuilt agents name their inner nodes like this; the agent is the graph itself.
_PREBUILT_INNER_NODES = ("agent", "tools", "model")
_DEFAULT_GRAPH_NAMES = ("LangGraph", "")


# ---------------------------------------------------------------------------------------------- messages
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


def _tool_calls(raw: Any) -> list[dict[str, Any]]:
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
    ``model_dump`` output and OpenAI-style ``{"role", "content"}`` dicts. Returns None for anything else.
    """
    if m is None or isinstance(m, (str, bytes, int, float, bool)):
        return None
    if not isinstance(m, Mapping):
        typ = getattr(m, "type", None)
        if not isinstance(typ, str) or not hasattr(m, "content"):
            return None
        return {
            "role": _ROLE.get(typ.lower(), typ.lower()),
            "content": _content_text(getattr(m, "content", "")),
            "name": getattr(m, "name", None),
            "tool_calls": _tool_calls(getattr(m, "tool_calls", None)),
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
    role = _ROLE.get(typ.lower().replace("_", ""))
    if role is None:
        return None
    tool_calls = d.get("tool_calls")
    if not tool_calls and isinstance(d.get("additional_kwargs"), Mapping):
        tool_calls = d["additional_kwargs"].get("tool_calls")
    return {
        "role": role,
        "content": _content_text(d.get("content")),
        "name": d.get("name"),
        "tool_calls": _tool_calls(tool_calls),
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


def _render_message(f: Mapping[str, Any]) -> str:
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
        return _render_message(f)
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
            return _render_message(f)
    return _render_message(msgs[-1])


def _plain(value: Any) -> Any:
    f = message_fields(value)
    if f is not None:
        return _render_message(f)
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
        f = {"role": "assistant", "content": str(a.get(f"{pre}.content") or ""), "tool_calls": _tool_calls(calls)}
        texts.append(_render_message(f))
        i += 1
    if texts:
        return "\n".join(t for t in texts if t)
    out = _json_attr(a, "output.value")
    if isinstance(out, Mapping) and isinstance(out.get("generations"), list):
        try:
            gen = out["generations"][0][0]
            f = message_fields(gen.get("message")) if isinstance(gen, Mapping) else None
            if f is not None:
                return _render_message(f)
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
            "role": _ROLE.get(str(a[f"llm.input_messages.{i}.message.role"]).lower(), "user"),
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
    trace = Trace(
        run_id=str(session or root.get("trace_id") or "run"),
        task=task_text(_json_attr(ra, "input.value")),
        framework=_framework(spans, graph_name),
        final_answer=final_answer_text(_json_attr(ra, "output.value")),
        metadata={"source": "openinference", "trace_id": root.get("trace_id"), "root_span": graph_name},
    )
    for s, agent, kids in steps:
        a = s.get("attributes") or {}
        top_step = trace.add_step(
            Step(
                index=0,
                agent=agent,
                content=output_text(_json_attr(a, "output.value")),
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
