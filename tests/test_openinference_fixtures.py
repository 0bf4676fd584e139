"""Real-instrumentor fixtures (tests/data/openinference, recorded by its record.py with the real
openinference-instrumentation-langchain / -autogen-agentchat / -openai on fake LLMs) import as their hand-written
truth files say: one trace per run, agents, step order, contents, LLM and tool calls, final answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agentracer.cli import app
from agentracer.formats import read
from agentracer.formats.whowhen import from_whowhen, to_whowhen
from agentracer.trace import Step, Trace
from typer.testing import CliRunner

DATA = Path(__file__).parent / "data" / "openinference"
NAMES = sorted(p.name[: -len(".truth.json")] for p in DATA.glob("*.truth.json"))


def _truth(name: str) -> dict:
    return json.loads((DATA / f"{name}.truth.json").read_text())


def test_there_are_seven_fixtures() -> None:
    assert NAMES == ["ag_magentic_one", "ag_round_robin", "ag_selector", "lg_plan_solve_verify", "lg_react", "lg_supervisor",
                     "oai_custom_agents"]


@pytest.mark.parametrize("name", NAMES)
def test_import_matches_truth(name: str) -> None:
    truth = _truth(name)
    traces = read(DATA / f"{name}.json")
    assert len(traces) == truth["traces"]  # AutoGen's create_agent spans (own trace ids) make no trace
    (tr,) = traces
    assert tr.framework == truth["framework"]
    assert tr.task == truth["task"]
    assert tr.agents == truth["agents"]
    assert tr.final_answer == truth["final_answer"]
    assert tr.run_id == tr.metadata["trace_id"]  # the run id is the trace's id
    assert tr.outcome == "unknown"
    got = [(s.agent, s.kind, s.tool_name, s.content) for s in tr.steps]
    want = truth["steps"]
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g[:3] == tuple(w[:3])
        assert g[3].startswith(w[3]) if w[4:] == ["prefix"] else g[3] == w[3]
    m = truth["mistake"]
    assert tr.steps[m["step"]].agent == m["agent"] and tr.steps[m["step"]].parent is None


def test_openai_client_calls_keep_model_usage_messages_and_tool_args() -> None:
    """The custom loop over the OpenAI client: LLM spans of openinference-instrumentation-openai under the
    user's own AGENT spans (decorator and context-manager styles, agent.name set by hand on one)."""
    (tr,) = read(DATA / "oai_custom_agents.json")
    llm = [s for s in tr.steps if s.kind == "llm_call"]
    assert [s.metadata["model"] for s in llm] == ["gpt-4o-mini"] * 4
    assert all(s.usage == {"input_tokens": 20, "output_tokens": 8} for s in llm)
    assert llm[0].metadata["messages"][0] == {"role": "system", "content": "You plan the work."}
    assert [m["role"] for m in llm[2].metadata["messages"]][-1] == "tool"  # the second call sees the tool result
    (tool,) = [s for s in tr.steps if s.kind == "tool_call"]
    assert tool.tool_args == {"city": "Lyon"} and tool.tool_result == 222 and tool.parent == 2
    assert tr.metadata["final_message"].endswith("Final answer: 2325")
    assert "sk-fixture" not in (DATA / "oai_custom_agents.json").read_text()  # the instrumentor keeps no API key


def test_supervisor_workers_carry_their_answer_not_the_handoff() -> None:
    (tr,) = read(DATA / "lg_supervisor.json")
    texts = [s.content for s in tr.agent_steps()]
    assert not any("Transferring back" in t for t in texts)
    assert "Lyon has 222 thousand inhabitants." in texts


@pytest.mark.parametrize("name", NAMES)
def test_cli_attribute_one_entry_per_run(name: str) -> None:
    r = CliRunner().invoke(app, ["attribute", str(DATA / f"{name}.json"), "--outcome", "failure", "--json"])
    assert r.exit_code == 0, r.output
    (entry,) = json.loads(r.output)
    (tr,) = read(DATA / f"{name}.json")
    assert entry["run_id"] == tr.run_id
    assert entry["agent"] in tr.agents and tr.steps[entry["step"]].agent == entry["agent"]


def test_import_outcome_option(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    r = CliRunner().invoke(app, ["import", str(DATA / "lg_react.json"), "-o", str(out), "--outcome", "failure"])
    assert r.exit_code == 0, r.output
    assert read(out)[0].outcome == "failure"
    r = CliRunner().invoke(app, ["import", str(DATA / "lg_react.json"), "-o", str(out), "--outcome", "broken"])
    assert r.exit_code == 2 and "--outcome" in r.output


@pytest.mark.parametrize("outcome", ["unknown", "failure", "success"])
def test_whowhen_keeps_unknown_outcome_and_missing_ground_truth(outcome: str) -> None:
    tr = Trace(run_id="r", task="q", framework="x", outcome=outcome, ground_truth=None)
    tr.add_step(Step(index=0, agent="a", content="hi"))
    d = to_whowhen(tr)
    assert d["ground_truth"] is None and d["is_correct"] == {"unknown": None, "failure": False, "success": True}[outcome]
    back = from_whowhen(json.loads(json.dumps(d)))
    assert back.outcome == outcome and back.ground_truth is None
