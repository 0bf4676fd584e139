"""Planted secrets never leave through any export path: JSONL (streamed and written), spans, OTLP JSON, HTML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agentracer import Recorder
from agentracer.formats import write
from agentracer.recording.redact import MASK, add_pattern, redact
from agentracer.report import write_report

SECRETS = [
    "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "sk-ant-api03-ZZZZyyyyXXXXwwwwVVVVuuuu1234",
    "AKIAIOSFODNN7EXAMPLE",
    "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI",
    "ghp_1234567890abcdefghijABCDEFGHIJ123456",
    "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH",
    "xoxb-123456789012-abcdefghijklmno",
    "glpat-abcdefghij1234567890",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
]
CARRIERS = [
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig_abcdef",
    "postgres://admin:hunter2secret@db.internal:5432/prod",
    "password=CorrectHorseBattery",
    '{"api_key": "abcd1234efgh5678"}',
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7x\nabcdef\n-----END RSA PRIVATE KEY-----",
]
NEEDLES = SECRETS + [
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig_abcdef",
    "hunter2secret",
    "CorrectHorseBattery",
    "abcd1234efgh5678",
    "MIIEowIBAAKCAQEA7x",
]


def _planted() -> list[str]:
    return [f"my key is {s} ok" for s in SECRETS] + CARRIERS


def test_redact_masks_each_secret() -> None:
    for text in _planted():
        out = redact(text)
        assert MASK in out, text
        assert not any(n in out for n in NEEDLES), out


def test_user_patterns() -> None:
    add_pattern(r"ACME-\d{6}")
    assert redact("ticket ACME-123456") == f"ticket {MASK}"


def test_no_leak_on_any_export_path(span_exporter, tmp_path: Path) -> None:
    provider, exporter = span_exporter
    sink = tmp_path / "live.jsonl"
    rec = Recorder(tracer_provider=provider, capture_content=True, sink=sink)
    planted = _planted()
    with rec.run("task " + planted[0], run_id="run"):
        for i, text in enumerate(planted):
            with rec.step(f"agent{i % 3}", input=text) as h:
                rec.begin_llm("m", messages=[{"role": "user", "content": text}]).end(text, response={"raw": text})
                rec.begin_tool("http", args={"url": text, "headers": {"auth": text}}).end({"body": text})
                h.set(content=text)
    rec.end_run(final_answer=planted[-1])
    trace = rec.last_trace()
    outputs: dict[str, str] = {"sink": sink.read_text()}
    write(trace, tmp_path / "t.jsonl")
    outputs["jsonl"] = (tmp_path / "t.jsonl").read_text()
    spans = exporter.get_finished_spans()
    outputs["spans"] = json.dumps([{**dict(s.attributes), "name": s.name} for s in spans])
    write_report(trace, tmp_path / "r.html", method="first-speaker")
    outputs["html"] = (tmp_path / "r.html").read_text()
    try:
        write(trace, tmp_path / "t.otlp.json", "otlp")
        outputs["otlp"] = (tmp_path / "t.otlp.json").read_text()
    except ImportError:
        pytest.fail("OTLP JSON exporter missing")
    for path, text in outputs.items():
        for needle in NEEDLES:
            assert needle not in text, f"{needle!r} leaked through {path}"
        assert MASK in text or path == "spans_none"
