"""Cross-validation by file (or by trace for a one-file set): fold assignment and the fit-per-fold loop."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path

from ..attribution.base import Attributor
from ..trace import AnnotatedTrace, Attribution
from .items import EvalItem, natural_key
from .scoring import predict

__all__ = ["cross_validate", "cv_unit", "fold_assignment", "fold_of_items", "group_of", "same_run"]


def cv_unit(items: Sequence[EvalItem], folds: int) -> str:
    """What CV splits on: ``file`` (the default), or ``trace`` when the set has fewer files than folds
    (e.g. one JSONL file of generated traces)."""
    return "file" if len({e.file for e in items}) >= max(2, folds) else "trace"


def group_of(e: EvalItem, unit: str) -> str:
    """What CV keeps together: the item's file, or the item itself when splitting by trace."""
    return e.file if unit == "file" else e.key


def fold_assignment(items: Sequence[EvalItem], folds: int, seed: int) -> dict[str, int]:
    """Group -> fold for K-fold CV: the groups (files, see :func:`cv_unit`) are shuffled with ``seed`` and
    dealt round-robin. Keys are files, or ``file#run_id`` when splitting by trace."""
    unit = cv_unit(items, folds)
    # a total order (ties broken by the full key), so folds never depend on set iteration order
    groups = sorted({group_of(e, unit) for e in items}, key=lambda g: (natural_key(Path(g.split("#", 1)[0])), g))
    random.Random(seed).shuffle(groups)
    k = max(1, min(folds, len(groups)))
    return {g: i % k for i, g in enumerate(groups)}


def fold_of_items(items: Sequence[EvalItem], folds: int, seed: int) -> list[int]:
    """The fold of each item (see :func:`fold_assignment`)."""
    assign = fold_assignment(items, folds, seed)
    unit = cv_unit(items, folds)
    return [assign[group_of(e, unit)] for e in items]


def same_run(a: AnnotatedTrace, b: AnnotatedTrace) -> bool:
    """Whether two annotated traces are the same run (same run id, step count and first steps)."""
    ta, tb = a.trace, b.trace
    return (
        ta.run_id == tb.run_id
        and len(ta.steps) == len(tb.steps)
        and [s.content for s in ta.steps[:3]] == [s.content for s in tb.steps[:3]]
    )


def cross_validate(
    factory: Callable[[], Attributor],
    items: Sequence[EvalItem],
    folds: int,
    seed: int,
    with_gt: bool,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Attribution], list[int], list[int]]:
    """K-fold CV by file: per item, its prediction and fold; and the training size of each fold.

    A fresh attributor from ``factory`` is fitted on the other folds' items only.
    """
    fold_of = fold_of_items(items, folds, seed)
    k = max(fold_of) + 1 if fold_of else 0
    preds: list[Attribution | None] = [None] * len(items)
    train_sizes = []
    for f in range(k):
        train = [e.item for e, fo in zip(items, fold_of, strict=True) if fo != f]
        test_idx = [i for i, fo in enumerate(fold_of) if fo == f]
        model = factory().fit(train)  # type: ignore[attr-defined]
        train_sizes.append(len(train))
        for i, att in zip(test_idx, predict(model, [items[i] for i in test_idx], with_gt, progress), strict=True):
            preds[i] = att
    missing = [items[i].key for i, p in enumerate(preds) if p is None]
    if missing:  # cannot happen with a partition; guards the item <-> prediction alignment
        raise RuntimeError(f"cross-validation left {len(missing)} item(s) unpredicted, e.g. {missing[0]}")
    return [p for p in preds if p is not None], fold_of, train_sizes
