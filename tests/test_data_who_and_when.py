"""`agentracer data who-and-when`: conversion of the Hugging Face rows into the layout `eval` reads, the manual
route (--from), and the one-line offline error. No network: the rows are built here, the parquet file is
written here with the real `datasets`, and the offline test runs with Hugging Face's offline switches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from agentracer.cli import app
from agentracer.data import DataError, fetch_who_and_when
from agentracer.formats import read
from agentracer.trace import AnnotatedTrace
from typer.testing import CliRunner

ALG = [  # Algorithm-Generated shape: agent in `name`, is_correct, system_prompt
    {"question": "How many clients?", "question_ID": "q-1", "level": "2", "ground_truth": "8", "is_correct": False,
     "history": [{"content": "plan it", "role": "assistant", "name": "Planner"},
                 {"content": "count = 7", "role": "user", "name": "Excel_Expert"},
                 {"content": "TERMINATE", "role": "assistant", "name": "Planner"}],
     "mistake_agent": "Excel_Expert", "mistake_step": "1", "mistake_reason": "counted wrong",
     "system_prompt": {"Excel_Expert": "You count.", "Planner": "You plan."}},
    {"question": "Which year?", "question_ID": "q-2", "level": "1", "ground_truth": "1999", "is_correct": False,
     "history": [{"content": "look up", "role": "assistant", "name": "Searcher"},
                 {"content": "1998", "role": "user", "name": "Checker"}],
     "mistake_agent": "Searcher", "mistake_step": "0", "mistake_reason": "wrong query",
     "system_prompt": {"Searcher": "You search."}},
]
HAND = [  # Hand-Crafted shape: agent in `role`, no `name`, is_corrected, no system_prompt
    {"question": "Find the menu", "question_ID": "h-1", "level": "3", "ground_truth": "soup", "is_corrected": False,
     "history": [{"content": "plan", "role": "Orchestrator (thought)"},
                 {"content": "clicked", "role": "WebSurfer"}],
     "mistake_agent": "WebSurfer", "mistake_step": "1", "mistake_reason": "wrong page"},
]


def _as_arrow_rows(rows: list[dict]) -> list[dict]:
    """The rows as `datasets` gives them back: every dict column a struct holding the union of keys."""
    import datasets

    return list(datasets.Dataset.from_list(rows))


def _check_layout(out: Path) -> None:
    alg = read(out / "Algorithm-Generated")
    assert [x.trace.run_id for x in alg] == ["q-1", "q-2"]
    assert all(isinstance(x, AnnotatedTrace) and x.trace.outcome == "failure" for x in alg)
    assert (alg[0].gold.agent, alg[0].gold.step) == ("Excel_Expert", 1)
    assert (alg[1].gold.agent, alg[1].gold.step) == ("Searcher", 0)
    assert [s.agent for s in alg[0].trace.steps] == ["Planner", "Excel_Expert", "Planner"]
    rec = json.loads((out / "Algorithm-Generated" / "2.json").read_text())
    assert rec["system_prompt"] == {"Searcher": "You search."}  # Arrow's None for 'Excel_Expert', 'Planner' dropped
    assert rec["mistake_step"] == "0" and "is_corrected" not in rec
    hand = read(out / "Hand-Crafted")
    assert [s.agent for s in hand[0].trace.steps] == ["Orchestrator", "WebSurfer"]
    assert (hand[0].gold.agent, hand[0].gold.step) == ("WebSurfer", 1)
    assert "name" not in json.loads((out / "Hand-Crafted" / "1.json").read_text())["history"][0]
    assert "MIT" in (out / "LICENSE").read_text() and "Kevin355/Who_and_When" in (out / "SOURCE.md").read_text()


def test_rows_from_hugging_face_become_the_eval_layout(tmp_path: Path) -> None:
    calls = []

    def loader(repo: str, name: str, split: str, revision: str | None) -> list[dict]:
        calls.append((repo, name, split))
        return _as_arrow_rows(ALG if name == "Algorithm-Generated" else HAND)

    counts = fetch_who_and_when(tmp_path / "ww", loader=loader)
    assert counts == {"Algorithm-Generated": 2, "Hand-Crafted": 1}
    assert calls == [("Kevin355/Who_and_When", "Algorithm-Generated", "train"),
                     ("Kevin355/Who_and_When", "Hand-Crafted", "train")]
    _check_layout(tmp_path / "ww")


def test_cli_from_parquet_downloaded_by_hand_then_eval_reads_it(tmp_path: Path) -> None:
    import datasets

    dl = tmp_path / "download"
    dl.mkdir()
    datasets.Dataset.from_list(ALG).to_parquet(str(dl / "Algorithm-Generated.parquet"))
    datasets.Dataset.from_list(HAND).to_parquet(str(dl / "Hand-Crafted.parquet"))
    r = CliRunner().invoke(app, ["data", "who-and-when", "--from", str(dl), "--out", str(tmp_path / "ww")])
    assert r.exit_code == 0, r.output
    assert "Algorithm-Generated: 2 run(s)" in r.output and "agentracer eval" in r.output
    _check_layout(tmp_path / "ww")
    r = CliRunner().invoke(app, ["eval", str(tmp_path / "ww" / "Algorithm-Generated"), "--folds", "0",
                                 "--method", "first-speaker"])
    assert r.exit_code == 0, r.output
    assert "2" in r.output


def test_cli_from_json_folders_and_one_subset(tmp_path: Path) -> None:
    src = tmp_path / "Who&When" / "Hand-Crafted"
    src.mkdir(parents=True)
    (src / "1.json").write_text(json.dumps(HAND[0]))
    r = CliRunner().invoke(app, ["data", "who-and-when", "--from", str(tmp_path), "--subset", "Hand-Crafted",
                                 "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "out" / "Hand-Crafted" / "1.json").read_text()) == HAND[0]


@pytest.mark.parametrize("args, words", [
    (["--subset", "Other"], "unknown subset 'Other'"),
    (["--from", "/nonexistent/dl"], "no such file or folder"),
])
def test_cli_bad_input_is_one_line(tmp_path: Path, args: list[str], words: str) -> None:
    r = CliRunner().invoke(app, ["data", "who-and-when", "-o", str(tmp_path / "o"), *args])
    assert r.exit_code == 1
    assert words in r.output and "Traceback" not in r.output


def test_not_who_and_when_rows_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no 'history' list"):
        fetch_who_and_when(tmp_path, subsets=["Hand-Crafted"], loader=lambda *a, **k: [{"text": "hi"}])


def test_offline_says_the_manual_steps_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # stderr is a pipe: rich's width is 80
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    p = subprocess.run([sys.executable, "-m", "agentracer.cli", "data", "who-and-when", "--out", str(tmp_path / "ww")],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 1, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("agentracer: error: could not fetch Kevin355/Who_and_When")
    assert "github.com/ag2ai/Agents_Failure_Attribution" in lines[0] and "--from" in lines[0]
    assert not (tmp_path / "ww" / "Algorithm-Generated").exists()


def test_help_names_the_extra_verbatim() -> None:
    r = CliRunner().invoke(app, ["data", "who-and-when", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "pip install 'agentracer[data]'" in r.output  # not eaten as rich markup
