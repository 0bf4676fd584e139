"""One error style in every command: `agentracer: error: MESSAGE`, one line on stderr, a non-zero exit, no
traceback — for usage errors (click's), bad input, a command body's own checks and unwritable files; and a
long message stays one line when stderr is a pipe (the terminal folds it, a log keeps it whole)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from agentracer.cli import app
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = str(ROOT / "tests" / "data" / "openinference" / "lg_react.json")  # outcome unknown


def _cases(tmp: Path) -> list[tuple[list[str], int, str]]:
    out = str(tmp / "o.jsonl")
    return [
        (["nosuch"], 2, "No such command 'nosuch'"),
        (["import", FIXTURE], 2, "Missing option '--out'"),
        (["import", str(tmp / "missing.json"), "-o", out], 2, "no such file"),
        (["import", FIXTURE, "-o", out, "--outcome", "broken"], 2, "--outcome 'broken'"),
        (["export", FIXTURE, "-o", out, "--attribute"], 2, "--attribute and --project go with --endpoint"),
        (["export", FIXTURE, "-o", out, "-f", "yaml"], 2, "yaml"),
        (["export", FIXTURE, "-o", "/proc/agentracer-test/x.jsonl"], 1, "/proc/agentracer-test"),
        (["show", FIXTURE, "--steps", "x:y"], 2, "--steps 'x:y'"),
        (["show", FIXTURE, "--index", "9"], 2, "--index 9 is out of range"),
        (["attribute", FIXTURE, "-m", "nope"], 2, "unknown attribution method 'nope'"),
        (["eval"], 2, "give one set to score"),
        (["eval", FIXTURE, "--folds", "many"], 2, "Invalid value for '--folds'"),
        (["eval", str(tmp / "missing")], 2, "missing"),
        (["eval", FIXTURE, FIXTURE, "--leave-one-out", "--train", FIXTURE], 2, "do not give --train"),
        (["inject", FIXTURE, "--fault", "nope", "--step", "0"], 2, "unknown fault 'nope'"),
        (["inject", FIXTURE, "--fault", "off_by_one", "--step", "0"], 2, "inject needs a successful run"),
        (["annotate", "replay", FIXTURE, "--strategy", "nope"], 2, "unknown strategy 'nope'"),
        (["annotate", "generate", "--framework", "nope", "-o", str(tmp / "g")], 2, "unknown framework"),
        (["train", "--config", str(tmp / "missing.yaml")], 2, "missing.yaml"),
        (["report", FIXTURE, "--index", "3", "-o", str(tmp / "r.html")], 2, "--index 3 is out of range"),
        (["refine"], 2, "pass --demo"),
        (["refine", "--demo", "--framework", "[x]"], 2, "--framework [x]: refine runs on"),  # not eaten as markup
        (["refine", "--demo", "--tasks", str(tmp / "missing.jsonl")], 2, "missing.jsonl"),
        (["data", "who-and-when", "-o", str(tmp / "d"), "--subset", "Other"], 1, "unknown subset 'Other'"),
    ]


def test_every_command_error_is_one_agentracer_error_line(tmp_path: Path) -> None:
    seen = set()
    for args, code, words in _cases(tmp_path):
        r = CliRunner().invoke(app, args)
        where = f"agentracer {' '.join(args)}"
        assert r.exit_code == code, f"{where}: exit {r.exit_code}\n{r.output}"
        assert r.exception is None or isinstance(r.exception, SystemExit), f"{where}: {r.exception!r}"
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower()]
        assert len(errors) == 1 and errors[0].startswith("agentracer: error: "), f"{where}: {r.stderr!r}"
        assert words in errors[0], f"{where}: {errors[0]!r}"
        assert "Traceback" not in r.output and "╭" not in r.stderr, where  # no click error box either
        seen.add(args[0])
    # every command is covered, except `plugins` and `demo`, which take no input that can be wrong
    import typer

    commands = set(typer.main.get_command(app).commands)
    assert commands - seen == {"plugins", "demo"}


def test_an_error_stays_one_line_in_a_pipe() -> None:
    many = ",".join(f"framework{i}" for i in range(30))  # a 400-character message
    p = subprocess.run([sys.executable, "-m", "agentracer.cli", "refine", "--demo", "--framework", many],
                       capture_output=True, text=True, timeout=120, env=_env_without_columns())
    assert p.returncode == 2
    (line,) = p.stderr.strip().splitlines()
    assert line.startswith("agentracer: error: --framework framework0,") or line.startswith("agentracer: error: --framework framework0")
    assert "framework29" in line and len(line) > 300 and p.stdout == ""


def _env_without_columns() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}


def test_no_command_body_prints_its_own_error_prefix() -> None:
    """The style lives in one place (agentracer.cli.common.error_line); bodies raise CommandError."""
    pkg = ROOT / "agentracer_core" / "agentracer"
    bad = [str(p.relative_to(pkg)) for p in pkg.rglob("*.py")
           if p.name != "common.py" and re.search(r"""print\(f?["']\[bold red\]error""", p.read_text())]
    assert bad == []


@pytest.mark.parametrize("args", [["--help"], ["data", "--help"], ["annotate"]])
def test_help_and_bare_groups_are_not_errors(args: list[str]) -> None:
    r = CliRunner().invoke(app, args)
    assert "agentracer: error" not in r.output
    assert "Usage" in r.output


@pytest.mark.parametrize("cmd", [["import"], ["export"], ["attribute"], ["eval"], ["inject"], ["annotate", "replay"]])
def test_usage_lines_name_the_argument_SRC(cmd: list[str]) -> None:
    r = CliRunner().invoke(app, [*cmd, "--help"], env={"COLUMNS": "200"})
    usage = next(ln for ln in r.output.splitlines() if "Usage:" in ln)
    assert "SRC" in usage and "{src}" not in usage  # Typer 0.29 writes a required argument as {SRC}


def test_a_library_warning_prints_as_one_line_without_a_source_path(tmp_path: Path) -> None:
    """``report`` of a trace whose outcome is unknown warns through Python's warnings: the command prints it
    as ``warning: …``, not as ``/path/pages.py:70: UserWarning`` plus a source line."""
    from agentracer.formats import write
    from agentracer.trace import Step, Trace

    steps = [Step(index=i, agent=a, role="assistant", kind="agent_message", content=f"turn {i} of {a}")
             for i, a in enumerate(["planner", "solver"])]
    write(Trace(run_id="r1", task="t", framework="x", outcome="unknown", steps=steps), tmp_path / "t.jsonl")
    p = subprocess.run([sys.executable, "-m", "agentracer.cli", "report", str(tmp_path / "t.jsonl"), "--all",
                        "-o", str(tmp_path / "rep" / "index.html")], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "warning: " in p.stderr and "outcome unknown" in p.stderr
    assert "UserWarning" not in p.stderr and ".py:" not in p.stderr
