"""GRPO training of a tracer with TRL: recipe config -> dataset -> (SFT warm-up) -> GRPO -> checkpoint.

A recipe is a YAML file (see the shipped ``agentracer/training/recipes/``)::

    model: tiny                      # a local path, a hub id, ``tiny`` (built here), random:qwen3-0.6b|qwen3-8b,
                                     # or gguf:PATH.gguf / gguf:smollm2 (real weights, dequantized once)
    dataset: synthetic:32            # or whowhen:DIR, a trace file/folder, a saved annotation dataset; or a list
    output_dir: runs/cpu-smoke       # relative paths are resolved from the current directory
    prompt: {max_prompt_tokens: 1024, enable_thinking: false, with_ground_truth: false}
    reward: {agent_weight: 1.0, step_weight: 1.0, format_weight: 0.2, sigma: 1.0, mode: components}
    sft: {max_steps: 10, learning_rate: 1.0e-3}       # optional SFT warm-up (SFTConfig fields)
    peft: {r: 16, lora_alpha: 32, target_modules: all-linear}   # optional LoRA (peft.LoraConfig fields)
    grpo: {num_generations: 4, max_completion_length: 32, max_steps: 3}   # GRPOConfig fields

:func:`~agentracer.training.config.load_config` reads and checks it (:class:`ConfigError` names the file and the key),
:func:`build_grpo_config` turns it into a ``trl.GRPOConfig``, and :func:`train` runs it end to end and
saves ``OUTPUT_DIR/final``: a plain (LoRA merged) ``transformers`` checkpoint with its tokenizer, chat
template and generation config, which ``agentracer attribute --method transformers:OUTPUT_DIR/final``
and ``vllm:OUTPUT_DIR/final`` load directly.

With ``reward.mode: components`` (default) the three rewards are separate TRL reward functions with
``reward_weights``, so TRL logs ``rewards/agent_reward/mean``, ``rewards/step_reward/mean`` and
``rewards/format_reward/mean`` beside the weighted ``reward``; ``mode: sum`` uses one ``tracer_reward``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import RANDOM_CONFIGS, ConfigError, TrainConfig
from .rewards import make_tracer_reward, reward_functions

__all__ = [
    "TrainResult",
    "build_grpo_config",
    "build_sft_config",
    "grpo_kwargs",
    "merge_lora",
    "prepare_model",
    "save_for_inference",
    "train",
]


@dataclass
class TrainResult:
    """What :func:`train` did: the inference checkpoint, the logs, and the time it took."""

    checkpoint: Path
    log_history: list[dict[str, Any]]
    sft_log_history: list[dict[str, Any]]
    train_rows: int
    seconds: float

    def last(self, key: str) -> float | None:
        """The last logged value of ``key`` (e.g. ``rewards/agent_reward/mean``), if any."""
        for rec in reversed(self.log_history):
            if key in rec:
                return rec[key]
        return None


# ------------------------------------------------------------------------------------------- trainer config
def _model_and_device_kwargs(kw: dict[str, Any], cfg: TrainConfig) -> None:
    """Trainer-config keywords shared by SFT and GRPO: model init options, and CPU without mixed precision
    when there is no CUDA device."""
    if cfg.model_init_kwargs:
        kw.setdefault("model_init_kwargs", dict(cfg.model_init_kwargs))
    if not _cuda():
        kw["use_cpu"] = True
        kw.setdefault("bf16", False)
        kw.setdefault("fp16", False)


def _cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:  # pragma: no cover
        return False


def grpo_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    """The ``GRPOConfig`` keyword arguments of a recipe: its ``grpo`` block plus what the launcher sets.

    The launcher sets ``output_dir``, ``reward_weights`` (components mode), ``chat_template_kwargs``
    (``enable_thinking``), ``remove_unused_columns=False`` (the rewards need the gold columns) and the seed;
    it defaults ``report_to`` to none and ``logging_steps`` to 1. On a machine without CUDA it adds
    ``use_cpu=True`` and, unless the recipe says otherwise, ``bf16=False``.
    """
    kw = dict(cfg.grpo)
    kw["output_dir"] = str(cfg.output_dir / "grpo")
    if cfg.reward_mode == "components":
        kw["reward_weights"] = cfg.reward.weights
    ctk = dict(kw.get("chat_template_kwargs") or {})
    ctk.setdefault("enable_thinking", cfg.enable_thinking)
    kw["chat_template_kwargs"] = ctk
    kw["remove_unused_columns"] = False
    kw.setdefault("report_to", "none")
    kw.setdefault("logging_steps", 1)
    kw.setdefault("seed", cfg.seed)
    _model_and_device_kwargs(kw, cfg)
    for key in ("learning_rate", "weight_decay", "beta", "epsilon", "epsilon_high", "temperature", "top_p", "warmup_steps"):
        if isinstance(kw.get(key), str):  # YAML reads 1e-6 (no dot) as a string
            try:
                kw[key] = float(kw[key])
            except ValueError:
                raise ConfigError(f"not a number: {kw[key]!r}", file=cfg.source, key=f"grpo.{key}") from None
    return kw


def build_grpo_config(cfg: TrainConfig) -> Any:
    """A ``trl.GRPOConfig`` for the recipe (TRL's own checks run here; errors become :class:`ConfigError`)."""
    from trl import GRPOConfig

    try:
        return GRPOConfig(**grpo_kwargs(cfg))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"invalid GRPOConfig: {e}", file=cfg.source, key="grpo") from None


