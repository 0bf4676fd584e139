"""The generated credential corpus (tests/secret_corpus.py) never leaves through any output path.

Paths: a live LangGraph run (JSONL sink, spans, OTLP file), ``agentracer import -o`` and ``agentracer export``
of an imported Who&When file in all 4 formats, ``export --endpoint`` to a local OTLP/HTTP collector, the HTML
report, an annotation dataset, GRPO training rows, and refinement feedback. Plus the corpus size, recall per
kind and the false-positive rate on Who&When steps and generated negatives.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from agentracer.recording.redact import MASK, redact, redact_value
from agentracer.trace import AnnotatedTrace, Attribution, Step, Trace
from secret_corpus import CONTEXTS, KINDS, credentials, negatives, samples

SAMPLES = samples()
NEEDLES = sorted({n for s in SAMPLES for n in s.needles})


def _chunks(n: int) -> list[str]:
    """The corpus as ``n`` texts, each a run of samples separated by blank lines."""
    return ["\n\n".join(s.text for s in SAMPLES[i::n]) for i in range(n)]


def _leaks(text: str) -> list[str]:
    return [n for n in NEEDLES if n in text]


def _planted_trace(n_steps: int = 24) -> AnnotatedTrace:
    tr = Trace(run_id="corpus", task="Deploy the billing service.\n" + SAMPLES[0].text, framework="whowhen",
               outcome="failure", ground_truth="42")
    for i, text in enumerate(_chunks(n_steps)):
        tr.add_step(Step(index=i, agent=f"agent{i % 3}", role="assistant", content=text))
    return AnnotatedTrace(trace=tr, gold=Attribution("agent1", 1, "it pasted " + SAMPLES[5].text), source="human")


def test_corpus_size_and_kinds() -> None:
    creds = credentials()
    assert len(creds) >= 300 and len(KINDS) >= 30
    assert len(set(creds)) == len(creds)
    assert {s.context for s in SAMPLES} == set(CONTEXTS)


def test_recall_is_total_per_kind() -> None:
    missed: Counter[str] = Counter()
    for s in SAMPLES:
        out = redact(s.text)
        if any(n in out for n in s.needles):
            missed[f"{s.kind}/{s.context}"] += 1
    assert not missed, dict(missed)


def test_false_positive_rate_at_most_one_percent(whowhen_dir: Path) -> None:
    from agentracer.formats import read

    texts = list(negatives())
    for item in read(whowhen_dir):
        tr = item.trace if isinstance(item, AnnotatedTrace) else item
        texts += [json.dumps([s.content, s.tool_args, s.tool_result], ensure_ascii=False, default=str) for s in tr.steps]
    changed = sum(redact(t) != t for t in texts)
    assert changed / len(texts) <= 0.01, f"{changed}/{len(texts)} steps changed"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Who&When file holding the whole corpus, written raw (as a user would import it)."""
    from agentracer.formats.whowhen import to_whowhen

    path = tmp_path_factory.mktemp("imp") / "planted.json"
    path.write_text(json.dumps(to_whowhen(_planted_trace()), ensure_ascii=False), encoding="utf-8")
    assert _leaks(path.read_text(encoding="utf-8"))  # the input does hold the secrets
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "otlp", "json", "whowhen"])
def test_cli_export_of_an_imported_file(imported: Path, tmp_path: Path, fmt: str) -> None:
    from agentracer.cli import app
    from typer.testing import CliRunner

    out = tmp_path / f"out.{fmt}"
    res = CliRunner().invoke(app, ["export", str(imported), "-f", fmt, "-o", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert MASK in text and not _leaks(text)


def test_cli_import_output(imported: Path, tmp_path: Path) -> None:
    from agentracer.cli import app
    from agentracer.formats import read
    from typer.testing import CliRunner

    out = tmp_path / "imp.jsonl"
    res = CliRunner().invoke(app, ["import", str(imported), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert not _leaks(out.read_text(encoding="utf-8"))
    (back,) = read(out)
    assert len(back.trace.steps) == 24  # redaction keeps the structure


class _Collector(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's interface
        type(self).bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *a: object) -> None:
        pass


def test_cli_export_to_an_otlp_endpoint(imported: Path, tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
    from agentracer.cli import app
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from typer.testing import CliRunner

    _Collector.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
        res = CliRunner().invoke(app, ["export", str(imported), "-f", "otlp", "-o", str(tmp_path / "o.json"), "--endpoint", url])
    finally:
        server.shutdown()
    assert res.exit_code == 0, res.output
    assert _Collector.bodies
    received = "".join(str(ExportTraceServiceRequest.FromString(b)) for b in _Collector.bodies)
    raw = b"".join(_Collector.bodies).decode("utf-8", "replace")
    assert MASK in raw and not _leaks(raw) and not _leaks(received)


def test_html_report(imported: Path, tmp_path: Path) -> None:
    from agentracer.formats import read
    from agentracer.report import write_report

    (item,) = read(imported)
    out = write_report(item, tmp_path / "r.html", method=None,
                       attribution=Attribution("agent1", 1, "the key was " + SAMPLES[7].text))
    text = out.read_text(encoding="utf-8")
    assert MASK in text and not _leaks(text)


def test_annotation_dataset(imported: Path, tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    from agentracer.annotation.dataset import build_dataset, load_dataset
    from agentracer.formats import read

    items = read(imported)
    build_dataset(items, tmp_path / "ds", test_fraction=0.0, notes="card note " + SAMPLES[9].text)
    ds = load_dataset(tmp_path / "ds")
    rows = json.dumps([dict(r) for split in ds.values() for r in split], ensure_ascii=False, default=str)
    card = (tmp_path / "ds" / "README.md").read_text(encoding="utf-8")
    assert MASK in rows and not _leaks(rows) and not _leaks(card)


def test_training_rows(imported: Path) -> None:
    from agentracer.formats import read
    from agentracer.training.data import grpo_rows

    items = read(imported)
    rows = grpo_rows(items) + grpo_rows([{"prompt": SAMPLES[11].text, "agent": "a", "step": 1}])
    text = json.dumps(rows, ensure_ascii=False)
    assert MASK in text and not _leaks(text)


def test_refinement_feedback() -> None:
    from agentracer.refinement.notes import attribution_note, critique_note

    tr = _planted_trace(4).trace
    for i, s in enumerate(SAMPLES[:200]):
        tr.steps[0].content = s.text
        att = Attribution("agent0", 0, "it used " + s.text, metadata={"correction": "rotate " + s.text})
        body = attribution_note(att, tr, {"question": s.text}, "t", 1).body + critique_note("a", s.text, "t", 1).body
        assert not any(n in body for n in s.needles), (i, s.kind, body)


def test_live_langgraph_recording(tmp_path: Path, span_exporter) -> None:
    pytest.importorskip("langgraph")
    import agentracer
    from agentracer import Recorder
    from agentracer.formats import write
    from agentracer.formats.otlp import spans_to_otlp_json
    from agentracer.samples.demo import DEMO_SCRIPT
    from agentracer_langgraph.demo import build_demo_graph, demo_input

    provider, exporter = span_exporter
    a, b, c, d = _chunks(4)
    script = {"planner": [DEMO_SCRIPT["planner"][0], a + "\nPLAN: buy"], "solver": [b + "\nANSWER: 5"],
              "verifier": [c + "\nVERDICT: APPROVE"]}
    graph, _ = build_demo_graph(script)
    sink = tmp_path / "live.jsonl"
    agentracer.instrument(graph, recorder=Recorder(framework="langgraph", tracer_provider=provider, sink=sink,
                                                    capture_content=True))
    graph.invoke(demo_input(d))
    trace = agentracer.last_trace()
    assert trace is not None and len(trace.steps) >= 3
    outputs = {"sink": sink.read_text(encoding="utf-8"),
               "spans": json.dumps(spans_to_otlp_json(exporter.get_finished_spans()), ensure_ascii=False)}
    for fmt in ("jsonl", "otlp", "json"):
        outputs[fmt] = write(trace, tmp_path / f"t.{fmt}", fmt).read_text(encoding="utf-8")
    for name, text in outputs.items():
        assert MASK in text, name
        assert not _leaks(text), f"leaked through {name}: {_leaks(text)[:3]}"


def test_redact_value_keeps_structure() -> None:
    v = {"a": [1, 2.5, None, True, "sk_live_" + "x1" * 12], "api_key": "abcd1234efgh5678", "n": {"k": ("t",)}}
    out = redact_value(v)
    assert out == {"a": [1, 2.5, None, True, MASK], "api_key": MASK, "n": {"k": ["t"]}}


def test_pii_is_opt_in() -> None:
    from agentracer import Recorder
    from agentracer.recording.redact import redactor

    text = ("Mail jane.doe@example.org or call +44 20 7946 0958; IBAN GB82 WEST 1234 5698 7654 32, "
            "card 4111 1111 1111 1111, order 4111 1111 1111 1112.")
    assert redact(text) == text  # off by default
    out = redactor(pii=True)(text)
    for pii in ("jane.doe@example.org", "7946 0958", "GB82 WEST", "4111 1111 1111 1111"):
        assert pii not in out, out
    assert "4111 1111 1111 1112" in out  # fails the Luhn check: not a card
    rec = Recorder(redact_pii=True)
    assert "jane.doe@example.org" not in rec.redact(text)


def test_cli_redact_pii_flag(tmp_path: Path) -> None:
    from agentracer.cli import app
    from agentracer.formats.jsonl import dumps
    from typer.testing import CliRunner

    tr = Trace(run_id="pii", task="t")
    tr.add_step(Step(index=0, agent="a", content="write to jane.doe@example.org"))
    src = tmp_path / "in.jsonl"
    src.write_text(dumps(tr) + "\n", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["export", str(src), "-o", str(tmp_path / "a.jsonl"), "--redact-pii"]).exit_code == 0
    assert "jane.doe@example.org" not in (tmp_path / "a.jsonl").read_text(encoding="utf-8")
    assert runner.invoke(app, ["export", str(src), "-o", str(tmp_path / "b.jsonl")]).exit_code == 0
    assert "jane.doe@example.org" in (tmp_path / "b.jsonl").read_text(encoding="utf-8")  # PII stays opt-in


def test_detect_secrets_is_imported_lazily() -> None:
    import subprocess
    import sys

    code = "import sys, agentracer, agentracer.formats, agentracer.recording.redact; print('detect_secrets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
