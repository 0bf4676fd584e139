"""``agentracer data ...``: fetch public benchmark data into the layout ``agentracer eval`` reads."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import _fail, console

data_app = typer.Typer(no_args_is_help=True, help="Fetch public benchmark data (see docs/data.md for sources and licenses).")


@data_app.command("who-and-when")
def who_and_when(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write OUT/Algorithm-Generated/ and OUT/Hand-Crafted/ into."),
    subset: list[str] = typer.Option(
        [], "--subset", help="Algorithm-Generated or Hand-Crafted (repeatable; default: both)."
    ),
    src: Path | None = typer.Option(
        None, "--from", help="Convert files downloaded by hand (<subset>.parquet files or <subset>/ JSON folders) "
        "instead of fetching from Hugging Face."
    ),
    revision: str | None = typer.Option(None, "--revision", help="A commit of the Hugging Face data set repository."),
) -> None:
    r"""Fetch the Who&When benchmark (MIT License) from Hugging Face and write one JSON file per run.

    Needs `pip install 'agentracer\[data]'` and a network connection, or --from with files downloaded by hand.
    """
    from ..data import SUBSETS, DataError, fetch_who_and_when

    try:
        counts = fetch_who_and_when(out, subsets=subset or SUBSETS, src=src, revision=revision)
    except DataError as e:
        _fail(str(e), code=1)
    for name, n in counts.items():
        console.print(f"{name}: {n} run(s) -> {out / name}", soft_wrap=True, highlight=False)
    first = next(iter(counts))
    console.print(f"next: agentracer eval {out / first} --method embedded", soft_wrap=True, highlight=False)
