"""``agentracer refine``: the offline demo writes the JSON per round and method, the PNG and the table;
the real-LLM path runs against a tiny OpenAI-compatible server started here on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from agentracer.cli import app
from agentracer.samples import simulated as sim
from typer.testing import CliRunner

METHOD_DIRS = {"none", "generic-guard", "generic", "random-agent-guard", "random-agent", "tracer-embedded-guard",
               "tracer-embedded", "tracer-oracle-guard", "tracer-oracle"}


def _check_outputs(out: Path, systems: list[str], rounds: int, simulated: bool) -> dict:
    summary = json.loads((out / "summary.json").read_text())
    assert summary["simulated_agents"] is simulated
    assert sorted(summary["systems"]) == sorted(systems)
    for s in systems:
        assert {p.name for p in (out / s).iterdir()} == METHOD_DIRS
        for d in METHOD_DIRS:
            files = sorted(p.name for p in (out / s / d).iterdir())
            assert files == [f"round_{r}.json" for r in range(rounds + 1)]
            doc = json.loads((out / s / d / f"round_{rounds}.json").read_text())
            assert doc["simulated_agents"] is simulated and doc["round"] == rounds and 0.0 <= doc["accuracy"] <= 1.0
        labels = [r["label"] for r in summary["systems"][s]]
        assert len(labels) == len(METHOD_DIRS)
        assert all(len(r["accuracies"]) == rounds + 1 for r in summary["systems"][s])
    png = (out / "refine_accuracy.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    return summary


def test_demo_writes_json_per_round_and_method_plot_and_table(tmp_path: Path, monkeypatch) -> None:
    from agentracer import cli

    monkeypatch.setattr(cli.console, "width", 220)  # the table on one line per row
    out = tmp_path / "refine"
    res = CliRunner().invoke(app, ["refine", "--demo", "--rounds", "2", "--out", str(out), "--n-tasks", "10",
                                   "--seed", "3"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert res.output.count("SIMULATED AGENTS") >= 2
    for label in ("none", "generic +guard", "random-agent", "tracer:embedded +guard", "tracer:oracle"):
        assert label in res.output
    summary = _check_outputs(out, ["maas", "langgraph"], 2, True)
    assert summary["notice"] == sim.NOTICE and summary["simulation"]["seed"] == 3


def test_refine_needs_demo_or_endpoint(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["refine", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "--demo" in res.output
    bad = tmp_path / "tasks.jsonl"
    bad.write_text('{"question": "no answer"}\n')
    res = CliRunner().invoke(app, ["refine", "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
                                   "--tasks", str(bad), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "answer" in res.output


class _Server:
    """An OpenAI-compatible chat-completions server whose "model" answers like the simulated agents."""

    def __init__(self) -> None:
        policy = sim.SimPolicy(seed=0)
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, **body})
                text = "\n".join(str(m.get("content", "")) for m in body["messages"])
                role = sim.role_of(text)
                reply = policy.respond(role, text) if role else "Critique: every step should double-check its numbers."
                data = json.dumps({"id": "x", "object": "chat.completion", "model": body["model"], "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_real_run_path_against_local_openai_compatible_server(tmp_path: Path) -> None:
    pytest.importorskip("langgraph")
    out = tmp_path / "real"
    with _Server() as server:
        res = CliRunner().invoke(app, ["refine", "--base-url", server.url, "--model", "scripted-model",
                                       "--framework", "maas,langgraph", "--rounds", "1", "--n-tasks", "4",
                                       "--out", str(out)], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "SIMULATED" not in res.output
    summary = _check_outputs(out, ["maas", "langgraph"], 1, False)
    assert summary["agents"] == f"scripted-model @ {server.url}"
    assert server.requests and all(r["path"] == "/v1/chat/completions" and r["model"] == "scripted-model"
                                   for r in server.requests)
    roles = {sim.role_of("\n".join(m["content"] for m in r["messages"])) for r in server.requests}
    assert {"extract", "compute", "finalize", None} <= roles  # the three agents and the LLM critic
    # attribution feedback travelled over HTTP to the responsible agent only
    oracle = next(r for r in summary["systems"]["maas"] if r["label"] == "tracer:oracle")
    fb = oracle["rounds"][1]["feedback"]
    assert fb, "the oracle found failures to feed back"
    for agent, text in fb.items():
        role = {"GenerateCoT": "extract", "Programmer": "compute", "SelfRefine": "finalize"}[agent]
        marker = text.splitlines()[1][:60]
        hits = [sim.role_of(p) for r in server.requests for p in ["\n".join(m["content"] for m in r["messages"])]
                if marker in p]
        assert hits and set(hits) == {role}


def test_bounded_real_run_sends_max_tokens_and_runs_only_the_named_methods(tmp_path: Path) -> None:
    """--methods/--guard/--max-tokens: only those runs, and every agent's and critic's request carries
    ``max_tokens`` (llama.cpp's server ignores ``max_completion_tokens``, which ChatOpenAI sends)."""
    pytest.importorskip("langgraph")
    out = tmp_path / "bounded"
    with _Server() as server:
        res = CliRunner().invoke(app, ["refine", "--base-url", server.url, "--model", "m", "--framework", "langgraph",
                                       "--rounds", "1", "--n-tasks", "3", "--methods", "none,generic,tracer:embedded",
                                       "--guard", "on", "--max-tokens", "24", "--out", str(out)], terminal_width=200)
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert [r["label"] for r in summary["systems"]["langgraph"]] == ["none", "generic +guard", "tracer:embedded +guard"]
    assert server.requests and all(r.get("max_tokens") == 24 for r in server.requests)
    res = CliRunner().invoke(app, ["refine", "--demo", "--guard", "sometimes", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "both, on or off" in res.output
