"""CLI rough edges of daily use: show pages and summarises long and multi-trace files, report --index,
a cut-off file names the byte, every option of every command has a help text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from agentracer.cli import app
from agentracer.formats.jsonl import write_jsonl
from agentracer.trace import Step, Trace
from typer.testing import CliRunner


def _trace(rid: str, n: int) -> Trace:
    tr = Trace(run_id=rid, task="t", framework="x", outcome="failure")
    for i in range(n):
        parent = None if i % 3 == 0 else i - i % 3
        tr.add_step(Step(index=i, agent=("a", "b")[(i // 3) % 2], kind="agent_message" if parent is None else "llm_call",
                         content=f"content {i}", parent=parent))
    return tr


@pytest.fixture()
def two_traces(tmp_path: Path) -> Path:
    return write_jsonl([_trace("first", 120), _trace("second", 7)], tmp_path / "two.jsonl")


def _rows(output: str) -> list[int]:
    return [int(line.split("│")[1].split()[0]) for line in output.splitlines() if line.startswith("│")]


def test_show_pages_with_summary(two_traces: Path) -> None:
    r = CliRunner().invoke(app, ["show", str(two_traces)])
    assert r.exit_code == 0, r.output
    assert "trace 1 of 2" in r.output and "120 steps" in r.output
    assert "a: 60 (llm_call 40, agent_message 20)" in r.output
    assert _rows(r.output) == list(range(50))  # the default page
    assert "--steps 50:100" in r.output
    r = CliRunner().invoke(app, ["show", str(two_traces), "--steps", "100:", "--limit", "5"])
    assert _rows(r.output) == [100, 101, 102, 103, 104]
    r = CliRunner().invoke(app, ["show", str(two_traces), "--index", "1", "--limit", "0"])
    assert "trace 2 of 2" in r.output and _rows(r.output) == list(range(7))
    r = CliRunner().invoke(app, ["show", str(two_traces), "--index", "2"])
    assert r.exit_code == 2 and "out of range" in r.output
    r = CliRunner().invoke(app, ["show", str(two_traces), "--steps", "x:y"])
    assert r.exit_code == 2 and "--steps" in r.output


def test_report_index(two_traces: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    r = CliRunner().invoke(app, ["report", str(two_traces), "--index", "1", "-o", str(out), "-m", "first-speaker"])
    assert r.exit_code == 0, r.output
    assert "trace 2 of 2" in r.output and "second" in out.read_text()


def test_only_line_cut_says_truncated_at_byte(tmp_path: Path) -> None:
    line = json.dumps({"type": "trace", **_trace("r", 2).to_dict()})
    path = tmp_path / "cut.jsonl"
    path.write_text(line[:40])
    r = CliRunner().invoke(app, ["show", str(path)])
    assert r.exit_code == 2
    assert "truncated" in r.output and "byte 40" in r.output


def _commands(group: typer.Typer):
    cmd = typer.main.get_command(group)
    stack = [("", cmd)]
    while stack:
        prefix, c = stack.pop()
        if hasattr(c, "commands"):
            stack.extend((f"{prefix} {k}".strip(), v) for k, v in c.commands.items())
        else:
            yield prefix, c


def test_every_option_has_help() -> None:
    missing = [f"{name} {p.opts[0]}" for name, c in _commands(app) for p in c.params
               if p.param_type_name == "option" and not (p.help or "").strip()]
    assert missing == []


def test_inject_help_lists_every_fault() -> None:
    from agentracer.annotation.inject import FAULTS
    from agentracer.cli import _FAULT_NAMES

    assert tuple(FAULTS) == _FAULT_NAMES


def test_inject_refuses_a_trace_that_did_not_succeed(tmp_path: Path) -> None:
    src = write_jsonl([_trace("failed-run", 3)], tmp_path / "f.jsonl")
    r = CliRunner().invoke(app, ["inject", str(src), "--fault", "off_by_one", "--step", "0", "-o", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 2
    assert "outcome failure" in r.output and "success" in r.output
    assert not (tmp_path / "o.jsonl").exists()


def test_refine_table_keeps_method_names_whole_at_80_columns() -> None:
    from types import SimpleNamespace

    from agentracer.refinement.outputs import results_table
    from rich.console import Console

    labels = ["generic reflection", "tracer (embedded)", "tracer (oracle)", "tracer (openai:gpt-4o-mini)"]
    rs = [SimpleNamespace(label=lb, accuracies=[0.5, 0.55, 0.6, 0.61], eval_accuracies=[0.5, 0.6],
                          rounds=[SimpleNamespace(accepted=True)] * 4) for lb in labels]
    console = Console(width=80, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(results_table({"langgraph": rs}, simulated=True))
    text = console.export_text()
    for lb in labels:
        assert lb in text, text
