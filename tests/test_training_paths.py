"""Relative paths in a training recipe start from the current directory (docs/training.md), wherever the
recipe file lives: a recipe in another folder, one inside a repository (a pyproject.toml above it) and a
shipped recipe named by name all resolve the same way; and a real `agentracer train` run from another
folder writes its output there."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("yaml")

from agentracer.training.config import load_config  # noqa: E402

RECIPE = """\
model: tiny
dataset: synthetic:4
output_dir: runs/paths-test
limit: 4
seed: 0
prompt: {max_prompt_tokens: 512}
reward: {agent_weight: 1.0, step_weight: 1.0, format_weight: 0.2, sigma: 1.0}
grpo: {max_steps: 1, per_device_train_batch_size: 2, num_generations: 2, max_completion_length: 8,
       learning_rate: 1.0e-4, save_strategy: "no", gradient_checkpointing: false}
"""


@pytest.mark.parametrize("inside_a_repo", [False, True])
def test_recipe_paths_resolve_from_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         inside_a_repo: bool) -> None:
    recipes = tmp_path / "project" / "configs"
    recipes.mkdir(parents=True)
    if inside_a_repo:
        (tmp_path / "project" / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (recipes / "r.yaml").write_text(RECIPE.replace("synthetic:4", "data/traces.jsonl"))
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    cfg = load_config(recipes / "r.yaml")
    assert cfg.output_dir == work / "runs" / "paths-test"
    assert cfg.base_dir == work  # dataset files (data/traces.jsonl) are read from here too


def test_shipped_recipe_by_name_resolves_from_the_current_directory(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config("cpu-smoke").output_dir == tmp_path / "runs" / "cpu-smoke"


def test_a_train_run_from_another_folder_writes_under_that_folder(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("trl")
    from agentracer.cli import app
    from typer.testing import CliRunner

    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "tiny.yaml").write_text(RECIPE)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    r = CliRunner().invoke(app, ["train", "--config", str(recipes / "tiny.yaml")])
    assert r.exit_code == 0, r.output
    assert (work / "runs" / "paths-test" / "final" / "config.json").is_file()
    assert not (recipes / "runs").exists()
