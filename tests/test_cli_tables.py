"""Tables at 80 columns keep names whole (no "…", each name on one line) and wrap the other columns."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from agentracer import cli
from rich.console import Console
from typer.testing import CliRunner


def test_plugins_table_at_80_columns_keeps_names_and_hints_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.console, "width", 80)
    r = CliRunner().invoke(cli.app, ["plugins"])
    assert r.exit_code == 0, r.output
    assert "…" not in r.output and max(len(ln) for ln in r.output.splitlines()) <= 80
    for name in ("autogen-agentchat", "AutoGen AgentChat", "MaAS (not on PyPI)", "- (not a package)", "langgraph"):
        assert name in r.output, name
    hint = " ".join(r.output.split("to use maas:", 1)[1].split())  # the hint under the table, word-wrapped
    assert "not a package" in hint and "MAAS_PATH" in hint


def _row(qid: str, agents: list[str], mistake: int) -> dict:
    return {"question": "q", "question_ID": qid, "ground_truth": "1", "is_correct": False,
            "history": [{"content": f"turn {i}", "role": "assistant", "name": a} for i, a in enumerate(agents)],
            "mistake_agent": agents[mistake], "mistake_step": str(mistake), "mistake_reason": "wrong"}


def test_eval_table_keeps_long_method_and_subset_names_whole(tmp_path: Path) -> None:
    from agentracer.evaluation import evaluate, load_items
    from agentracer.evaluation.table import print_report

    long_subset = "langgraph-annotations-2026"
    for sub in (long_subset, "Hand-Crafted"):
        (tmp_path / sub).mkdir()
        for i in range(2):
            (tmp_path / sub / f"{i}.json").write_text(json.dumps(_row(f"{sub}-{i}", ["Planner", "Coder_Expert"], i)))
    items, _ = load_items(tmp_path)
    rep = evaluate(items, "first-speaker", folds=0)
    long_method = "openai:qwen3-8b@http://10.0.0.7:8000/v1"
    rep["method"] = long_method
    buf = io.StringIO()
    print_report(rep, Console(file=buf, width=80))
    out = buf.getvalue()
    lines = out.splitlines()
    assert "…" not in out and max(len(ln) for ln in lines) <= 80
    assert any(long_method in ln for ln in lines[1:])  # in the table's method column, on one line
    assert any(long_subset in ln and "%" in ln for ln in lines)  # a per-subset row, whole
    assert all(ln.count("%") in (0, 3, 4) for ln in lines if "│" in ln)  # no number folded over two lines


def test_show_table_at_80_columns_wraps_a_long_agent_name_instead_of_cutting_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentracer.formats import write
    from agentracer.trace import Step, Trace

    name = "A helpful assistant that can search the web"
    steps = [Step(index=0, agent=name, role="assistant", kind="agent_message", content="looked it up " * 20)]
    write(Trace(run_id="r1", task="t", framework="x", outcome="failure", steps=steps), tmp_path / "t.jsonl")
    monkeypatch.setattr(cli.console, "width", 80)
    r = CliRunner().invoke(cli.app, ["show", str(tmp_path / "t.jsonl")])
    assert r.exit_code == 0, r.output
    assert "…" not in r.output and max(len(ln) for ln in r.output.splitlines()) <= 80
    cells = [ln.split("│")[2].strip() for ln in r.output.splitlines() if ln.count("│") >= 5]
    assert " ".join(c for c in cells if c) == name  # the agent column, read down its wrapped lines
