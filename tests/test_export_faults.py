"""Export never blocks or breaks the host: raising, hanging, slow exporters and a full queue."""

from __future__ import annotations

import logging
import threading

from agentracer import Recorder
from agentracer.recording.export import tracer_provider
from opentelemetry.sdk.trace.export import SpanExportResult


class Raising:
    def export(self, spans):
        raise ConnectionError("collector down")

    def shutdown(self):
        raise RuntimeError("also broken")


class Hanging:
    """Blocks inside export until released: stands for a collector that never answers."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.got = 0

    def export(self, spans):
        self.entered.set()
        self.release.wait(30)
        self.got += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self):
        self.release.set()


def _host(rec: Recorder, n: int) -> list[int]:
    out = []
    with rec.run("host task"):
        for i in range(n):
            with rec.step(f"a{i % 3}") as h:
                rec.begin_llm("m", messages=[i]).end(str(i * i))
                h.set(content=str(i))
            out.append(i * i)
    return out


def test_raising_exporter_is_counted_not_raised(caplog) -> None:
    tp = tracer_provider(Raising(), interval=0.01)
    rec = Recorder(tracer_provider=tp)
    assert _host(rec, 50) == [i * i for i in range(50)]
    proc = tp.agentracer_processor
    assert proc.force_flush(5000)
    assert proc.stats.failed == 101 and proc.stats.exported == 0
    with caplog.at_level(logging.WARNING, logger="agentracer.recording.export"):
        tp.shutdown()  # exporter.shutdown raising is logged (captured here), not raised
    assert "exporter shutdown failed: also broken" in caplog.text


def test_hanging_exporter_never_blocks_host_and_full_queue_drops() -> None:
    exp = Hanging()
    tp = tracer_provider(exp, max_queue=20, batch=5, interval=0.01, shutdown_timeout=0.2)
    rec = Recorder(tracer_provider=tp)
    with rec.run("prime"):
        rec.begin_step("a").end("x")
    assert exp.entered.wait(5)  # the worker is now stuck inside export
    result = _host(rec, 200)  # the host finishes while the exporter is still hung
    assert not exp.release.is_set()
    assert result == [i * i for i in range(200)]
    st = tp.agentracer_processor.stats
    assert st.dropped > 0 and st.queued <= 20 + 5 + 1 + 1
    assert st.queued + st.dropped == 2 + 200 * 2 + 1
    exp.release.set()
    tp.shutdown()


def test_recorder_trace_identical_with_faulty_exporter(caplog) -> None:
    base = Recorder()
    a = _host(base, 20)
    tp = tracer_provider(Raising(), interval=0.01)
    faulty = Recorder(tracer_provider=tp)
    b = _host(faulty, 20)
    assert a == b
    ta, tb = base.last_trace(), faulty.last_trace()
    assert [(s.agent, s.kind, s.content) for s in ta.steps] == [(s.agent, s.kind, s.content) for s in tb.steps]
    with caplog.at_level(logging.CRITICAL, logger="agentracer.recording.export"):
        tp.shutdown()  # its expected "exporter shutdown failed" warning stays out of the test log
