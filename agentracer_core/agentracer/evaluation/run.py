"""``evaluate``: choose the protocol (cross-validation, a separate training set, or the method as it ships),
run it, and hand the predictions to :func:`~agentracer.evaluation.summary.summarise`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..attribution.base import Attributor, TrainableAttributor, get_attributor
from .cv import cross_validate, cv_unit, fold_of_items, group_of, same_run
from .items import EvalItem
from .scoring import predict
from .summary import summarise

__all__ = ["evaluate", "is_trainable"]


def is_trainable(att: Any) -> bool:
    """Whether ``att`` learns from annotated traces (has ``fit``), so that evaluation cross-validates it."""
    return isinstance(att, TrainableAttributor) and callable(getattr(att, "fit", None))


def evaluate(
    items: Sequence[EvalItem],
    method: str | Attributor = "embedded",
    *,
    with_gt: bool = False,
    folds: int = 5,
    seeds: int = 1,
    train: Sequence[EvalItem] | None = None,
    factory: Callable[[], Attributor] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Score ``method`` on ``items``; returns the report dict that ``--json`` writes (see the module doc).

    A method name is resolved once (:func:`~agentracer.attribution.base.get_attributor`); a method that
    learns is then fitted afresh for each CV fold (``fit`` returns a new model and leaves the resolved one
    as it is). ``factory``, when given, builds the attributor instead: once for the protocol and once per
    CV fold.
    """
    if not items:
        raise ValueError("no annotated traces to evaluate")
    if factory is None:
        resolved = get_attributor(method) if isinstance(method, str) else method
        factory = lambda: resolved  # noqa: E731
    proto = factory()
    name = method if isinstance(method, str) else getattr(method, "name", type(method).__name__)
    learns = is_trainable(proto)
    seeds = max(1, int(seeds))
    runs: list[dict[str, Any]] = []  # one per seed: preds, fold_of, train_sizes
    dropped = 0
    if train:
        if not learns:
            raise ValueError(f"method {name!r} does not learn (no fit()); --train needs a trainable method")
        test_files = {e.file for e in items}
        clean = [
            t.item for t in train if t.file not in test_files and not any(same_run(t.item, e.item) for e in items)
        ]
        dropped = len(train) - len(clean)
        if not clean:
            raise ValueError("every training item also belongs to the scored set; nothing left to train on")
        model = proto.fit(clean)  # type: ignore[attr-defined]
        preds = predict(model, items, with_gt, progress)
        runs.append({"seed": 0, "preds": preds, "fold_of": [0] * len(items), "train_sizes": [len(clean)]})
        protocol = f"trained on {len(clean)} traces from other sets ({dropped} overlapping removed); scored once"
        seeds = 1
    elif learns and folds >= 2:
        for s in range(seeds):
            preds, fold_of, sizes = cross_validate(factory, items, folds, s, with_gt, progress)
            runs.append({"seed": s, "preds": preds, "fold_of": fold_of, "train_sizes": sizes})
        unit = cv_unit(items, folds)
        n_groups = len({group_of(e, unit) for e in items})
        protocol = f"{min(folds, n_groups)}-fold cross-validation by {unit} x {seeds} seed(s)"
    else:
        preds = predict(proto, items, with_gt, progress)
        k = max(1, folds)
        for s in range(seeds):
            runs.append({"seed": s, "preds": preds, "fold_of": fold_of_items(items, k, s), "train_sizes": []})
        protocol = (
            "shipped parameters, no cross-validation (optimistic if they were trained on this set)"
            if learns
            else "no training; the method is applied as is"
        )
    return summarise(items, runs, name, with_gt, folds, seeds, protocol, learns, dropped)
