"""Training recipes: a YAML file (see the shipped ``agentracer/training/recipes/`` and :mod:`agentracer.training.grpo`) read and checked
into a :class:`TrainConfig`; :class:`ConfigError` names the file and the key of a bad value.
:data:`RANDOM_CONFIGS` holds the Qwen3 sizes that ``model: random:SIZE`` may name."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .rewards import RewardConfig

__all__ = ["RANDOM_CONFIGS", "ConfigError", "TrainConfig", "config_from_dict", "find_repo_root", "load_config"]

# Architecture sizes of the public Qwen3 configs, for randomly initialised models of the same size
# (GPU memory/throughput checks where no weights can be downloaded).
RANDOM_CONFIGS: dict[str, dict[str, Any]] = {
    "qwen3-0.6b": dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                       num_key_value_heads=8, head_dim=128, vocab_size=151936, tie_word_embeddings=True),
    "qwen3-1.7b": dict(hidden_size=2048, intermediate_size=6144, num_hidden_layers=28, num_attention_heads=16,
                       num_key_value_heads=8, head_dim=128, vocab_size=151936, tie_word_embeddings=True),
    "qwen3-8b": dict(hidden_size=4096, intermediate_size=12288, num_hidden_layers=36, num_attention_heads=32,
                     num_key_value_heads=8, head_dim=128, vocab_size=151936, tie_word_embeddings=False),
}

_TOP_KEYS = {"model", "dataset", "output_dir", "prompt", "reward", "sft", "peft", "grpo", "limit", "seed", "tiny",
             "merge_lora", "model_init_kwargs", "description"}
_PROMPT_KEYS = {"max_prompt_tokens", "enable_thinking", "with_ground_truth"}
_REWARD_KEYS = {"agent_weight", "step_weight", "format_weight", "sigma", "mode"}


class ConfigError(ValueError):
    """A recipe config is unreadable or has a bad value; the message names the file and the key."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        self.file, self.key, self.reason = file, key, message
        where = ", ".join(x for x in (f"file {file}" if file else "", f"key '{key}'" if key else "") if x)
        super().__init__(f"{where}: {message}" if where else message)


@dataclass
class TrainConfig:
    """A parsed recipe (see the module docstring). Paths are already resolved."""

    model: str = "tiny"
    dataset: list[str] = field(default_factory=lambda: ["synthetic:32"])
    output_dir: Path = Path("runs/tracer")
    max_prompt_tokens: int = 4096
    enable_thinking: bool = False
    with_ground_truth: bool = False
    reward: RewardConfig = field(default_factory=RewardConfig)
    reward_mode: str = "components"
    grpo: dict[str, Any] = field(default_factory=dict)
    sft: dict[str, Any] | None = None
    peft: dict[str, Any] | None = None
    tiny: dict[str, Any] = field(default_factory=dict)
    model_init_kwargs: dict[str, Any] = field(default_factory=dict)
    merge_lora: bool = True  # with LoRA: save merged weights (True) or the adapter alone (False)
    limit: int | None = None
    seed: int = 0
    base_dir: Path = Path(".")
    source: str | None = None
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (saved beside the checkpoint)."""
        d = dataclasses.asdict(self)
        d["output_dir"], d["base_dir"] = str(self.output_dir), str(self.base_dir)
        d["reward"] = self.reward.to_dict()
        return d



def find_repo_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` that holds a ``pyproject.toml`` (the repository root)."""
    start = start.resolve()
    for p in [start, *start.parents]:
        if (p / "pyproject.toml").exists():
            return p
    return None


