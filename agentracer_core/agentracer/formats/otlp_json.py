"""The OTLP/JSON wire format: normalised span dicts <-> ``{"resourceSpans": [...]}`` documents.

This module knows OTLP/JSON only, not what the spans mean. :func:`parse_otlp_spans` reads any OTLP/JSON
document (hex or base64 ids, camelCase or snake_case keys, numeric or string ints) into flat span dicts;
:func:`spans_document` writes span dicts back, and :func:`spans_to_otlp_json` writes OpenTelemetry SDK
``ReadableSpan`` objects (e.g. from an ``InMemorySpanExporter``). Which importer turns the spans into a
Trace is decided in :mod:`agentracer.formats.otlp`.

OTLP/JSON follows the OTLP spec's JSON mapping: hex trace/span ids, 64-bit integers as strings,
``startTimeUnixNano`` as strings.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

from ..trace import TraceError

__all__ = ["SCOPE", "parse_otlp_spans", "spans_document", "spans_to_otlp_json", "version"]

# ------------------------------------------------------------------------------------------ span dicts -> JSON
SCOPE = "agentracer"
_KIND_NUM = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5, "UNSPECIFIED": 0}
_KIND_NAME = {v: k for k, v in _KIND_NUM.items()}


def version() -> str:
    """The agentracer version, written as the instrumentation scope's version."""
    from .._version import __version__

    return __version__


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


def spans_document(spans: Iterable[Mapping[str, Any]], resource: Mapping[str, Any] | None = None,
                   scope: tuple[str, str] | None = None) -> dict[str, Any]:
    """One OTLP/JSON document of normalised span dicts, under one resource and one scope (name, version)."""
    name, ver = scope or (SCOPE, version())
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _attrs_json(resource or {"service.name": SCOPE})},
                "scopeSpans": [{"scope": {"name": name, "version": ver}, "spans": [_span_json(s) for s in spans]}],
            }
        ]
    }


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
        doc = spans_document(ss, res_attrs[rkey], skey)
        out["resourceSpans"].extend(doc["resourceSpans"])
    return out


# ------------------------------------------------------------------------------------------ JSON -> span dicts
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
