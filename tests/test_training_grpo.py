"""GRPO smoke test on a tiny local Qwen3, the `agentracer train` launcher, and every recipe config.

The smoke test trains for real (SFT warm-up + a few GRPO steps on CPU), then loads the saved checkpoint into
the transformers attribution backend. It takes about 20-30 s on a 2-core CPU.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from agentracer.training.config import ConfigError, config_from_dict, load_config  # noqa: E402
from agentracer.training.grpo import build_grpo_config, build_sft_config, grpo_kwargs, train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "agentracer_core" / "agentracer" / "training" / "recipes").glob("*.yaml"))
COMPONENTS = ("agent_reward", "step_reward", "format_reward")


def _smoke_dict(out: Path, model: str, **extra: object) -> dict:
    d = {
        "model": model,
        "dataset": "synthetic:16",
        "output_dir": str(out),
        "limit": 8,
        "prompt": {"max_prompt_tokens": 1024},
        "reward": {"agent_weight": 1.0, "step_weight": 1.0, "format_weight": 0.2, "sigma": 1.0},
        "sft": {"max_steps": 80, "learning_rate": 5e-3, "per_device_train_batch_size": 4},
        "grpo": {
            "max_steps": 3,
            "per_device_train_batch_size": 4,
            "num_generations": 4,
            "max_completion_length": 32,
            "learning_rate": 1e-4,
            "temperature": 0.7,
            "save_strategy": "no",
        },
    }
    d.update(extra)
    return d


def test_grpo_smoke_trains_logs_saves_and_attributes(tiny_qwen3: Path, tmp_path: Path) -> None:
    """SFT warm-up + 3 GRPO steps: finite loss, each reward logged, checkpoint loads into the tracer."""
    from agentracer.attribution import get_attributor
    from agentracer.trace import Attribution
    from agentracer.training.data import synthetic_traces
    from transformers import AutoModelForCausalLM

    cfg = config_from_dict(_smoke_dict(tmp_path / "run", str(tiny_qwen3)), base_dir=tmp_path)
    result = train(cfg, quiet=True)

    steps = [r for r in result.log_history if "rewards/agent_reward/mean" in r]
    assert len(steps) == 3
    for rec in steps:
        assert math.isfinite(rec["loss"])
        for name in COMPONENTS:  # each component logged under its own name
            assert 0.0 <= rec[f"rewards/{name}/mean"] <= 1.0
        assert math.isfinite(rec["reward"])
    # the warm-up makes the format reachable, so the rewards are not all zero
    assert max(r["rewards/format_reward/mean"] for r in steps) > 0
    assert result.sft_log_history and math.isfinite(result.sft_log_history[0]["loss"])

    ckpt = result.checkpoint
    assert ckpt == tmp_path / "run" / "final"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "generation_config.json", "agentracer.json"):
        assert (ckpt / name).is_file(), name
    meta = json.loads((ckpt / "agentracer.json").read_text())
    assert meta["reward"]["sigma"] == 1.0 and meta["steps"] == 3
    logged = json.loads((tmp_path / "run" / "log_history.json").read_text())
    assert len(logged["grpo"]) >= 3 and logged["sft"]

    model = AutoModelForCausalLM.from_pretrained(ckpt)
    assert type(model).__name__ == "Qwen3ForCausalLM"

    tracer = get_attributor(f"transformers:{ckpt}?max_new_tokens=32")
    item = synthetic_traces(1, seed=99)[0]
    att = tracer.attribute(item.trace)
    assert isinstance(att, Attribution)
    assert att.method.startswith("transformers:")
    assert att.raw is not None


def test_lora_and_single_sum_reward(tiny_qwen3: Path, tmp_path: Path) -> None:
    """LoRA (merged on save) with the one-function weighted reward: components logged via log_metric."""
    d = _smoke_dict(tmp_path / "lora", str(tiny_qwen3), peft={"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]})
    d["sft"] = None
    d["reward"] = {"mode": "sum", "sigma": 2.0}
    d["grpo"]["max_steps"] = 2
    cfg = config_from_dict({k: v for k, v in d.items() if v is not None}, base_dir=tmp_path)
    assert "reward_weights" not in grpo_kwargs(cfg)
    result = train(cfg, quiet=True)
    steps = [r for r in result.log_history if "rewards/tracer_reward/mean" in r]
    assert len(steps) == 2 and all(math.isfinite(r["loss"]) for r in steps)
    assert all("tracer/format" in r and "tracer/agent" in r for r in steps)
    # merged: a plain model folder, no adapter
    assert (result.checkpoint / "model.safetensors").is_file()
    assert not (result.checkpoint / "adapter_config.json").exists()


def test_cli_runs_the_cpu_smoke_recipe(tmp_path: Path) -> None:
    """`agentracer train --config FILE` on the shipped cpu-smoke recipe (only output_dir redirected)."""
    import yaml
    from agentracer.cli import app
    from typer.testing import CliRunner

    recipe = yaml.safe_load((ROOT / "agentracer_core" / "agentracer" / "training" / "recipes" / "cpu-smoke.yaml").read_text())
    assert recipe["model"] == "tiny"
    recipe["output_dir"] = str(tmp_path / "smoke")
    cfg_file = tmp_path / "cpu-smoke.yaml"
    cfg_file.write_text(yaml.safe_dump(recipe))
    res = CliRunner().invoke(app, ["train", "--config", str(cfg_file)])
    assert res.exit_code == 0, res.output
    assert "rewards/format_reward/mean" in res.output and "checkpoint ->" in res.output
    assert (tmp_path / "smoke" / "final" / "model.safetensors").is_file()
    assert (tmp_path / "smoke" / "base-model" / "config.json").is_file()  # `model: tiny` was built there


def test_cli_bad_config_exits_2(tmp_path: Path) -> None:
    from agentracer.cli import app
    from typer.testing import CliRunner

    bad = tmp_path / "bad.yaml"
    bad.write_text("model: tiny\nrewardz: {}\n")
    res = CliRunner().invoke(app, ["train", "--config", str(bad)])
    assert res.exit_code == 2
    assert "rewardz" in res.output and "bad.yaml" in res.output


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        ({"reward": {"mode": "product"}}, "reward.mode"),
        ({"reward": {"sigma": 0}}, "reward"),
        ({"grpo": {"output_dir": "x"}}, "grpo.output_dir"),
        ({"grpo": {"not_a_field": 1}}, "grpo"),
        ({"grpo": {"num_generations": 3, "per_device_train_batch_size": 4}}, "grpo"),
        ({"prompt": {"max_prompt_tokens": 8}}, "prompt.max_prompt_tokens"),
        ({"dataset": []}, "dataset"),
        ({"model": "random:qwen3-999b"}, "model"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, patch: dict, key: str) -> None:
    f = tmp_path / "r.yaml"
    f.write_text("model: tiny\n")
    with pytest.raises(ConfigError) as ei:
        cfg = load_config(f, patch)
        build_grpo_config(cfg)
    assert ei.value.key == key
    assert str(f) in str(ei.value)


def test_relative_paths_resolve_from_the_repo_root() -> None:
    cfg = load_config(ROOT / "agentracer_core" / "agentracer" / "training" / "recipes" / "cpu-smoke.yaml")
    assert cfg.base_dir == ROOT
    assert cfg.output_dir == ROOT / "runs" / "cpu-smoke"


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_every_recipe_is_a_valid_grpo_config(recipe: Path) -> None:
    """Each shipped recipe parses and builds a TRL GRPOConfig (and SFTConfig when it has a warm-up)."""
    from trl import GRPOConfig, SFTConfig

    cfg = load_config(recipe)
    args = build_grpo_config(cfg)
    assert isinstance(args, GRPOConfig)
    assert args.remove_unused_columns is False
    assert args.chat_template_kwargs == {"enable_thinking": cfg.enable_thinking}
    if cfg.reward_mode == "components":
        assert list(args.reward_weights) == cfg.reward.weights
    assert args.per_device_train_batch_size * args.gradient_accumulation_steps % args.num_generations == 0 or (
        args.generation_batch_size or 0
    ) % args.num_generations == 0
    if cfg.sft is not None:
        assert isinstance(build_sft_config(cfg), SFTConfig)
    if args.use_vllm:
        assert args.vllm_mode in ("colocate", "server")