def _expect(d: Any, types: type | tuple[type, ...], key: str, file: str | None) -> Any:
    if not isinstance(d, types) or isinstance(d, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise ConfigError(f"expected {names}, got {type(d).__name__}", file=file, key=key)
    return d


def config_from_dict(d: Any, *, base_dir: Path | None = None, source: str | None = None) -> TrainConfig:
    """Check a recipe mapping and build a :class:`TrainConfig` (relative paths resolved from ``base_dir``)."""
    if not isinstance(d, dict):
        raise ConfigError(f"a recipe must be a mapping, got {type(d).__name__}", file=source)
    unknown = set(d) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)}; expected some of {sorted(_TOP_KEYS)}", file=source,
                          key=sorted(unknown)[0])
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    model = _expect(d.get("model", "tiny"), str, "model", source).strip()
    if not model:
        raise ConfigError("must name a model path, a hub id, 'tiny', random:SIZE or gguf:PATH", file=source, key="model")
    if model.startswith("random:") and model.split(":", 1)[1] not in RANDOM_CONFIGS:
        raise ConfigError(f"unknown size; expected one of {sorted(RANDOM_CONFIGS)}", file=source, key="model")
    if model.startswith("gguf:"):  # real weights from a GGUF file: an alias or a path (checked when training)
        name = model.split(":", 1)[1].strip()
        if not name:
            raise ConfigError("expected gguf:PATH.gguf or gguf:smollm2", file=source, key="model")
        if name.endswith(".gguf"):  # a path (an alias such as smollm2 stays as it is)
            as_path = Path(name).expanduser()
            model = "gguf:" + str(as_path if as_path.is_absolute() else (base / as_path).resolve())
    elif model != "tiny" and not model.startswith("random:"):
        as_path = Path(model).expanduser()
        if as_path.is_absolute():
            model = str(as_path)
        elif model.startswith(".") or (base / as_path).exists():
            model = str((base / as_path).resolve())
        # else: a hub id such as Qwen/Qwen3-8B (downloaded by transformers where the network allows)
    ds = d.get("dataset", "synthetic:32")
    datasets_ = [ds] if isinstance(ds, str) else ds
    if not isinstance(datasets_, list) or not datasets_ or not all(isinstance(x, str) and x.strip() for x in datasets_):
        raise ConfigError("expected a source string or a non-empty list of them", file=source, key="dataset")
    out = Path(_expect(d.get("output_dir", "runs/tracer"), str, "output_dir", source)).expanduser()
    out = out if out.is_absolute() else base / out

    prompt = _expect(d.get("prompt") or {}, dict, "prompt", source)
    bad = set(prompt) - _PROMPT_KEYS
    if bad:
        raise ConfigError(f"unknown key(s) {sorted(bad)}; expected some of {sorted(_PROMPT_KEYS)}", file=source,
                          key=f"prompt.{sorted(bad)[0]}")
    mpt = _expect(prompt.get("max_prompt_tokens", 4096), int, "prompt.max_prompt_tokens", source)
    if mpt < 64:
        raise ConfigError(f"must be >= 64, got {mpt}", file=source, key="prompt.max_prompt_tokens")

    rw = _expect(d.get("reward") or {}, dict, "reward", source)
    bad = set(rw) - _REWARD_KEYS
    if bad:
        raise ConfigError(f"unknown key(s) {sorted(bad)}; expected some of {sorted(_REWARD_KEYS)}", file=source,
                          key=f"reward.{sorted(bad)[0]}")
    mode = rw.get("mode", "components")
    if mode not in ("components", "sum"):
        raise ConfigError(f"must be 'components' or 'sum', got {mode!r}", file=source, key="reward.mode")
    try:
        reward = RewardConfig(**{k: float(v) for k, v in rw.items() if k != "mode"})
    except (TypeError, ValueError) as e:
        raise ConfigError(str(e), file=source, key="reward") from None

    grpo = dict(_expect(d.get("grpo") or {}, dict, "grpo", source))
    for k in ("output_dir", "reward_weights"):
        if k in grpo:
            raise ConfigError("set by the launcher (use top-level output_dir / reward weights), not in grpo",
                              file=source, key=f"grpo.{k}")
    sft = d.get("sft")
    if sft is not None:
        sft = dict(_expect(sft, dict, "sft", source))
    peft_cfg = d.get("peft")
    if peft_cfg is not None:
        peft_cfg = dict(_expect(peft_cfg, dict, "peft", source))
    limit = d.get("limit")
    if limit is not None:
        _expect(limit, int, "limit", source)
    return TrainConfig(
        model=model,
        dataset=[x.strip() for x in datasets_],
        output_dir=out,
        max_prompt_tokens=mpt,
        enable_thinking=bool(_expect(prompt.get("enable_thinking", False), bool, "prompt.enable_thinking", source)),
        with_ground_truth=bool(_expect(prompt.get("with_ground_truth", False), bool, "prompt.with_ground_truth", source)),
        reward=reward,
        reward_mode=mode,
        grpo=grpo,
        sft=sft,
        peft=peft_cfg,
        tiny=dict(_expect(d.get("tiny") or {}, dict, "tiny", source)),
        model_init_kwargs=dict(_expect(d.get("model_init_kwargs") or {}, dict, "model_init_kwargs", source)),
        merge_lora=bool(d.get("merge_lora", True)),
        limit=limit,
        seed=int(_expect(d.get("seed", 0), int, "seed", source)),
        base_dir=base,
        source=source,
        description=str(d.get("description") or ""),
    )


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a recipe YAML (a path, or the name of a shipped recipe such as ``cpu-smoke``).

    Relative paths in it (``output_dir``, dataset files, a local ``model``) are resolved from the current
    directory, wherever the recipe file lives and whether it is named by path or by name: the same place
    every other command's relative paths start from. A recipe shipped in site-packages could not hold its
    own outputs, and "the recipe's folder" would differ between a recipe named by name and one by path.

    ``overrides`` replace top-level keys (e.g. ``{"output_dir": "/tmp/x"}``) before checking.
    """
    import yaml

    from .shipped import find_recipe

    path, _shipped = find_recipe(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror or e}", file=str(path)) from None
    try:
        d = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"malformed YAML: {e}".replace("\n", " "), file=str(path)) from None
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise ConfigError(f"a recipe must be a mapping, got {type(d).__name__}", file=str(path))
    d.update(overrides or {})
    return config_from_dict(d, base_dir=Path.cwd(), source=str(path))
