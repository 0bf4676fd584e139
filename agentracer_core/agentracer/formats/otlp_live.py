"""Live OTLP: send a trace file's spans to an OTLP/HTTP endpoint, or record to one through a TracerProvider.

- :func:`send_otlp`: sends traces as spans to a collector, Phoenix, Langfuse, Jaeger... with
  ``opentelemetry-exporter-otlp-proto-http`` (the ``otlp`` extra).
- :func:`otlp_tracer_provider`: a TracerProvider exporting live to an endpoint, for recording:
  ``agentracer.instrument(graph, tracer_provider=otlp_tracer_provider("http://127.0.0.1:4318/v1/traces"))``.

OpenTelemetry is imported inside the functions only, so importing this module needs no extra.
"""

from __future__ import annotations

import hashlib
import logging
import socket
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..recording.redact import redacts
from ..trace import AnnotatedTrace, Trace
from .agentracer_spans import trace_to_spans
from .otlp_json import SCOPE, version

__all__ = ["attribution_span_dict", "otlp_tracer_provider", "send_otlp"]


def attribution_span_dict(spans: list[dict[str, Any]], trace: Trace, attribution: Any) -> dict[str, Any]:
    """The attribution of ``trace`` as a span inside the run's own trace (normalised dict).

    ``spans`` are the run's spans from :func:`trace_to_spans` (root first). The new span is a child of
    the run's root span, starts when the run ends, and links to the decisive step's span (``links``).
    """
    from ..recording.export import attribution_attributes

    root = spans[0]
    decisive = next(
        (s["span_id"] for s in spans[1:] if s["attributes"].get("agentracer.step.index") == attribution.step), None
    )
    sid = hashlib.sha256(f"{root['span_id']}:attribution:{attribution.method}".encode()).hexdigest()[:16]
    return {
        "trace_id": root["trace_id"],
        "span_id": sid,
        "parent_span_id": root["span_id"],
        "name": f"attribute_failure {attribution.agent or 'unknown'}",
        "kind": "INTERNAL",
        "start": root["end"],
        "end": root["end"],
        "attributes": attribution_attributes(trace, attribution),
        "status": None,
        "links": [decisive] if decisive else [],
    }


def _readable_spans(
    items: Iterable[Trace | AnnotatedTrace], attributions: Sequence[Any] | None = None, project: str | None = None
) -> list[Any]:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

    attrs = {"service.name": SCOPE}
    if project:
        attrs["openinference.project.name"] = project  # Phoenix files the spans under this project
    resource = Resource.create(attrs)
    scope = InstrumentationScope(SCOPE, version())
    flags = TraceFlags(TraceFlags.SAMPLED)
    out = []
    for i, item in enumerate(items):
        spans = trace_to_spans(item, i)
        att = attributions[i] if attributions is not None and i < len(attributions) else None
        if att is not None:
            tr = item.trace if isinstance(item, AnnotatedTrace) else item
            spans.append(attribution_span_dict(spans, tr, att))
        for s in spans:
            tid, sid = int(s["trace_id"], 16), int(s["span_id"], 16)
            ctx = SpanContext(tid, sid, is_remote=False, trace_flags=flags)
            parent = SpanContext(tid, int(s["parent_span_id"], 16), is_remote=False, trace_flags=flags) if s["parent_span_id"] else None
            st = s.get("status")
            status = Status(StatusCode.ERROR, st.get("message")) if st and st.get("code") == 2 else Status(StatusCode.UNSET)
            links = [Link(SpanContext(tid, int(x, 16), is_remote=False, trace_flags=flags)) for x in s.get("links") or []]
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
                    links=links,
                    instrumentation_scope=scope,
                )
            )
    return out


def _reachable(endpoint: str, timeout: float) -> None:
    """Raise ConnectionError at once when nothing listens at the endpoint's host and port."""
    u = urlsplit(endpoint)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ConnectionError(f"{endpoint}: not an http(s) URL (e.g. http://127.0.0.1:6006/v1/traces)")
    port = u.port or (443 if u.scheme == "https" else 80)
    try:
        socket.create_connection((u.hostname, port), timeout=min(timeout, 3.0)).close()
    except OSError as e:
        raise ConnectionError(f"no OTLP collector at {endpoint} ({e.strerror or e})") from None


@redacts("traces")
def send_otlp(
    traces: Trace | AnnotatedTrace | Iterable[Trace | AnnotatedTrace],
    endpoint: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    attributions: Sequence[Any] | None = None,
    project: str | None = None,
) -> int:
    """Send traces (redacted) as spans to an OTLP/HTTP endpoint (``http://host:4318/v1/traces``); returns the span count.

    ``attributions[i]`` (an :class:`~agentracer.trace.Attribution` or None), when given, is sent as a span
    inside trace i's own trace (:func:`attribution_span_dict`). ``project`` sets the resource attribute
    ``openinference.project.name`` (Phoenix's project; without it Phoenix uses ``default``).

    Raises ``ConnectionError`` (one line, naming the endpoint) when nothing listens there or the endpoint
    does not accept the spans, and ``ImportError`` with the pip command when
    ``opentelemetry-exporter-otlp-proto-http`` is missing.
    """
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import SpanExportResult
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("live OTLP export needs `pip install 'agentracer[otlp]'`") from e
    items = [traces] if isinstance(traces, (Trace, AnnotatedTrace)) else list(traces)
    spans = _readable_spans(items, attributions, project)
    _reachable(endpoint, timeout)
    exporter = OTLPSpanExporter(endpoint=endpoint, headers=dict(headers or {}), timeout=timeout)
    quiet = logging.getLogger("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # its retry warnings; the outcome is raised below as one line
    try:
        result = exporter.export(spans)
    finally:
        quiet.setLevel(level)
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
