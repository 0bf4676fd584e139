"""GRPO on real weights: the ``gguf:`` model of a recipe (SmolLM2-135M-Instruct from its GGUF, dequantized
through transformers) with LoRA. One GRPO step of a few tokens: it checks the setup path (conversion, reuse,
LoRA, rewards logged, adapter saved), never whether the 135M model answers well. Skips when the weights
(``make real-llm``) or the ``gguf`` package are not installed.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from agentracer.training.config import ConfigError, config_from_dict, load_config  # noqa: E402
from agentracer.training.gguf import GGUFError, find_smollm2_gguf, resolve_gguf  # noqa: E402
from agentracer.training.grpo import prepare_model, train  # noqa: E402

needs_weights = pytest.mark.skipif(
    find_smollm2_gguf() is None or importlib.util.find_spec("gguf") is None,
    reason="SmolLM2 GGUF or the gguf package not installed (make real-llm)",
)


def test_gguf_specs_and_errors(tmp_path: Path) -> None:
    """A path is resolved from the recipe's folder; a missing file names what to do; an empty spec is refused."""
    cfg = config_from_dict({"model": "gguf:models/x.gguf"}, base_dir=tmp_path)
    assert cfg.model == f"gguf:{tmp_path / 'models' / 'x.gguf'}"
    assert config_from_dict({"model": "gguf:smollm2"}, base_dir=tmp_path).model == "gguf:smollm2"
    with pytest.raises(ConfigError, match="gguf:PATH"):
        config_from_dict({"model": "gguf:"}, base_dir=tmp_path)
    with pytest.raises(GGUFError, match="no such .gguf file"):
        resolve_gguf(cfg.model)
    missing = config_from_dict({"model": "gguf:nope.gguf", "output_dir": str(tmp_path / "o")}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="key 'model'"):
        prepare_model(missing)


@needs_weights
def test_smollm2_lora_one_grpo_step(tmp_path: Path) -> None:
    """The shipped recipe on a few synthetic traces, 1 GRPO step of 2 x 4 tokens: LoRA adapter saved."""
    cfg = load_config("cpu-smollm2-lora", overrides={
        "output_dir": str(tmp_path / "run"), "dataset": "synthetic:2", "limit": 2, "sft": None,
        "prompt": {"max_prompt_tokens": 160},
        "peft": {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]},
        "grpo": {"max_steps": 1, "per_device_train_batch_size": 2, "num_generations": 2,
                 "max_completion_length": 4, "learning_rate": 1e-4, "save_strategy": "no"},
    })
    base = Path(prepare_model(cfg))
    assert (base / "config.json").is_file() and (base / "tokenizer.json").is_file()
    stamp = json.loads((base / "agentracer-gguf.json").read_text())
    assert stamp["source"] == str(resolve_gguf("gguf:smollm2"))
    assert prepare_model(cfg) == str(base)  # converted once: the second call reuses the checkpoint
    result = train(cfg, quiet=True)
    logged = [r for r in result.log_history if "rewards/format_reward/mean" in r]
    assert len(logged) == 1
    for key in ("agent_reward", "step_reward", "format_reward"):
        assert 0.0 <= logged[0][f"rewards/{key}/mean"] <= 1.0
    assert (result.checkpoint / "adapter_config.json").is_file()  # merge_lora: false keeps the adapter
    assert json.loads((result.checkpoint / "agentracer.json").read_text())["base_model"] == "gguf:smollm2"
