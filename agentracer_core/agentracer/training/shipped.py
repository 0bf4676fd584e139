"""The recipes shipped inside the package (``agentracer/training/recipes/*.yaml``), found by name.

They are package data, reached through :mod:`importlib.resources`, so ``agentracer train --config cpu-smoke``
works from an installed wheel as well as from a clone; a path to any recipe file still works.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["accelerate_configs", "find_recipe", "recipe_dir", "recipes"]


def recipe_dir() -> Path:
    """The folder of the shipped recipes (a real folder: the package is installed unzipped)."""
    return Path(str(files("agentracer.training").joinpath("recipes")))


def recipes() -> dict[str, Path]:
    """The shipped GRPO/SFT recipes by name (file stem), e.g. ``recipes()["cpu-smoke"]``."""
    return {p.stem: p for p in sorted(recipe_dir().glob("*.yaml"))}


def accelerate_configs() -> dict[str, Path]:
    """The shipped ``accelerate launch --config_file`` files by name (``zero3``, ``single-gpu``)."""
    return {p.stem: p for p in sorted((recipe_dir() / "accelerate").glob("*.yaml"))}


def find_recipe(recipe: str | Path) -> tuple[Path, bool]:
    """``recipe`` as a file: an existing path as given, else the shipped recipe of that name.

    Returns ``(path, shipped)``; ``shipped`` is True when the name was looked up among the shipped recipes
    (their relative paths then resolve from the current directory). A name that is neither comes back as
    given, so that reading it fails with the usual "cannot read" error.
    """
    path = Path(recipe)
    if path.exists():
        return path, False
    name = path.name.removesuffix(".yaml") if path.parent == Path(".") else None
    shipped = recipes().get(name) if name else None
    return (shipped, True) if shipped is not None else (path, False)
