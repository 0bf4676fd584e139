"""OTLP: trace -> OTLP JSON -> equal trace; live OTLP/HTTP export to a local collector stand-in."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

pytest.importorskip("langgraph")

import agentracer  # noqa: E402
from agentracer import AnnotatedTrace, Attribution, Step, Trace, TraceError  # noqa: E402
from agentracer.formats import read, write  # noqa: E402
from agentracer.formats.otlp import (  # noqa: E402
    from_otlp_json,
    otlp_tracer_provider,
    send_otlp,
    spans_to_otlp_json,
    to_otlp_json,
)
from agentracer_langgraph.demo import build_demo_graph, demo_input, run_demo_task  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402


@pytest.fixture(scope="module")
def demo_trace() -> Trace:
    graph, _ = build_demo_graph(checkpointer=InMemorySaver())
    agentracer.instrument(graph)
    return run_demo_task(graph, thread_id="otlp")[1]


def _roundtrip(items):
    return from_otlp_json(json.loads(json.dumps(to_otlp_json(items))))


def test_recorded_trace_roundtrips_through_otlp_json(demo_trace) -> None:
    (back,) = _roundtrip(demo_trace)
    assert back == demo_trace
    assert back.steps[1].replay["response"] == demo_trace.steps[1].replay["response"]


def test_edge_cases_and_annotations_roundtrip() -> None:
    t = Trace(run_id="r-ü", task="", framework="x", outcome="failure", ground_truth="42", final_answer=None,
              metadata={"nested": {"a": [1, 2.5, None, True]}, "started": 1700000000.123456789})
    t.add_step(Step(index=0, agent="A", content="héllo\n\"quoted\"", started=1700000000.5, ended=None))
    t.add_step(Step(index=0, agent="A", kind="tool_call", role="tool", tool_name="calc", tool_args="2+2",
                    tool_result={"value": 4}, parent=0, metadata={"call_id": "c1"}))
    t.add_step(Step(index=0, agent="A", kind="llm_call", parent=0, usage={"input_tokens": 3, "output_tokens": 1},
                    replay={"llm_key": "k", "occurrence": 0, "response": {"type": "ai", "data": {"content": "x"}}}))
    t.add_step(Step(index=0, agent="B", kind="handoff", content="", tool_args=None, span_id="00f067aa0ba902b7"))
    ann = AnnotatedTrace(trace=t, gold=Attribution("A", 0, "wrong premise", confidence=0.9, evidence=[1]),
                         source="injection", counterfactual="fixed", fault_type="wrong_number")
    back_t, back_a = _roundtrip([t, ann])
    assert back_t == t
    assert isinstance(back_a, AnnotatedTrace) and back_a.trace == t and back_a.gold == ann.gold
    assert (back_a.source, back_a.counterfactual, back_a.fault_type) == ("injection", "fixed", "wrong_number")


def test_otlp_file_through_formats_read_and_write(tmp_path, demo_trace) -> None:
    path = write([demo_trace, demo_trace], tmp_path / "t.otlp.json", "otlp")
    doc = json.loads(path.read_text())
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert len(spans) == 2 * (len(demo_trace.steps) + 1)
    assert all(len(s["traceId"]) == 32 and len(s["spanId"]) == 16 and isinstance(s["startTimeUnixNano"], str) for s in spans)
    root = next(s for s in spans if "parentSpanId" not in s)
    assert root["name"] == "invoke_workflow langgraph"
    items = read(path)
    assert items == [demo_trace, demo_trace]  # same run id twice: still two traces


def test_whowhen_file_roundtrips_through_otlp(whowhen_dir) -> None:
    f = sorted(whowhen_dir.glob("*.json"))[0]
    (ann,) = read(f)
    (back,) = _roundtrip(ann)
    assert back.trace == ann.trace and back.gold == ann.gold


def test_malformed_otlp_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(TraceError, match="resourceSpans"):
        from_otlp_json({"resourceSpans": "nope"}, name="x.json")
    bad = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz", "spanId": "1" * 16, "name": "n"}]}]}]}
    with pytest.raises(TraceError) as e:
        from_otlp_json(bad, name="bad.json")
    assert "bad.json" in str(e.value) and "traceId" in str(e.value)
    p = tmp_path / "empty.json"
    p.write_text(json.dumps({"resourceSpans": []}))
    with pytest.raises(TraceError, match="no spans"):
        read(p)


def test_live_recorder_spans_import_back(span_exporter, demo_trace) -> None:
    provider, exporter = span_exporter
    graph, _ = build_demo_graph(checkpointer=InMemorySaver())
    agentracer.instrument(graph, tracer_provider=provider, capture_content=True)
    graph.invoke(demo_input(), {"configurable": {"thread_id": "otlp"}})
    (imp,) = from_otlp_json(spans_to_otlp_json(exporter.get_finished_spans()))
    assert imp.run_id == "otlp"
    assert [(s.agent, s.kind, s.parent, s.content) for s in imp.steps] == [
        (s.agent, s.kind, s.parent, s.content) for s in demo_trace.steps
    ]


# ------------------------------------------------------------------ live OTLP/HTTP
class _Collector(BaseHTTPRequestHandler):
    bodies: list[tuple[str, str, bytes]] = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).bodies.append((self.path, self.headers.get("Content-Type", ""), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *a):
        pass


@pytest.fixture()
def collector():
    _Collector.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", _Collector.bodies
    server.shutdown()
    server.server_close()


def _received_spans(bodies):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    spans = []
    for path, ctype, body in bodies:
        assert path == "/v1/traces" and ctype == "application/x-protobuf"
        req = ExportTraceServiceRequest.FromString(body)
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                spans.extend(ss.spans)
    return spans


def test_send_trace_file_over_otlp_http(collector, demo_trace) -> None:
    url, bodies = collector
    n = send_otlp([demo_trace], url)
    spans = _received_spans(bodies)
    assert n == len(spans) == len(demo_trace.steps) + 1
    names = [s.name for s in spans]
    assert "invoke_agent solver" in names and "execute_tool lookup_price" in names
    attrs = {s.name: {a.key: a.value for a in s.attributes} for s in spans}
    assert attrs["invoke_agent solver"]["agentracer.step.index"].int_value == 4
    assert attrs["invoke_agent solver"]["gen_ai.agent.name"].string_value == "solver"
    by_id = {s.span_id: s for s in spans}
    tool = next(s for s in spans if s.name == "execute_tool lookup_price")
    assert by_id[tool.parent_span_id].name == "invoke_agent planner"


def test_live_export_while_recording(collector) -> None:
    url, bodies = collector
    provider = otlp_tracer_provider(url, batch=False)
    try:
        graph, _ = build_demo_graph()
        agentracer.instrument(graph, tracer_provider=provider)
        graph.invoke(demo_input())
        provider.force_flush()
    finally:
        provider.shutdown()
    names = {s.name for s in _received_spans(bodies)}
    assert {"invoke_workflow langgraph", "invoke_agent planner", "chat fake-solver", "execute_tool lookup_price"} <= names


def test_cli_export_with_endpoint(collector, tmp_path, demo_trace) -> None:
    from agentracer.cli import app
    from agentracer.formats.jsonl import write_jsonl
    from typer.testing import CliRunner

    url, bodies = collector
    src = write_jsonl([demo_trace], tmp_path / "t.jsonl")
    out = tmp_path / "t.otlp.json"
    res = CliRunner().invoke(app, ["export", str(src), "-f", "otlp", "-o", str(out), "--endpoint", url])
    assert res.exit_code == 0, res.output
    assert read(out) == [demo_trace]
    assert len(_received_spans(bodies)) == len(demo_trace.steps) + 1


def test_unreachable_endpoint_is_a_clear_error(demo_trace) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(ConnectionError, match=f"no OTLP collector at http://127.0.0.1:{port}/v1/traces"):
        send_otlp(demo_trace, f"http://127.0.0.1:{port}/v1/traces", timeout=1)
