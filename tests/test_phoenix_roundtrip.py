"""OTLP to a real Arize Phoenix on 127.0.0.1, read back through Phoenix's client.

Phoenix needs its own venv (its mcp>=2 clashes with camel-ai's mcp<2): `make phoenix-test` builds
`.venv-phoenix` and runs this test; in a plain `make test` it is skipped when that venv is absent.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from agentracer import Recorder
from agentracer.recording.export import tracer_provider

ROOT = Path(__file__).resolve().parents[1]
# absolute (not resolved: the venv's python is a symlink to the base interpreter), as the server runs in a temp dir
PHOENIX_PY = Path(os.path.abspath(os.environ.get("PHOENIX_PYTHON", ROOT / ".venv-phoenix" / "bin" / "python")))
# Phoenix starts and answers slowly on a loaded 2-core machine: one budget (seconds) for its start and for
# each read-back, generous by default, PHOENIX_TEST_TIMEOUT to change it.
BUDGET = float(os.environ.get("PHOENIX_TEST_TIMEOUT", "600"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def phoenix(tmp_path: Path):
    if not PHOENIX_PY.exists():
        pytest.skip("no Phoenix venv (run `make phoenix-test`)")
    port, grpc_port = _free_port(), _free_port()
    env = dict(
        os.environ,
        PHOENIX_HOST="127.0.0.1",
        PHOENIX_PORT=str(port),
        PHOENIX_GRPC_PORT=str(grpc_port),
        PHOENIX_WORKING_DIR=str(tmp_path / "phoenix"),
        PHOENIX_TELEMETRY_ENABLED="false",
        HOME=str(tmp_path),
    )
    log = open(tmp_path / "phoenix.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([str(PHOENIX_PY), str(ROOT / "tests/phoenix/serve_loopback.py"), "serve"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + BUDGET
    while True:
        try:
            if urllib.request.urlopen(url + "/healthz", timeout=5).status == 200:
                break
        except OSError:
            time.sleep(0.5)
            if proc.poll() is not None:
                pytest.fail("phoenix exited: " + (tmp_path / "phoenix.log").read_text()[-2000:])
        if time.monotonic() > deadline:
            proc.terminate()
            pytest.fail(f"phoenix did not become healthy in {BUDGET:.0f} s")
    yield url, env
    proc.terminate()
    proc.wait(10)
    log.close()


def test_spans_arrive_in_phoenix(phoenix) -> None:
    url, env = phoenix
    project = "agentracer-test"
    tp = tracer_provider(endpoint=url + "/v1/traces", project=project, service_name="agentracer-test")
    rec = Recorder(tracer_provider=tp, capture_content=True)
    agents = ["planner", "solver", "verifier"]
    with rec.run("what is 6*7?", run_id="phoenix-run"):
        for a in agents:
            with rec.step(a, input="x") as h:
                rec.begin_llm("fake-model", messages=[{"role": "user", "content": a}]).end(f"{a} says 42")
                h.set(content=f"{a} says 42")
    rec.end_run(outcome="failure")
    from agentracer import Attribution
    from agentracer.recording.export import attribution_span  # the attribution as a span of its own

    attribution_span(rec.last_trace(), Attribution("solver", 2, "wrong product", 0.8, "embedded"), tracer_provider=tp)
    assert tp.agentracer_processor.force_flush(10000)
    assert tp.agentracer_processor.stats.failed == 0
    spans = _phoenix_spans(url, env, project, 8)
    tp.shutdown()
    agent_spans = [s for s in spans if s["name"].startswith("invoke_agent ")]
    order = sorted(agent_spans, key=lambda s: s["attributes"]["agentracer.step.index"])
    assert [s["attributes"]["gen_ai.agent.name"] for s in order] == agents
    assert [s["attributes"]["agentracer.step.index"] for s in order] == [0, 2, 4]
    assert all(s.get("span_kind") == "AGENT" or s["attributes"].get("openinference.span.kind") == "AGENT" for s in agent_spans), agent_spans[0]
    att = [s for s in spans if "agentracer.attribution.agent" in s["attributes"]]
    assert att and att[0]["attributes"]["agentracer.attribution.agent"] == "solver"
    assert att[0]["attributes"]["agentracer.attribution.step"] == 2


def _phoenix_spans(url: str, env: dict, project: str, at_least: int) -> list[dict]:
    """The project's spans read back with Phoenix's client, retried (a slow read is retried, not fatal)
    until ``at_least`` have arrived or the budget is spent."""
    spans: list[dict] = []
    deadline = time.monotonic() + BUDGET
    while time.monotonic() < deadline:
        try:
            out = subprocess.run([str(PHOENIX_PY), str(ROOT / "tests/phoenix/read_spans.py"), url, project],
                                 capture_output=True, text=True, env=env,
                                 timeout=max(30.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            continue
        spans = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        if len(spans) >= at_least:
            break
        time.sleep(1.0)
    return spans


def test_cli_export_attribute_lands_in_the_runs_trace(phoenix, tmp_path: Path) -> None:
    """An imported OpenInference trace sent by `agentracer export --endpoint --attribute --project`:
    LLM and TOOL kinds, parent-child links and session.id arrive, and the attribution is in the run's trace."""
    from agentracer.cli import app
    from agentracer.formats import read
    from typer.testing import CliRunner

    url, env = phoenix
    src = ROOT / "tests/data/openinference/lg_supervisor.json"
    (tr,) = read(src)
    r = CliRunner().invoke(app, ["export", str(src), "-o", str(tmp_path / "t.jsonl"), "--endpoint",
                                 url + "/v1/traces", "--attribute", "--project", "cli-export"])
    assert r.exit_code == 0, r.output
    spans = _phoenix_spans(url, env, "cli-export", len(tr.steps) + 2)
    assert len(spans) == len(tr.steps) + 2

    def tid(s: dict) -> str:
        return s["context"]["trace_id"]

    def kind(s: dict) -> str:
        return s.get("span_kind") or s["attributes"].get("openinference.span.kind")

    by_id = {s["context"]["span_id"]: s for s in spans}
    root = next(s for s in spans if not s.get("parent_id"))
    (att,) = [s for s in spans if s["name"].startswith("attribute_failure ")]
    assert tid(att) == tid(root) and att["parent_id"] == root["context"]["span_id"]
    assert {"LLM", "TOOL", "AGENT"} <= {kind(s) for s in spans}
    tool = next(s for s in spans if s["name"] == "execute_tool population")
    assert by_id[tool["parent_id"]]["attributes"]["gen_ai.agent.name"] == "researcher"
    assert {s["attributes"].get("session.id") for s in spans if s is not root} == {tr.run_id}
