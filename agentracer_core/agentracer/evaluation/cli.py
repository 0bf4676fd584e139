"""The ``agentracer eval`` verb: load the items, resolve the method once, evaluate, print, write ``--json``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..attribution.base import get_attributor
from ..errors import CommandError
from ..recording.redact import redacts
from ..trace import TraceError
from .items import EvalItem, load_items
from .run import evaluate, is_trainable
from .table import print_report

__all__ = ["run_eval_cli", "run_loo_cli"]


def run_eval_cli(
    src: Path,
    method: str = "embedded",
    with_gt: bool = False,
    folds: int = 5,
    seeds: int = 1,
    out: Path | None = None,
    train: Sequence[Path] | None = None,
    console: Any = None,
) -> dict[str, Any]:
    """The ``agentracer eval`` verb: load, evaluate, print the table with floors, write ``--json``."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = console or Console()
    err = Console(stderr=True)
    try:
        items, warns = load_items(src)
        train_items: list[EvalItem] = []
        for p in train or []:
            got, w2 = load_items(p)
            train_items.extend(got)
            warns.extend(w2)
        for w in warns:
            err.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
        if not items:
            raise TraceError("holds no annotated trace (nothing to score)", file=str(src))
        if train is not None and len(train) and not train_items:
            raise TraceError("holds no annotated trace to train on", file=", ".join(map(str, train)))
        att = get_attributor(method)  # resolved once, and early: an unknown method fails before any work
        learns = is_trainable(att)
        if learns and folds < 2 and not train_items:
            err.print(
                "[yellow]note:[/] no cross-validation: the shipped parameters are used "
                "(optimistic if they were trained on this set)"
            )
        total = len(items) * (seeds if learns and folds >= 2 and not train_items else 1)
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as prog:
            task = prog.add_task(f"eval {method}", total=total)
            rep = evaluate(
                items,
                method,
                with_gt=with_gt,
                folds=folds,
                seeds=seeds,
                train=train_items or None,
                factory=lambda: att,
                progress=lambda k: prog.advance(task, k),
            )
    except (TraceError, ValueError, ImportError, RuntimeError) as e:
        raise CommandError(str(e)) from None
    rep["src"] = str(src)
    rep["train"] = [str(p) for p in train or []]
    print_report(rep, console)
    if out is not None:
        _write_report(rep, Path(out))
        console.print(f"wrote {out}")
    return rep


@redacts("rep")
def _write_report(rep: dict[str, Any], out: Path) -> None:
    """Write the evaluation report as JSON (redacted: it may quote trace content)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rep, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def run_loo_cli(
    srcs: Sequence[Path],
    method: str = "embedded",
    with_gt: bool = False,
    out: Path | None = None,
    calibrate_out: Path | None = None,
    console: Any = None,
    views: str = "matched",
) -> dict[str, Any]:
    """``agentracer eval --leave-one-out SRC...``: the cross-system matrix with floors (see :mod:`.crosssys`)."""
    from rich.console import Console

    from .crosssys import leave_one_out, print_matrix, source_name, write_calibration

    console = console or Console()
    err = Console(stderr=True)
    try:
        if len(srcs) < 2:
            raise ValueError("--leave-one-out needs at least 2 labelled sources (one per system)")
        sources = []
        for p in srcs:
            items, warns = load_items(p)
            for w in warns:
                err.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
            if not items:
                raise TraceError("holds no annotated trace", file=str(p))
            sources.append((source_name(p), items))
        names = [n for n, _ in sources]
        if len(set(names)) < len(names):  # two sources with the same folder name: use the full paths
            sources = [(str(p), its) for p, (_, its) in zip(srcs, sources, strict=True)]
        att = get_attributor(method)
        if not is_trainable(att):
            raise ValueError(f"method {method!r} does not learn (no fit()); --leave-one-out needs a trainable method")
        rep = leave_one_out(sources, method, with_gt=with_gt, factory=lambda: att, views=views)
    except (TraceError, ValueError, ImportError, RuntimeError) as e:
        raise CommandError(str(e)) from None
    rep["sources"] = [str(p) for p in srcs]
    print_matrix(rep, console)
    if calibrate_out is not None:
        shipped = get_attributor(method)
        dists = [shipped.attribute(e.item.trace).metadata.get("feature_distance") for _, its in sources for e in its]
        doc = write_calibration(rep, Path(calibrate_out), dists)
        console.print(f"calibration (a={doc['a']}, b={doc['b']}, distance limit {doc['distance_limit']}) -> "
                      f"{calibrate_out}")
    if out is not None:
        _write_report(rep, Path(out))
        console.print(f"wrote {out}")
    return rep
