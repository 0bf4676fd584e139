"""Launchable GRPO/SFT recipes for AgenTracer tracers (Qwen3-8B, accelerate/DeepSpeed, vLLM colocate/server).

Thin by design: the logic lives in :mod:`agentracer.training`; this package adds the entry points that
``accelerate launch -m`` needs. The recipes themselves are package data of ``agentracer.training``
(``agentracer/training/recipes/``), found by name:

- ``python -m agentracer_trainer.launch RECIPE`` — run a recipe file or a shipped one by name (also under
  ``accelerate launch``);
- ``python -m agentracer_trainer.merge --adapter DIR --out DIR`` — merge a LoRA adapter saved under ZeRO-3;
- ``python -m agentracer_trainer.paths [NAME]`` — print the path of a shipped recipe or accelerate config
  (for ``accelerate launch --config_file``);
- :func:`recipes`, :func:`accelerate_configs` — the shipped files by name.
"""

from __future__ import annotations

from agentracer.training.shipped import accelerate_configs, recipe_dir, recipes

__all__ = ["accelerate_configs", "recipe_dir", "recipes"]
