"""OTLP: traces as OpenTelemetry spans, in OTLP/JSON files and over OTLP/HTTP.

- :func:`to_otlp_json` / :func:`write_otlp_json`: a Trace (or AnnotatedTrace) becomes an OTLP/JSON
  ``{"resourceSpans": [...]}`` document with our span conventions (``invoke_workflow``, ``invoke_agent
  {agent}``, ``chat {model}``, ``execute_tool {tool}``; ``gen_ai.*``, the OpenInference mirror, and every
  Step field under ``agentracer.*``), so :func:`from_otlp_json` gives back an equal Trace.
- :func:`from_otlp_json`: reads our spans losslessly, and spans from OpenInference instrumentors or OTel
  GenAI instrumentations through :mod:`agentracer.formats.openinference`.
- :func:`send_otlp`: sends a trace file's spans live to an OTLP/HTTP endpoint (a collector, Phoenix,
  Langfuse, Jaeger...) with ``opentelemetry-exporter-otlp-proto-http``.
- :func:`otlp_tracer_provider`: a TracerProvider exporting live to an endpoint, for recording:
  ``agentracer.instrument(graph, tracer_provider=otlp_tracer_provider("http://127.0.0.1:4318/v1/traces"))``.
- :func:`spans_to_otlp_json`: SDK ``ReadableSpan`` objects (e.g. from an ``InMemorySpanExporter``) to OTLP/JSON.

OTLP/JSON follows the OTLP spec's JSON mapping: hex trace/span ids, 64-bit integers as strings,
``startTimeUnixNano`` as strings. The reader also accepts base64 ids, snake_case keys and numeric ints.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..recording import run_span_attributes
from ..trace import AnnotatedTrace, Attribution, Trace, TraceError

__all__ = [
    "from_otlp_json",
    "otlp_tracer_provider",
    "parse_otlp_spans",
    "send_otlp",
    "spans_to_otlp_json",
    "to_otlp_json",
    "trace_to_spans",
    "write_otlp_json",
]

SCOPE = "agentracer"
_KIND_NUM = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5, "UNSPECIFIED": 0}
_KIND_NAME = {v: k for k, v in _KIND_NUM.items()}
_STEP_SPAN = {"agent_message": "invoke_agent", "llm_call": "chat", "tool_call": "execute_tool"}


def _version() -> str:
    from .. import __version__

    return __version__


# ------------------------------------------------------------------------------------------ trace -> spans
def _hex(seed: str, n: int) -> str:
    h = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:n]
    return h if int(h, 16) else "1".rjust(n, "0")


def _is_hex(s: Any, n: int) -> bool:
    if not isinstance(s, str) or len(s) != n:
        return False
    try:
        return int(s, 16) != 0
    except ValueError:
        return False


def _dumps(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)


def _ns(t: float | None, fallback: int) -> int:
    return int(round(t * 1e9)) if isinstance(t, (int, float)) else fallback


def trace_to_spans(item: Trace | AnnotatedTrace, position: int = 0) -> list[dict[str, Any]]:
    """The spans of one trace as normalised dicts (see :func:`parse_otlp_spans`), root span first.

    Ids are derived from the run id and ``position`` (the trace's place in the file), so exporting the
    same traces twice gives the same ids; a Step's own ``span_id`` is kept when it is a valid span id.
    """
    ann = item if isinstance(item, AnnotatedTrace) else None
    tr = item.trace if isinstance(item, AnnotatedTrace) else item
    trace_id = _hex(f"{position}:{tr.run_id}", 32)
    root_id = _hex(f"{position}:{tr.run_id}:root", 16)
    t0 = tr.metadata.get("started") if isinstance(tr.metadata.get("started"), (int, float)) else None
    starts = [s.started for s in tr.steps if s.started is not None]
    ends = [s.ended for s in tr.steps if s.ended is not None] + starts
    base = _ns(t0 if t0 is not None else (min(starts) if starts else None), 0)
    t1 = tr.metadata.get("ended") if isinstance(tr.metadata.get("ended"), (int, float)) else None
    root_end = max(_ns(t1, base), _ns(max(ends) if ends else None, base))
    fw = tr.framework
    ra: dict[str, Any] = {
        **run_span_attributes(tr.run_id, fw),
        "input.value": tr.task,
        "agentracer.task": tr.task,
        "agentracer.outcome": tr.outcome,
        "agentracer.agents": _dumps(tr.agents),
        "agentracer.metadata": _dumps(tr.metadata),
        "agentracer.steps": len(tr.steps),
    }
    if tr.final_answer is not None:
        ra["agentracer.final_answer"] = tr.final_answer
        ra["output.value"] = tr.final_answer
    if tr.ground_truth is not None:
        ra["agentracer.ground_truth"] = tr.ground_truth
    if ann is not None:
        ra["agentracer.annotation"] = _dumps(
            {
                "gold": ann.gold.to_dict(),
                "source": ann.source,
                "counterfactual": ann.counterfactual,
                "fault_type": ann.fault_type,
                "metadata": ann.metadata,
            }
        )
        if ann.gold.agent is not None:
            ra["agentracer.attribution.agent"] = ann.gold.agent
        if ann.gold.step is not None:
            ra["agentracer.attribution.step"] = ann.gold.step
    spans = [
        {
            "trace_id": trace_id,
            "span_id": root_id,
            "parent_span_id": None,
            "name": f"invoke_workflow {fw}",
            "kind": "INTERNAL",
            "start": base,
            "end": root_end,
            "attributes": ra,
            "status": {"code": 2, "message": str(tr.metadata.get("error"))} if tr.metadata.get("error") else None,
        }
    ]
    ids: dict[int, str] = {}
    used = {root_id}
    prev_agent = None
    for s in tr.steps:
        sid = s.span_id if _is_hex(s.span_id, 16) and s.span_id not in used else _hex(f"{position}:{tr.run_id}:{s.index}", 16)
        used.add(sid)
        ids[s.index] = sid
        op = _STEP_SPAN.get(s.kind, s.kind)
        model = s.metadata.get("model") if isinstance(s.metadata.get("model"), str) else None
        if s.kind == "llm_call":
            name = f"chat {model or 'unknown'}"
        elif s.kind == "tool_call":
            name = f"execute_tool {s.tool_name or 'tool'}"
        else:
            name = f"{op} {s.agent}"
        a: dict[str, Any] = {
            "gen_ai.operation.name": op,
            "gen_ai.provider.name": fw,
            "gen_ai.agent.name": s.agent,
            "gen_ai.conversation.id": tr.run_id,
            "session.id": tr.run_id,
            "agentracer.run.id": tr.run_id,
            "agentracer.step.index": s.index,
            "agentracer.step.kind": s.kind,
            "agentracer.step.role": s.role,
            "agentracer.step.agent": s.agent,
            "agentracer.step.content": s.content,
            "output.value": s.content,
        }
        if s.kind == "llm_call":
            a["openinference.span.kind"] = "LLM"
            a["gen_ai.request.model"] = model or "unknown"
            a["llm.model_name"] = model or "unknown"
            a["gen_ai.output.messages"] = _dumps([{"role": "assistant", "parts": [{"type": "text", "content": s.content}]}])
            if s.metadata.get("messages") is not None:
                a["gen_ai.input.messages"] = _dumps(s.metadata["messages"])
                a["input.value"] = a["gen_ai.input.messages"]
        elif s.kind == "tool_call":
            a["openinference.span.kind"] = "TOOL"
            a["gen_ai.tool.name"] = s.tool_name or "tool"
            a["tool.name"] = s.tool_name or "tool"
            if isinstance(s.metadata.get("call_id"), str):
                a["gen_ai.tool.call.id"] = s.metadata["call_id"]
        else:
            a["openinference.span.kind"] = "AGENT"
            a["agent.name"] = s.agent
            a["graph.node.id"] = s.agent
            if s.parent is None:
                a["graph.node.parent_id"] = prev_agent or "start"
                prev_agent = s.agent
            if isinstance(s.metadata.get("input"), str):
                a["input.value"] = s.metadata["input"]
        if s.parent is not None:
            a["agentracer.step.parent"] = s.parent
        if s.tool_name is not None:
            a["agentracer.step.tool_name"] = s.tool_name
        if s.tool_args is not None:
            a["agentracer.step.tool_args"] = _dumps(s.tool_args)
            a.setdefault("gen_ai.tool.call.arguments", a["agentracer.step.tool_args"])
        if s.tool_result is not None:
            a["agentracer.step.tool_result"] = _dumps(s.tool_result)
        if s.started is not None:
            a["agentracer.step.started"] = float(s.started)
        if s.ended is not None:
            a["agentracer.step.ended"] = float(s.ended)
        if s.span_id is not None:
            a["agentracer.step.span_id"] = s.span_id
        if s.replay:
            a["agentracer.step.replay"] = _dumps(s.replay)
            for k, v in s.replay.items():
                if isinstance(v, (str, int, float, bool)) and k != "response":
                    a[f"agentracer.replay.{k}"] = v
        if s.usage:
            a["agentracer.step.usage"] = _dumps(s.usage)
            if isinstance(s.usage.get("input_tokens"), int):
                a["gen_ai.usage.input_tokens"] = s.usage["input_tokens"]
            if isinstance(s.usage.get("output_tokens"), int):
                a["gen_ai.usage.output_tokens"] = s.usage["output_tokens"]
        if s.metadata:
            a["agentracer.step.metadata"] = _dumps(s.metadata)
        start = _ns(s.started, base)
        end = max(_ns(s.ended, start), start)
        err = s.metadata.get("error")
        spans.append(
            {
                "trace_id": trace_id,
                "span_id": sid,
                "parent_span_id": ids.get(s.parent, root_id) if s.parent is not None else root_id,
                "name": name,
                "kind": "CLIENT" if s.kind == "llm_call" else "INTERNAL",
                "start": start,
                "end": end,
                "attributes": a,
                "status": {"code": 2, "message": str(err)[:200]} if err else None,
            }
        )
    return spans


# ------------------------------------------------------------------------------------------ spans -> JSON
def _any_value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, str):
        return {"stringValue": v}
    if isinstance(v, (bytes, bytearray)):
        return {"bytesValue": base64.b64encode(bytes(v)).decode("ascii")}
    if isinstance(v, (list, tuple)):
        return {"arrayValue": {"values": [_any_value(x) for x in v]}}
    if isinstance(v, Mapping):
        return {"kvlistValue": {"values": [{"key": str(k), "value": _any_value(x)} for k, x in v.items()]}}
    return {"stringValue": str(v)}


def _attrs_json(attrs: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _any_value(v)} for k, v in attrs.items() if v is not None]


def _span_json(s: Mapping[str, Any]) -> dict[str, Any]:
    d: dict[str, Any] = {
        "traceId": s["trace_id"],
        "spanId": s["span_id"],
        "name": s["name"],
        "kind": _KIND_NUM.get(str(s.get("kind") or "INTERNAL").upper(), 1),
        "startTimeUnixNano": str(int(s.get("start") or 0)),
        "endTimeUnixNano": str(int(s.get("end") or 0)),
        "attributes": _attrs_json(s.get("attributes") or {}),
    }
    if s.get("parent_span_id"):
        d["parentSpanId"] = s["parent_span_id"]
    st = s.get("status")
    d["status"] = {"code": int(st.get("code") or 0), **({"message": st["message"]} if st.get("message") else {})} if st else {}
    return d


def _document(spans: Iterable[Mapping[str, Any]], resource: Mapping[str, Any] | None = None,
              scope: tuple[str, str] | None = None) -> dict[str, Any]:
    name, version = scope or (SCOPE, _version())
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _attrs_json(resource or {"service.name": SCOPE})},
                "scopeSpans": [{"scope": {"name": name, "version": version}, "spans": [_span_json(s) for s in spans]}],
            }
        ]
    }


def to_otlp_json(traces: Trace | AnnotatedTrace | Iterable[Trace | AnnotatedTrace]) -> dict[str, Any]:
    """OTLP/JSON (``{"resourceSpans": [...]}``) of one or more traces; :func:`from_otlp_json` inverts it."""
    items = [traces] if isinstance(traces, (Trace, AnnotatedTrace)) else list(traces)
    spans: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        spans.extend(trace_to_spans(item, i))
    return _document(spans)


def write_otlp_json(items: Trace | AnnotatedTrace | Iterable[Trace | AnnotatedTrace], path: str | Path) -> Path:
    """Write OTLP/JSON to ``path`` atomically (a temp file renamed over it)."""
    path = Path(path)
    text = json.dumps(to_otlp_json(items), ensure_ascii=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def spans_to_otlp_json(spans: Iterable[Any]) -> dict[str, Any]:
    """OTLP/JSON of OpenTelemetry SDK ``ReadableSpan`` objects (e.g. ``InMemorySpanExporter`` output)."""
    groups: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    res_attrs: dict[Any, dict[str, Any]] = {}
    for sp in spans:
        res = getattr(sp, "resource", None)
        scope = getattr(sp, "instrumentation_scope", None)
        rkey = id(res)
        res_attrs[rkey] = dict(res.attributes) if res is not None else {}
        skey = (getattr(scope, "name", ""), getattr(scope, "version", "") or "")
        ctx = sp.context
        st = sp.status
        groups.setdefault((rkey, skey), []).append(
            {
                "trace_id": f"{ctx.trace_id:032x}",
                "span_id": f"{ctx.span_id:016x}",
                "parent_span_id": f"{sp.parent.span_id:016x}" if sp.parent is not None else None,
                "name": sp.name,
                "kind": sp.kind.name,
                "start": sp.start_time or 0,
                "end": sp.end_time or 0,
                "attributes": {k: (list(v) if isinstance(v, tuple) else v) for k, v in (sp.attributes or {}).items()},
                "status": {"code": int(st.status_code.value), "message": st.description} if st is not None else None,
            }
        )
    out: dict[str, Any] = {"resourceSpans": []}
    for (rkey, skey), ss in groups.items():
        doc = _document(ss, res_attrs[rkey], skey)
        out["resourceSpans"].extend(doc["resourceSpans"])
    return out


# ------------------------------------------------------------------------------------------ JSON -> spans
def _g(d: Mapping[str, Any], camel: str, snake: str, default: Any = None) -> Any:
    if camel in d:
        return d[camel]
    return d.get(snake, default)


def _id(v: Any, n: int, fld: str, name: str) -> str | None:
    if v in (None, ""):
        return None
    if not isinstance(v, str):
        raise TraceError(f"expected a hex string, got {type(v).__name__}", file=name, field=fld)
    if len(v) == n and all(c in "0123456789abcdefABCDEF" for c in v):
        return v.lower()
    try:  # protobuf's JSON mapping writes bytes as base64
        raw = base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == n // 2:
        return raw.hex()
    raise TraceError(f"not a {n}-digit hex id: {v!r}", file=name, field=fld)


def _value(v: Any) -> Any:
    if not isinstance(v, Mapping):
        return v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
    for key in ("stringValue", "string_value"):
        if key in v:
            return v[key]
    for key in ("intValue", "int_value"):
        if key in v:
            return int(v[key])
    for key in ("doubleValue", "double_value"):
        if key in v:
            x = v[key]
            return float(x) if not isinstance(x, str) else float(x)
    for key in ("boolValue", "bool_value"):
        if key in v:
            return bool(v[key])
    for key in ("arrayValue", "array_value"):
        if key in v:
            return [_value(x) for x in _values_of(v[key])]
    for key in ("kvlistValue", "kvlist_value"):
        if key in v:
            return {str(x.get("key")): _value(x.get("value")) for x in _values_of(v[key]) if isinstance(x, Mapping)}
    for key in ("bytesValue", "bytes_value"):
        if key in v:
            return v[key]
    return None


def _values_of(container: Any) -> list[Any]:
    vals = container.get("values") if isinstance(container, Mapping) else None
    return vals if isinstance(vals, list) else []


def _attrs(lst: Any) -> dict[str, Any]:
    if isinstance(lst, Mapping):  # already flat
        return {str(k): v for k, v in lst.items()}
    if not isinstance(lst, list):
        return {}
    out = {}
    for kv in lst:
        if isinstance(kv, Mapping) and isinstance(kv.get("key"), str):
            out[kv["key"]] = _value(kv.get("value"))
    return out


def parse_otlp_spans(d: Mapping[str, Any], name: str = "<otlp>") -> list[dict[str, Any]]:
    """Every span of an OTLP/JSON document as a normalised dict.

    Keys: ``trace_id``, ``span_id``, ``parent_span_id`` (hex or None), ``name``, ``kind`` (INTERNAL,
    CLIENT...), ``start``/``end`` (ns ints), ``attributes`` (flat dict), ``status`` and ``resource``.
    """
    rs_list = _g(d, "resourceSpans", "resource_spans")
    if not isinstance(rs_list, list):
        raise TraceError("expected a list", file=name, field="resourceSpans")
    out = []
    for i, rs in enumerate(rs_list):
        if not isinstance(rs, Mapping):
            raise TraceError("expected an object", file=name, field=f"resourceSpans[{i}]")
        res = _g(rs, "resource", "resource")
        resource = _attrs(res.get("attributes")) if isinstance(res, Mapping) else {}
        scope_list = _g(rs, "scopeSpans", "scope_spans")
        if scope_list is None:
            scope_list = _g(rs, "instrumentationLibrarySpans", "instrumentation_library_spans") or []
        if not isinstance(scope_list, list):
            raise TraceError("expected a list", file=name, field=f"resourceSpans[{i}].scopeSpans")
        for j, ss in enumerate(scope_list):
            span_list = ss.get("spans") if isinstance(ss, Mapping) else None
            if span_list is not None and not isinstance(span_list, list):
                raise TraceError("expected a list", file=name, field=f"resourceSpans[{i}].scopeSpans[{j}].spans")
            for k, sp in enumerate(span_list or []):
                where = f"resourceSpans[{i}].scopeSpans[{j}].spans[{k}]"
                if not isinstance(sp, Mapping):
                    raise TraceError("expected an object", file=name, field=where)
                kind = _g(sp, "kind", "kind", 1)
                if isinstance(kind, str):
                    kind = kind.replace("SPAN_KIND_", "")
                    kind_name = kind if kind in _KIND_NUM else "INTERNAL"
                else:
                    kind_name = _KIND_NAME.get(kind, "INTERNAL") if isinstance(kind, int) else "INTERNAL"
                status = sp.get("status") if isinstance(sp.get("status"), Mapping) else {}
                code = status.get("code", 0)
                if isinstance(code, str):
                    code = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}.get(code, 0)
                if not isinstance(code, int) or isinstance(code, bool):
                    code = 0
                message = status.get("message")
                try:
                    start = int(_g(sp, "startTimeUnixNano", "start_time_unix_nano", 0) or 0)
                    end = int(_g(sp, "endTimeUnixNano", "end_time_unix_nano", 0) or 0)
                except (TypeError, ValueError, OverflowError):
                    raise TraceError("timestamps must be integers", file=name, field=where) from None
                sid = _id(_g(sp, "spanId", "span_id"), 16, where + ".spanId", name)
                tid = _id(_g(sp, "traceId", "trace_id"), 32, where + ".traceId", name)
                if sid is None or tid is None:
                    raise TraceError("missing", file=name, field=where + (".spanId" if sid is None else ".traceId"))
                out.append(
                    {
                        "trace_id": tid,
                        "span_id": sid,
                        "parent_span_id": _id(_g(sp, "parentSpanId", "parent_span_id"), 16, where + ".parentSpanId", name),
                        "name": sp.get("name") if isinstance(sp.get("name"), str) else "",
                        "kind": kind_name,
                        "start": start,
                        "end": end,
                        "attributes": _attrs(sp.get("attributes")),
                        "status": {"code": code, "message": message if isinstance(message, str) else None},
                        "resource": resource,
                    }
                )
    return out


def _loads(v: Any, fld: str, step: int | None, name: str) -> Any:
    if v is None:
        return None
    if not isinstance(v, str):
        return v
    try:
        return json.loads(v)
    except (json.JSONDecodeError, RecursionError):
        raise TraceError("not valid JSON", file=name, field=fld, step=step) from None


def _ours_to_trace(spans: list[dict[str, Any]], name: str) -> Trace | AnnotatedTrace:
    root = next((s for s in spans if "agentracer.run.id" in s["attributes"] and "agentracer.step.index" not in s["attributes"]), None)
    if root is None:
        raise TraceError("no run span (agentracer.run.id) for this trace", file=name)
    ra = root["attributes"]
    rows = []
    for s in spans:
        a = s["attributes"]
        if "agentracer.step.index" not in a:
            continue
        idx = a["agentracer.step.index"]
        if not isinstance(idx, int):
            raise TraceError(f"must be an integer, got {idx!r}", file=name, field="agentracer.step.index")
        rows.append(
            {
                "index": idx,
                "agent": a.get("agentracer.step.agent", a.get("gen_ai.agent.name")),
                "content": a.get("agentracer.step.content", ""),
                "role": a.get("agentracer.step.role", "assistant"),
                "kind": a.get("agentracer.step.kind", "agent_message"),
                "tool_name": a.get("agentracer.step.tool_name"),
                "tool_args": _loads(a.get("agentracer.step.tool_args"), "agentracer.step.tool_args", idx, name),
                "tool_result": _loads(a.get("agentracer.step.tool_result"), "agentracer.step.tool_result", idx, name),
                "started": a.get("agentracer.step.started"),
                "ended": a.get("agentracer.step.ended"),
                "parent": a.get("agentracer.step.parent"),
                "span_id": a.get("agentracer.step.span_id"),
                "replay": _loads(a.get("agentracer.step.replay"), "agentracer.step.replay", idx, name) or {},
                "usage": _loads(a.get("agentracer.step.usage"), "agentracer.step.usage", idx, name) or {},
                "metadata": _loads(a.get("agentracer.step.metadata"), "agentracer.step.metadata", idx, name) or {},
            }
        )
        if rows[-1]["agent"] is None:
            raise TraceError("missing", file=name, field="agentracer.step.agent", step=idx)
    rows.sort(key=lambda r: r["index"])
    d = {
        "run_id": ra["agentracer.run.id"],
        "task": ra.get("agentracer.task", ""),
        "framework": ra.get("agentracer.framework", "unknown"),
        "agents": _loads(ra.get("agentracer.agents"), "agentracer.agents", None, name) or [],
        "steps": rows,
        "outcome": ra.get("agentracer.outcome", "unknown"),
        "ground_truth": ra.get("agentracer.ground_truth"),
        "final_answer": ra.get("agentracer.final_answer"),
        "metadata": _loads(ra.get("agentracer.metadata"), "agentracer.metadata", None, name) or {},
    }
    try:
        tr = Trace.from_dict(d)
    except TraceError as e:
        raise e.with_file(name) from None
    ann = _loads(ra.get("agentracer.annotation"), "agentracer.annotation", None, name)
    if isinstance(ann, Mapping):
        return AnnotatedTrace(
            trace=tr,
            gold=Attribution.from_dict(ann.get("gold") or {}, prefix="annotation.gold."),
            source=ann.get("source") or "unknown",
            counterfactual=ann.get("counterfactual"),
            fault_type=ann.get("fault_type"),
            metadata=dict(ann.get("metadata") or {}),
        )
    return tr


def from_otlp_json(d: Mapping[str, Any], name: str = "<otlp>") -> list[Trace | AnnotatedTrace]:
    """Every trace in an OTLP/JSON document, one per trace id, in order of first appearance.

    Traces written by :func:`to_otlp_json` come back exactly; spans from the AutoGen AgentChat
    OpenInference instrumentor go through :mod:`agentracer.formats.openinference_autogen`, and other
    OpenInference or OTel GenAI spans (LangChain/LangGraph, our live spans...) through
    :func:`agentracer.formats.openinference.from_openinference_spans`.
    """
    if not isinstance(d, Mapping):
        raise TraceError(f"expected an object, got {type(d).__name__}", file=name)
    try:
        return _from_otlp_json(d, name)
    except TraceError as e:
        raise (e if e.file else e.with_file(name)) from None
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError, OverflowError) as e:
        raise TraceError(f"malformed OTLP JSON ({type(e).__name__}: {e})", file=name) from None


def _from_otlp_json(d: Mapping[str, Any], name: str) -> list[Trace | AnnotatedTrace]:
    spans = parse_otlp_spans(d, name)
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        groups.setdefault(s["trace_id"], []).append(s)
    out: list[Trace | AnnotatedTrace] = []
    for tid, group in groups.items():
        ours = any("agentracer.step.index" in s["attributes"] for s in group) and any(
            "agentracer.run.id" in s["attributes"] and "agentracer.step.index" not in s["attributes"] for s in group
        )
        if ours and any("agentracer.step.content" in s["attributes"] for s in group):
            out.append(_ours_to_trace(group, name))
            continue
        autogen = _autogen_importer(group)
        if autogen is not None:
            out.extend(autogen(group, name=name))
            continue
        from .openinference import from_openinference_spans, is_openinference

        if not is_openinference(group) and not ours:
            raise TraceError(f"trace {tid}: spans carry neither agentracer, OpenInference nor GenAI attributes", file=name)
        out.append(from_openinference_spans(group, name=name))
    if not out:
        raise TraceError("holds no spans", file=name)
    return out


def _autogen_importer(group: list[dict[str, Any]]) -> Any:
    """The AutoGen AgentChat OpenInference importer when these spans come from that instrumentor."""
    try:
        from .openinference_autogen import is_openinference_autogen, openinference_autogen_traces
    except ImportError:  # pragma: no cover - optional module
        return None
    return openinference_autogen_traces if is_openinference_autogen(group) else None


# ------------------------------------------------------------------------------------------ live OTLP
def _readable_spans(items: Iterable[Trace | AnnotatedTrace]) -> list[Any]:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    resource = Resource.create({"service.name": SCOPE})
    scope = InstrumentationScope(SCOPE, _version())
    out = []
    for i, item in enumerate(items):
        for s in trace_to_spans(item, i):
            tid, sid = int(s["trace_id"], 16), int(s["span_id"], 16)
            ctx = SpanContext(tid, sid, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
            parent = (
                SpanContext(tid, int(s["parent_span_id"], 16), is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
                if s["parent_span_id"]
                else None
            )
            st = s.get("status")
            status = Status(StatusCode.ERROR, st.get("message")) if st and st.get("code") == 2 else Status(StatusCode.UNSET)
            out.append(
                ReadableSpan(
                    name=s["name"],
                    context=ctx,
                    parent=parent,
                    resource=resource,
                    attributes=s["attributes"],
                    kind=getattr(SpanKind, s["kind"]),
                    status=status,
                    start_time=s["start"],
                    end_time=s["end"],
                    instrumentation_scope=scope,
                )
            )
    return out


def send_otlp(
    traces: Trace | AnnotatedTrace | Iterable[Trace | AnnotatedTrace],
    endpoint: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> int:
    """Send traces as spans to an OTLP/HTTP endpoint (``http://host:4318/v1/traces``); returns the span count.

    Raises ``ConnectionError`` when the endpoint does not accept them, and ``ImportError`` with the pip
    command when ``opentelemetry-exporter-otlp-proto-http`` is missing.
    """
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import SpanExportResult
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("live OTLP export needs `pip install 'agentracer[otlp]'`") from e
    items = [traces] if isinstance(traces, (Trace, AnnotatedTrace)) else list(traces)
    spans = _readable_spans(items)
    exporter = OTLPSpanExporter(endpoint=endpoint, headers=dict(headers or {}), timeout=timeout)
    try:
        result = exporter.export(spans)
    finally:
        exporter.shutdown()
    if result != SpanExportResult.SUCCESS:
        raise ConnectionError(f"OTLP endpoint {endpoint} did not accept {len(spans)} span(s)")
    return len(spans)


def otlp_tracer_provider(
    endpoint: str,
    *,
    service_name: str = SCOPE,
    headers: Mapping[str, str] | None = None,
    batch: bool = True,
) -> Any:
    """A new SDK TracerProvider exporting spans live to ``endpoint`` over OTLP/HTTP.

    Pass it to ``agentracer.instrument(system, tracer_provider=...)``; call ``provider.shutdown()`` (or
    ``force_flush()``) before the process exits so batched spans are sent. The global provider is untouched.
    With ``batch`` (the default) export goes through :class:`agentracer.recording.export.BoundedBatchProcessor`, so
    a slow or dead collector never blocks the host (spans are dropped and counted instead).
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=endpoint, headers=dict(headers or {}), timeout=5)
    if batch:
        from ..recording.export import tracer_provider

        return tracer_provider(exporter, service_name=service_name)
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider
