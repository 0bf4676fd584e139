"""Export that never blocks the host: a bounded, batching span processor that drops (and counts) when full.

``BoundedBatchProcessor`` takes finished spans on the host's thread with a non-blocking ``put`` into a
bounded queue; a daemon worker thread batches them to the exporter. A raising exporter is logged and
counted; a hanging or slow one only fills the queue, after which new spans are dropped and counted —
the host never waits. :func:`tracer_provider` builds a provider around any exporter (e.g. OTLP/HTTP).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from .spans import _otel, _tracer_of, session_of

__all__ = ["BoundedBatchProcessor", "ExportStats", "attribution_attributes", "attribution_span", "tracer_provider"]

log = logging.getLogger("agentracer.recording.export")


class ExportStats:
    """Counters of one processor: spans queued, exported, dropped (queue full) and failed (exporter error)."""

    def __init__(self) -> None:
        self.queued = 0
        self.exported = 0
        self.dropped = 0
        self.failed = 0
        self.batches = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


class BoundedBatchProcessor:
    """An OpenTelemetry ``SpanProcessor`` with a bounded queue that drops with a counter when full.

    ``max_queue``: spans held at most; ``batch``: spans per export call; ``interval``: seconds between
    flushes; ``shutdown_timeout``: seconds :meth:`shutdown` gives each of the final flush, the worker and
    the exporter's own ``shutdown()`` (default 2 s each, so at most 6 s: a hung exporter is abandoned,
    never waited on forever, and the process exits).
    """

    def __init__(
        self,
        exporter: Any,
        *,
        max_queue: int = 2048,
        batch: int = 256,
        interval: float = 0.5,
        shutdown_timeout: float = 2.0,
    ) -> None:
        self.exporter = exporter
        self.stats = ExportStats()
        self.batch = batch
        self.interval = interval
        self.shutdown_timeout = shutdown_timeout
        self._q: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._stop = threading.Event()
        self._flush = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._worker = threading.Thread(target=self._run, name="agentracer-export", daemon=True)
        self._worker.start()

    # SpanProcessor interface
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        return None

    def _on_ending(self, span: Any) -> None:  # newer SDKs call this; nothing to do
        return None

    def on_end(self, span: Any) -> None:
        try:
            self._q.put_nowait(span)
            self.stats.queued += 1
        except queue.Full:
            self.stats.dropped += 1

    def _drain(self) -> list[Any]:
        items = []
        while len(items) < self.batch:
            try:
                items.append(self._q.get_nowait())
            except queue.Empty:
                break
        return items

    def _run(self) -> None:
        while not self._stop.is_set():
            self._flush.wait(self.interval)
            self._flush.clear()
            self._idle.clear()
            try:
                while True:
                    items = self._drain()
                    if not items:
                        break
                    self._export(items)
            finally:
                self._idle.set()

    def _export(self, items: list[Any]) -> None:
        self.stats.batches += 1
        try:
            self.exporter.export(items)
            self.stats.exported += len(items)
        except Exception as e:  # an exporter failure must never reach the host
            self.stats.failed += len(items)
            log.warning("agentracer: span export failed (%s: %s); %d span(s) lost", type(e).__name__, e, len(items))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Ask the worker to export what is queued; wait at most ``timeout_millis``."""
        deadline = time.monotonic() + timeout_millis / 1000
        while time.monotonic() < deadline:
            self._flush.set()
            time.sleep(0.01)
            if self._q.empty() and self._idle.is_set():
                return True
        return False

    def shutdown(self) -> None:
        """Flush, stop the worker and shut the exporter down, each given at most ``shutdown_timeout``
        seconds: a hung exporter (in ``export`` or in its own ``shutdown``) is abandoned on its daemon
        thread, logged, and never keeps the host (or the process at exit) waiting longer."""
        if self._stop.is_set():
            return
        t = self.shutdown_timeout
        self.force_flush(int(t * 1000))
        self._stop.set()
        self._flush.set()
        self._worker.join(t)
        if self._worker.is_alive():
            log.warning("agentracer: span exporter still busy after %.1f s; %d queued span(s) abandoned",
                        t, self._q.qsize())

        def close() -> None:
            try:
                self.exporter.shutdown()
            except Exception as e:
                log.warning("agentracer: exporter shutdown failed: %s", e)

        closer = threading.Thread(target=close, name="agentracer-export-shutdown", daemon=True)
        closer.start()
        closer.join(t)
        if closer.is_alive():
            log.warning("agentracer: exporter shutdown did not return within %.1f s; abandoned", t)


def tracer_provider(
    exporter: Any = None,
    *,
    endpoint: str | None = None,
    service_name: str = "agentracer",
    project: str | None = None,
    **processor_options: Any,
) -> Any:
    """A ``TracerProvider`` exporting through a :class:`BoundedBatchProcessor`.

    Give an ``exporter``, or an OTLP/HTTP ``endpoint`` such as ``http://127.0.0.1:6006/v1/traces``
    (needs the ``otlp`` extra). ``project`` sets ``openinference.project.name`` (Phoenix projects).
    The processor is available as ``provider.agentracer_processor`` (for its ``stats``).
    """
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    if exporter is None:
        if endpoint is None:
            raise ValueError("give an exporter or an OTLP/HTTP endpoint")
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as e:  # pragma: no cover - depends on extras
            raise ImportError("OTLP export needs the 'otlp' extra: pip install 'agentracer[otlp]'") from e
        exporter = OTLPSpanExporter(endpoint=endpoint, timeout=5)
    attrs = {"service.name": service_name}
    if project:
        attrs["openinference.project.name"] = project
    provider = TracerProvider(resource=Resource.create(attrs))
    proc = BoundedBatchProcessor(exporter, **processor_options)
    provider.add_span_processor(proc)
    provider.agentracer_processor = proc  # type: ignore[attr-defined]
    return provider


def attribution_attributes(trace: Any, attribution: Any) -> dict[str, Any]:
    """The span attributes of an attribution (``agentracer.attribution.*``, OpenInference kind EVALUATOR,
    the run's ``session.id``): shared by :func:`attribution_span` and the CLI's ``export --attribute``."""
    attrs: dict[str, Any] = {
        "openinference.span.kind": "EVALUATOR",
        "session.id": session_of(trace),
        "gen_ai.conversation.id": session_of(trace),
        "agentracer.run.id": trace.run_id,
        "agentracer.attribution.agent": attribution.agent or "",
        "agentracer.attribution.step": -1 if attribution.step is None else int(attribution.step),
        "agentracer.attribution.reason": attribution.reason or "",
        "agentracer.attribution.method": attribution.method or "",
        "agentracer.attribution.parsed": bool(attribution.parsed),
        "output.value": f"agent {attribution.agent or '?'}, step {attribution.step}: {attribution.reason or ''}",
    }
    if attribution.confidence is not None:
        attrs["agentracer.attribution.confidence"] = float(attribution.confidence)
    return attrs


def attribution_span(trace: Any, attribution: Any, *, tracer_provider: Any = None) -> None:
    """Emit the attribution of ``trace`` as a span of its own (``agentracer.attribution.*`` keys).

    Name ``attribute_failure {agent}``, OpenInference kind EVALUATOR, same ``session.id`` and
    ``gen_ai.conversation.id`` as the run, so Phoenix/Langfuse show it beside the run's spans. (A trace
    file sent with ``agentracer export --endpoint URL --attribute`` gets the span inside the run's own
    trace instead: :func:`agentracer.formats.otlp_live.send_otlp`.)
    """
    tracer = _tracer_of(tracer_provider or _otel().get_tracer_provider())
    attrs = attribution_attributes(trace, attribution)
    span = tracer.start_span(f"attribute_failure {attribution.agent or 'unknown'}", attributes=attrs)
    span.end()