def build_sft_config(cfg: TrainConfig) -> Any:
    """A ``trl.SFTConfig`` for the warm-up (``sft`` block), or None when the recipe has none."""
    if cfg.sft is None:
        return None
    from trl import SFTConfig

    kw = dict(cfg.sft)
    kw["output_dir"] = str(cfg.output_dir / "sft")
    kw.setdefault("report_to", "none")
    kw.setdefault("logging_steps", 1)
    kw.setdefault("save_strategy", "no")
    kw.setdefault("seed", cfg.seed)
    kw.setdefault("completion_only_loss", True)
    # never truncate the answer away: room for the prompt, the answer and a think block
    kw.setdefault("max_length", cfg.max_prompt_tokens + int(cfg.grpo.get("max_completion_length", 256)) + 64)
    if isinstance(kw.get("learning_rate"), str):
        kw["learning_rate"] = float(kw["learning_rate"])
    _model_and_device_kwargs(kw, cfg)
    try:
        return SFTConfig(**kw)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"invalid SFTConfig: {e}", file=cfg.source, key="sft") from None


def _lora_config(cfg: TrainConfig) -> Any:
    if not cfg.peft:
        return None
    from peft import LoraConfig

    kw = dict(cfg.peft)
    kw.setdefault("task_type", "CAUSAL_LM")
    try:
        return LoraConfig(**kw)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"invalid LoraConfig: {e}", file=cfg.source, key="peft") from None


