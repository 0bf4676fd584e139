"""Run a recipe in this process: ``python -m agentracer_trainer.launch RECIPE.yaml [--output-dir DIR]``.

Meant for ``accelerate launch --config_file "$(python -m agentracer_trainer.paths zero3)" -m
agentracer_trainer.launch RECIPE``: every rank runs it, TRL/accelerate split the work, the main rank prints
progress and saves.
A recipe name (``cpu-smoke``) may stand for the shipped file. Exit status 2 on a bad recipe.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the recipe, print the checkpoint path; returns the exit status."""
    ap = argparse.ArgumentParser(prog="agentracer_trainer.launch", description=__doc__.splitlines()[0])
    ap.add_argument("recipe", help="a recipe YAML, or the name of a shipped one (python -m agentracer_trainer.paths lists them)")
    ap.add_argument("--output-dir", default=None, help="override the recipe's output_dir")
    args = ap.parse_args(argv)

    from agentracer.training.config import ConfigError, load_config
    from agentracer.training.grpo import train

    path = args.recipe  # load_config finds a shipped recipe by name
    overrides = {"output_dir": str(Path(args.output_dir).resolve())} if args.output_dir else None
    try:
        cfg = load_config(path, overrides)
        result = train(cfg)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"checkpoint -> {result.checkpoint}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
