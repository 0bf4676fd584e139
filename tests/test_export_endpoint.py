"""`agentracer export --endpoint`: the attribution inside the run's own trace, the project, and a clean
one-line failure (file kept, non-zero exit) when no collector listens. An in-process OTLP/HTTP receiver
stands in for Phoenix (tests/test_phoenix_roundtrip.py does it against a real Phoenix)."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from agentracer.cli import app
from agentracer.formats import read
from typer.testing import CliRunner

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402

FIXTURE = Path(__file__).parent / "data" / "openinference" / "lg_supervisor.json"


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        type(self).bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def receiver():
    _Receiver.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", _Receiver.bodies
    server.shutdown()


def _spans(bodies):
    out = []
    for body in bodies:
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        for rs in req.resource_spans:
            res = {a.key: a.value.string_value for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                out.extend((res, s) for s in ss.spans)
    return out


def _attrs(span):
    return {a.key: a.value for a in span.attributes}


def test_attribution_span_sits_inside_the_runs_trace(receiver, tmp_path) -> None:
    url, bodies = receiver
    r = CliRunner().invoke(app, ["export", str(FIXTURE), "-o", str(tmp_path / "t.jsonl"), "--endpoint", url,
                                 "--attribute", "--method", "embedded", "--project", "my-project"])
    assert r.exit_code == 0, r.output
    assert "1 attribution(s) inside their runs" in r.output
    spans = _spans(bodies)
    (tr,) = read(FIXTURE)
    assert len(spans) == len(tr.steps) + 2  # root + steps + the attribution
    assert {res["openinference.project.name"] for res, _ in spans} == {"my-project"}
    (att,) = [s for _, s in spans if s.name.startswith("attribute_failure ")]
    root = next(s for _, s in spans if not s.parent_span_id)
    assert att.trace_id == root.trace_id and att.parent_span_id == root.span_id
    a = _attrs(att)
    assert a["openinference.span.kind"].string_value == "EVALUATOR"
    step = a["agentracer.attribution.step"].int_value
    (link,) = att.links
    decisive = next(s for _, s in spans if s.span_id == link.span_id)
    assert link.trace_id == root.trace_id
    assert _attrs(decisive)["agentracer.step.index"].int_value == step
    assert _attrs(decisive)["gen_ai.agent.name"].string_value == a["agentracer.attribution.agent"].string_value


def test_project_needs_endpoint(tmp_path) -> None:
    r = CliRunner().invoke(app, ["export", str(FIXTURE), "-o", str(tmp_path / "t.jsonl"), "--project", "p"])
    assert r.exit_code == 2 and "--endpoint" in r.output


def test_collector_down_is_one_line_nonzero_and_keeps_the_file(tmp_path) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    url = f"http://127.0.0.1:{port}/v1/traces"
    out = tmp_path / "t.otlp.json"
    r = CliRunner().invoke(app, ["export", str(FIXTURE), "-o", str(out), "-f", "otlp", "--endpoint", url, "--attribute"])
    assert r.exit_code == 1
    assert r.exception is None or isinstance(r.exception, SystemExit)  # no traceback
    err = [ln for ln in r.output.splitlines() if ln.startswith("agentracer: error:")]
    assert len(err) == 1 and url in err[0] and "make phoenix" in err[0]
    assert "Traceback" not in r.output
    assert read(out)[0].steps  # the file is written and readable