# ------------------------------------------------------------------------------------------- model
def _build_random(name: str, out: Path, seed: int) -> Path:
    """A randomly initialised Qwen3 of a public config's size, with the tiny tokenizer padded to its vocab."""
    if (out / "config.json").exists() and any(out.glob("*.safetensors")):
        return out
    import torch
    from transformers import AutoTokenizer, GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    from ..testing import build_tiny_qwen3

    tok_dir = build_tiny_qwen3(out.parent / "tokenizer-source")
    tok = AutoTokenizer.from_pretrained(tok_dir)
    dims = dict(RANDOM_CONFIGS[name])
    tok.add_tokens([f"<|r{i}|>" for i in range(dims["vocab_size"] - len(tok))])
    cfg = Qwen3Config(**dims, max_position_embeddings=40960, rope_theta=1_000_000.0, bos_token_id=None,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Qwen3ForCausalLM(cfg).to(torch.bfloat16)
    model.generation_config = GenerationConfig(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                                               do_sample=True, max_new_tokens=64)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    del model
    return out


def prepare_model(cfg: TrainConfig) -> str:
    """The model to train, as a path or hub id: builds ``tiny`` / ``random:SIZE`` under ``output_dir``, and
    dequantizes ``gguf:...`` there once (:mod:`agentracer.training.gguf`)."""
    if cfg.model == "tiny":
        from ..testing import build_tiny_qwen3

        return str(build_tiny_qwen3(cfg.output_dir / "base-model", seed=cfg.seed, **cfg.tiny))
    if cfg.model.startswith("gguf:"):
        from .gguf import GGUFError, dequantize_gguf, resolve_gguf

        try:
            return str(dequantize_gguf(resolve_gguf(cfg.model, base_dir=cfg.base_dir), cfg.output_dir / "base-model"))
        except GGUFError as e:
            raise ConfigError(str(e), file=cfg.source, key="model") from None
    if cfg.model.startswith("random:"):
        return str(_build_random(cfg.model.split(":", 1)[1], cfg.output_dir / "base-model", cfg.seed))
    return cfg.model


def _load_tokenizer(model: str) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if not getattr(tok, "chat_template", None):
        from ..attribution.chat_template import QWEN3_CHAT_TEMPLATE

        tok.chat_template = QWEN3_CHAT_TEMPLATE
    return tok


def merge_lora(model: Any) -> Any:
    """A PEFT model with its LoRA weights merged into the base (a plain transformers model); others unchanged."""
    if hasattr(model, "merge_and_unload") and hasattr(model, "peft_config"):
        return model.merge_and_unload()
    return model


def save_for_inference(model: Any, tokenizer: Any, out: Path, *, meta: dict[str, Any] | None = None) -> Path:
    """Save a checkpoint the tracer backends load directly: merged weights, tokenizer + chat template,
    a generation config that stops at the tokenizer's EOS, and ``agentracer.json`` (training metadata)."""
    from transformers import GenerationConfig

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = merge_lora(model)
    gen = getattr(model, "generation_config", None) or GenerationConfig()
    eos = tokenizer.eos_token_id
    ids = gen.eos_token_id if isinstance(gen.eos_token_id, list) else ([gen.eos_token_id] if gen.eos_token_id is not None else [])
    if eos is not None and eos not in ids:
        ids = [eos, *ids]
    gen.eos_token_id = ids[0] if len(ids) == 1 else ids
    if gen.pad_token_id is None:
        gen.pad_token_id = tokenizer.pad_token_id
    model.generation_config = gen
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    if meta is not None:
        (out / "agentracer.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    return out


# ------------------------------------------------------------------------------------------- train
def _dataset(cfg: TrainConfig, tokenizer: Any) -> Any:
    from .data import load_source, prepare_grpo_dataset

    try:
        sources = [load_source(s, base_dir=cfg.base_dir) for s in cfg.dataset]
    except ValueError as e:  # TraceError is a ValueError too; both name what is wrong
        raise ConfigError(str(e), file=cfg.source, key="dataset") from None
    return prepare_grpo_dataset(
        sources,
        tokenizer=tokenizer,
        max_prompt_tokens=cfg.max_prompt_tokens,
        with_ground_truth=cfg.with_ground_truth,
        limit=cfg.limit,
        seed=cfg.seed,
    )


def _reward_funcs(cfg: TrainConfig) -> list[Any]:
    if cfg.reward_mode == "sum":
        return [make_tracer_reward(cfg.reward)]
    funcs, _ = reward_functions(cfg.reward)
    return funcs


def _is_main(trainer: Any) -> bool:
    acc = getattr(trainer, "accelerator", None)
    return bool(getattr(acc, "is_main_process", True))


def _quiet(trainer: Any) -> None:
    """Drop transformers' own log printers (the caller prints progress itself)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    for cb in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(cb)


def run_sft_warmup(
    cfg: TrainConfig, model: str, tokenizer: Any, grpo_dataset: Any, callbacks: list[Any], *, quiet: bool = False
) -> tuple[str, list[dict[str, Any]]]:
    """Supervised warm-up on the canonical answers; returns the merged checkpoint path and its log."""
    from trl import SFTTrainer

    from .data import prepare_sft_dataset

    args = build_sft_config(cfg)
    sft_ds = prepare_sft_dataset(grpo_dataset, tokenizer, enable_thinking=cfg.enable_thinking)
    trainer = SFTTrainer(model=model, args=args, train_dataset=sft_ds, processing_class=tokenizer,
                         peft_config=_lora_config(cfg), callbacks=callbacks or None)
    if quiet:
        _quiet(trainer)
    deepspeed = bool(getattr(trainer, "is_deepspeed_enabled", False))
    if deepspeed and cfg.peft:
        raise ConfigError("an SFT warm-up with LoRA under DeepSpeed cannot be merged before GRPO; run the "
                          "warm-up on one GPU or without peft", file=cfg.source, key="sft")
    trainer.train()
    out = cfg.output_dir / "sft-model"
    if deepspeed:  # ZeRO-3 shards the weights: every rank takes part in gathering them
        trainer.save_model(str(out))
        if _is_main(trainer):
            tokenizer.save_pretrained(out)
    elif _is_main(trainer):
        save_for_inference(trainer.model, tokenizer, out)
    trainer.accelerator.wait_for_everyone()
    return str(out), list(trainer.state.log_history)


def train(cfg: TrainConfig, *, callbacks: list[Any] | None = None, quiet: bool = False) -> TrainResult:
    """Run a recipe: build/locate the model, the dataset, the optional SFT warm-up, GRPO, and save ``final``.

    ``callbacks`` are ``transformers.TrainerCallback`` objects given to both trainers; ``quiet`` drops the
    trainers' own progress bars and log printing.
    """
    from trl import GRPOTrainer

    t0 = time.perf_counter()
    callbacks = list(callbacks or [])
    cfg.output_dir.mkdir(parents=True, exist_ok=True)
    args = build_grpo_config(cfg)  # fail fast on a bad grpo block, before any work
    model = prepare_model(cfg)
    tokenizer = _load_tokenizer(model)
    dataset = _dataset(cfg, tokenizer)
    sft_log: list[dict[str, Any]] = []
    if cfg.sft is not None:
        model, sft_log = run_sft_warmup(cfg, model, tokenizer, dataset, callbacks, quiet=quiet)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=_reward_funcs(cfg),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=_lora_config(cfg),
        callbacks=callbacks or None,
    )
    if quiet:
        _quiet(trainer)
    trainer.train()
    final = cfg.output_dir / "final"
    log = list(trainer.state.log_history)
    meta = {
        "agentracer": "tracer checkpoint",
        "base_model": cfg.model,
        "enable_thinking": cfg.enable_thinking,
        "max_prompt_tokens": cfg.max_prompt_tokens,
        "with_ground_truth": cfg.with_ground_truth,
        "reward": cfg.reward.to_dict(),
        "reward_mode": cfg.reward_mode,
        "train_rows": len(dataset),
        "steps": trainer.state.global_step,
        "recipe": cfg.to_dict(),
    }
    if getattr(trainer, "is_deepspeed_enabled", False):
        # ZeRO-3 shards the parameters: let the trainer gather and save them (every rank must take part);
        # a LoRA adapter saved this way is merged afterwards with ``python -m agentracer_trainer.merge``.
        target = cfg.output_dir / ("adapter" if cfg.peft else "final")
        trainer.save_model(str(target))
        if _is_main(trainer):
            tokenizer.save_pretrained(target)
            (target / "agentracer.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        final = target
    elif cfg.peft and not cfg.merge_lora:
        trainer.save_model(str(final))  # the adapter alone; the transformers backend merges it on load
        if _is_main(trainer):
            tokenizer.save_pretrained(final)
            (final / "agentracer.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    elif _is_main(trainer):
        save_for_inference(trainer.model, tokenizer, final, meta=meta)
    if _is_main(trainer):
        with (cfg.output_dir / "log_history.json").open("w", encoding="utf-8") as f:
            json.dump({"grpo": log, "sft": sft_log}, f, indent=1, default=str)
    trainer.accelerator.wait_for_everyone()
    return TrainResult(checkpoint=final, log_history=log, sft_log_history=sft_log, train_rows=len(dataset),
                       seconds=time.perf_counter() - t0)
