"""``agentracer train --config FILE``: run a GRPO recipe and report what it did.

Prints the recipe, one line per logging step (loss and the mean of each reward component), then a summary
with the checkpoint path and the command that attributes with it. A bad recipe prints one line naming
the file and the key and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["train_cli"]

_COMPONENTS = ("agent_reward", "step_reward", "format_reward", "tracer_reward")


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _progress_callback(console: Any) -> Any:
    from transformers import TrainerCallback

    class _RichLog(TrainerCallback):
        """Prints the loss and each reward component at every logging step."""

        stage = "sft"

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            if not logs or "train_runtime" in logs:
                return
            if any(k.startswith("rewards/") for k in logs):
                self.stage = "grpo"
            parts = [f"[bold]{self.stage}[/] step {state.global_step}/{state.max_steps}"]
            if "loss" in logs:
                parts.append(f"loss {_fmt(logs['loss'])}")
            for name in _COMPONENTS:
                key = f"rewards/{name}/mean"
                if key in logs:
                    parts.append(f"{name.removesuffix('_reward')} {_fmt(logs[key])}")
            if "reward" in logs:
                parts.append(f"reward {_fmt(logs['reward'])}")
            console.print("  ".join(parts), highlight=False)

    return _RichLog()


def train_cli(config: Path, console: Any) -> None:
    """Load the recipe at ``config``, train, save ``OUTPUT_DIR/final`` and print a summary."""
    from rich.table import Table

    from ..errors import CommandError
    from ..trace import TraceError
    from .config import ConfigError, load_config
    from .grpo import train

    try:
        cfg = load_config(config)
    except ConfigError as e:
        raise CommandError(str(e)) from None
    console.print(f"[bold]recipe[/] {config}  {cfg.description}", highlight=False)
    console.print(
        f"model {cfg.model}  dataset {', '.join(cfg.dataset)}  -> {cfg.output_dir}\n"
        f"reward: agent x{cfg.reward.agent_weight:g} + step x{cfg.reward.step_weight:g} (sigma {cfg.reward.sigma:g})"
        f" + format x{cfg.reward.format_weight:g} [{cfg.reward_mode}]"
        f"{'  + SFT warm-up' if cfg.sft is not None else ''}{'  + LoRA' if cfg.peft else ''}",
        highlight=False,
    )
    try:
        result = train(cfg, callbacks=[_progress_callback(console)], quiet=True)
    except (ConfigError, TraceError) as e:
        raise CommandError(str(e)) from None

    table = Table(title="GRPO rewards (mean over the batch)")
    table.add_column("metric", no_wrap=True, overflow="fold")
    table.add_column("first step", justify="right")
    table.add_column("last step", justify="right")
    logged = [r for r in result.log_history if any(k.startswith("rewards/") for k in r)]
    keys = [f"rewards/{n}/mean" for n in _COMPONENTS] + ["reward", "loss"]
    for key in keys:
        if logged and key in logged[0]:
            table.add_row(key, _fmt(logged[0].get(key)), _fmt(logged[-1].get(key)))
    console.print(table)
    console.print(
        f"{len(logged)} GRPO steps on {result.train_rows} rows in {result.seconds:.1f} s\n"
        f"checkpoint -> {result.checkpoint}\n"
        f"attribute with: agentracer attribute TRACE --method transformers:{result.checkpoint}",
        highlight=False,
        soft_wrap=True,
    )
