"""CLI smoke tests: annotate generate (scripted and against a scripted OpenAI-compatible server), annotate
replay, inject, attribute --verify."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from agentracer.annotation.domains import MathDomain, Turn
from agentracer.annotation.generate import GeneratedSystem
from agentracer.annotation.scale import Ledger, plan_items
from agentracer.cli import app
from agentracer.formats import read, write
from typer.testing import CliRunner

runner = CliRunner()


def _run(*args: str) -> str:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res.output


def test_generate_then_resume_builds_a_dataset(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    text = _run("annotate", "generate", "--framework", "python,langgraph", "--domain", "math,tools", "--n", "3",
                "--size", "8", "--out", str(out))
    assert "12 item(s)" in text and "dataset:" in text
    assert (out / "dataset" / "README.md").exists() and (out / "dataset" / "data" / "train.parquet").exists()
    entries = Ledger(out).entries()
    assert len(entries) == 12 and {e["framework"] for e in entries} == {"python", "langgraph"}
    again = _run("annotate", "generate", "--framework", "python,langgraph", "--domain", "math,tools", "--n", "3",
                 "--size", "8", "--out", str(out))
    assert "12 already done" in again and len(Ledger(out).entries()) == 12
    bad = runner.invoke(app, ["annotate", "generate", "--framework", "nope", "--out", str(out)])
    assert bad.exit_code == 2 and "unknown framework" in bad.output


def test_replay_inject_and_verify_verbs(tmp_path: Path) -> None:
    system = GeneratedSystem.create("python", "math", 2, size=10, fault_plan={3: "off_by_one"})
    failed = system.record()
    want = failed.agent_steps()[3]
    write([failed], tmp_path / "failed.jsonl")
    for strategy in ("linear", "bisect", "prior"):
        _run("annotate", "replay", str(tmp_path / "failed.jsonl"), "--strategy", strategy, "--method", "first-speaker",
             "--out", str(tmp_path / f"{strategy}.jsonl"))
        (ann,) = read(tmp_path / f"{strategy}.jsonl")
        assert (ann.gold.step, ann.gold.agent, ann.source) == (want.index, want.agent, "replay")
    bad = runner.invoke(app, ["annotate", "replay", str(tmp_path / "failed.jsonl"), "--strategy", "nope"])
    assert bad.exit_code == 2 and "unknown strategy" in bad.output

    clean = GeneratedSystem.create("python", "tools", 2, size=8, fault_plan={}).record()
    write([clean], tmp_path / "ok.jsonl")
    router = next(s for s in clean.agent_steps() if s.agent == "Router")
    text = _run("inject", str(tmp_path / "ok.jsonl"), "--fault", "wrong_handoff", "--step", str(router.index),
                "--out", str(tmp_path / "inj.jsonl"))
    assert "fails" in text
    (inj,) = read(tmp_path / "inj.jsonl")
    assert inj.fault_type == "wrong_handoff" and inj.gold.step == router.index and inj.trace.outcome == "failure"
    bad = runner.invoke(app, ["inject", str(tmp_path / "ok.jsonl"), "--fault", "nope", "--step", "0"])
    assert bad.exit_code == 2

    res = runner.invoke(app, ["attribute", str(tmp_path / "failed.jsonl"), "--method", "first-speaker", "--verify", "--json"])
    assert res.exit_code == 0, res.output
    (att,) = json.loads(res.output)
    assert att["metadata"]["verified"] is False and att["metadata"]["verification"]["decisive_step"] == want.index
    text = _run("attribute", str(tmp_path / "failed.jsonl"), "--method", "first-speaker", "--verify")
    assert "replay check: refuted" in text


class _ScriptedServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible chat server whose agents answer like the math domain's correct agents."""

    task = None
    requests: list[dict] = []

    def log_message(self, *args) -> None:  # quiet
        return None

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        msgs = body["messages"]
        agent = re.search(r"You are (\w+),", msgs[0]["content"]).group(1)
        transcript = []
        for m in msgs[2:-1]:
            who, _, said = m["content"].partition(": ")
            transcript.append(Turn(who, said))
        text = MathDomain().act(agent, type(self).task, transcript)
        out = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def test_generate_drives_real_llm_agents_through_an_openai_compatible_endpoint(tmp_path: Path) -> None:
    (item,) = plan_items(["python"], ["math"], 1, size=5)
    _ScriptedServer.task = GeneratedSystem.create("python", "math", item.seed, size=5).spec.task
    _ScriptedServer.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ScriptedServer)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        _run("annotate", "generate", "--framework", "python", "--domain", "math", "--n", "1", "--size", "5",
             "--base-url", url, "--model", "scripted-llm", "--out", str(tmp_path / "llm"))
    finally:
        server.shutdown()
    (entry,) = Ledger(tmp_path / "llm").entries()
    assert entry["status"] == "injection", entry  # the LLM agents solved it; an injected fault broke it
    (ann,) = Ledger(tmp_path / "llm").read_annotations()
    calls = [s for s in ann.trace.steps if s.kind == "llm_call"]
    assert calls and all(s.metadata.get("model") == "scripted-llm" for s in calls)
    assert ann.trace.metadata["agentracer.generated"]["base_url"] == url
    n_agents = len(ann.trace.agent_steps())
    # the recorded run asked the server once per agent step; the injected re-run only for the suffix
    assert n_agents < len(_ScriptedServer.requests) < 2 * n_agents
    # the prefix of the injected re-run was served by the record/replay layer, not asked again
    assert ann.metadata["live_calls_before_fork"] == 0
    prefix = sum(1 for s in calls if s.parent < ann.gold.step)
    assert len(_ScriptedServer.requests) == n_agents + (n_agents - prefix - 1)
    # the stored sample does not give its label away (no fork or replay markers)
    assert not any("served_from" in s.replay or "overridden" in s.replay or "replaced" in s.metadata
                   for s in ann.trace.steps) and "fork" not in ann.trace.metadata
