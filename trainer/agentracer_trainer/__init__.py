"""Launchable GRPO/SFT recipes for AgenTracer tracers (Qwen3-8B, accelerate/DeepSpeed, vLLM colocate/server).

Thin by design: the logic lives in :mod:`agentracer.training`; this package adds the entry points that
``accelerate launch -m`` needs and knows where the shipped recipes are.

- ``python -m agentracer_trainer.launch RECIPE.yaml`` — run a recipe (also under ``accelerate launch``);
- ``python -m agentracer_trainer.merge --adapter DIR --out DIR`` — merge a LoRA adapter saved under ZeRO-3;
- :func:`recipes` — the shipped recipe files (``trainer/configs/*.yaml``).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CONFIG_DIR", "recipes"]

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


def recipes() -> dict[str, Path]:
    """The shipped recipes by name (file stem), e.g. ``recipes()["cpu-smoke"]``."""
    return {p.stem: p for p in sorted(CONFIG_DIR.glob("*.yaml"))}
