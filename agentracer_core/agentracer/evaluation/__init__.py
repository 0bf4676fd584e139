"""Evaluate an attribution method on annotated traces: agent- and step-level accuracy beside the floors.

Scoring is **exact match**: the agent is correct when its normalised name equals the gold agent's
(:func:`~agentracer.trace.normalize_agent`), the step when its index equals the gold step. Who&When's
*lenient* step match (the gold index is a substring of the predicted one, so a predicted ``12`` counts
for gold ``1`` and ``2``) is reported too, clearly labelled, only to compare with published numbers.

Protocol
--------
- A method that learns from the set being scored (a :class:`~agentracer.attribution.base.TrainableAttributor`,
  e.g. ``embedded``) is **K-fold cross-validated by file**: the files are shuffled with a seed and dealt
  into K folds (a set with fewer files than folds, such as one JSONL of generated traces, is split by
  trace instead, and the protocol says so); for each fold a fresh model is fitted on the other folds
  only and scores that fold. Any hyper-parameter choice happens inside ``fit`` on the training folds
  (the embedded attributor uses an inner CV), never on the test fold. ``seeds`` repeats the whole CV
  with other shuffles.
- ``train``: fit once on other sets instead (generalisation); items of the scored set are removed from
  the training data first (same file, or same run id with the same steps).
- **Cross-system** (the primary figure): ``--train A --test C`` fits on other systems and scores one;
  ``--leave-one-out A B C ...`` (:mod:`.crosssys`) scores each source with a model fitted on all the others,
  beside that source's floors, with the mean over systems, the top-3 rate and the calibration error.
  Within-set CV is the optimistic figure.
- ``folds <= 1`` (or a method that does not learn): the method is used as it ships; for a learned
  method the shipped parameters are then used, exactly as ``agentracer attribute`` does, so both give
  the same answer for a file (the score is optimistic when the shipped model was trained on this set).
- Mean ± std are over folds × seeds (each test fold's accuracy); the 95% interval is a **percentile
  bootstrap over the scored traces** (2000 resamples, seed 0) of the accuracy, each trace's correctness
  averaged over seeds.
- Floors on the same files: random (its expectation: 1/#steps and 1/#agents per trace, and the mean
  of :class:`~agentracer.attribution.base.RandomGuess` over the seeds), first speaker, always step 1.

Modules: :mod:`.items` (loading), :mod:`.scoring` (match, accuracy, interval, floors), :mod:`.cv` (folds),
:mod:`.run` (:func:`evaluate`), :mod:`.summary` (the report dict), :mod:`.table` (the printed table) and
:mod:`.cli` (``agentracer eval``), :mod:`.crosssys` (the leave-one-system-out matrix, ``eval --leave-one-out``)
and :mod:`.calibration` (reliability, ECE, the Platt map). Every name below is importable from ``agentracer.evaluation``.
"""

from __future__ import annotations

from .cli import run_eval_cli, run_loo_cli
from .crosssys import leave_one_out
from .cv import cross_validate, cv_unit, fold_assignment, fold_of_items
from .items import EvalItem, load_items
from .run import evaluate
from .scoring import CI_METHOD, LENIENT_NOTE, lenient_step_match, predict, score
from .table import print_report

__all__ = [
    "CI_METHOD",
    "LENIENT_NOTE",
    "EvalItem",
    "cross_validate",
    "cv_unit",
    "evaluate",
    "fold_assignment",
    "fold_of_items",
    "leave_one_out",
    "lenient_step_match",
    "load_items",
    "predict",
    "print_report",
    "run_eval_cli",
    "run_loo_cli",
    "score",
]
