"""Live OTLP: send a trace file's spans to an OTLP/HTTP endpoint, or record to one through a TracerProvider.

- :func:`send_otlp`: sends traces as spans to a collector, Phoenix, Langfuse, Jaeger... with
  ``opentelemetry-exporter-otlp-proto-http`` (the ``otlp`` extra).
- :func:`otlp_tracer_provider`: a TracerProvider exporting live to an endpoint, for recording:
  ``agentracer.instrument(graph, tracer_provider=otlp_tracer_provider("http://127.0.0.1:4318/v1/traces"))``.

OpenTelemetry is imported inside the functions only, so importing this module needs no extra.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..recording.redact import redacts
from ..trace import AnnotatedTrace, Trace
from .agentracer_spans import trace_to_spans
from .otlp_json import SCOPE, version

__all__ = ["otlp_tracer_provider", "send_otlp"]


def _readable_spans(items: Iterable[Trace | AnnotatedTrace]) -> list[Any]:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    resource = Resource.create({"service.name": SCOPE})
    scope = InstrumentationScope(SCOPE, version())
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


@redacts("traces")
def send_otlp(
    traces: Trace | AnnotatedTrace | Iterable[Trace | AnnotatedTrace],
    endpoint: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> int:
    """Send traces (redacted) as spans to an OTLP/HTTP endpoint (``http://host:4318/v1/traces``); returns the span count.

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
