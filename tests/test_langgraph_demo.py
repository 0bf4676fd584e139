"""`agentracer demo` and the LangGraph example run offline end to end."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

pytest.importorskip("langgraph")

from agentracer.formats import read  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_cli_demo(tmp_path) -> None:
    from agentracer.cli import app
    from typer.testing import CliRunner

    res = CliRunner().invoke(app, ["demo", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    for needle in ("planner", "solver", "verifier", "lookup_price", "failure", "attribution", "agent", "step",
                   "reason:", "scripted fault: agent solver, step 4", "JSONL", "OTLP JSON"):
        assert needle in out, needle
    jsonl, otlp = tmp_path / "demo-trace.jsonl", tmp_path / "demo-trace.otlp.json"
    assert str(jsonl) in out.replace(" ", "") or jsonl.name in out
    (tr,) = read(jsonl)
    assert tr.outcome == "failure" and tr.ground_truth == "8" and tr.final_answer == "5"
    assert [s.agent for s in tr.agent_steps()] == ["planner", "solver", "verifier"]
    assert "4 x $3 = $15" in tr.steps[4].content
    assert read(otlp) == [tr]


def test_run_demo_returns_a_summary(tmp_path) -> None:
    from agentracer.samples.demo import run_demo
    from rich.console import Console

    summary = run_demo(tmp_path, Console(file=open(tmp_path / "out.txt", "w")))  # noqa: SIM115
    assert summary["fault_step"] == 4 and summary["trace"].outcome == "failure"
    att = summary["attribution"]
    assert att.agent in summary["trace"].agents and att.step in [s.index for s in summary["trace"].agent_steps()]


def test_langgraph_example_runs(capsys) -> None:
    runpy.run_path(str(ROOT / "examples" / "langgraph_example.py"), run_name="__main__")
    out = " ".join(capsys.readouterr().out.split())
    assert "failure" in out and "attribution" in out
    assert "the failure goes away: the researcher step is decisive" in out
    assert "researcher model calls during the fork: 0" in out
    assert "with feedback: 'Final answer: The capital of Australia is Canberra.'" in out


def test_demo_system_is_the_langgraph_plugins_sample() -> None:
    """Core builds the demo through ``agentracer_sample("langgraph", "demo")``; the plugin's run gives the answer."""
    import agentracer
    from agentracer.hooks import get_sample
    from agentracer.samples.demo import DEMO_TASK, finish_demo_run
    from agentracer_langgraph.demo import demo_system

    assert get_sample("langgraph", "demo") is demo_system
    graph, run = demo_system()
    agentracer.instrument(graph)
    answer = run(graph, DEMO_TASK)
    trace = finish_demo_run(graph, answer)
    assert answer == "5" and trace.outcome == "failure" and trace.final_answer == "5" and trace.ground_truth == "8"
