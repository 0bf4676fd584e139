"""The report dict of an evaluation (what ``--json`` writes): overall and per-fold accuracy, spread, interval,
floors, per-subset tables and one row per prediction."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from .items import EvalItem
from .scoring import CI_METHOD, LENIENT_NOTE, accuracy, bootstrap_ci, floor_scores, mean_std, score

__all__ = ["summarise"]


def summarise(
    items: Sequence[EvalItem],
    runs: list[dict[str, Any]],
    name: str,
    with_gt: bool,
    folds: int,
    seeds: int,
    protocol: str,
    learns: bool,
    dropped: int,
) -> dict[str, Any]:
    """The report dict of one evaluation from its runs (one per seed: predictions, folds, training sizes)."""
    n = len(items)
    per_seed_scores = [[score(p, e.item.gold) for p, e in zip(r["preds"], items, strict=True)] for r in runs]
    fold_rows = []
    for r, sc in zip(runs, per_seed_scores, strict=True):
        k = max(r["fold_of"]) + 1 if r["fold_of"] else 1
        for f in range(k):
            idx = [i for i, fo in enumerate(r["fold_of"]) if fo == f]
            if not idx:
                continue
            fold_rows.append(
                {
                    "seed": r["seed"],
                    "fold": f,
                    "n": len(idx),
                    "train_n": r["train_sizes"][f] if f < len(r["train_sizes"]) else None,
                    "agent_accuracy": accuracy([sc[i]["agent"] for i in idx]),
                    "step_accuracy": accuracy([sc[i]["step"] for i in idx]),
                }
            )
    per_file = {
        k: [statistics.fmean(sc[i][k] for sc in per_seed_scores) for i in range(n)]
        for k in ("agent", "step", "step_lenient")
    }
    agent_mean, agent_std = mean_std([r["agent_accuracy"] for r in fold_rows])
    step_mean, step_std = mean_std([r["step_accuracy"] for r in fold_rows])
    floors = floor_scores(items, with_gt, seeds)
    # per subset
    per_subset: dict[str, dict[str, Any]] = {}
    dims = sorted({d for e in items for d in e.subsets})
    for d in dims:
        groups: dict[str, list[int]] = {}
        for i, e in enumerate(items):
            groups.setdefault(e.subsets.get(d, "?"), []).append(i)
        per_subset[d] = {
            v: {
                "n": len(idx),
                "agent_accuracy": accuracy([per_file["agent"][i] for i in idx]),
                "step_accuracy": accuracy([per_file["step"][i] for i in idx]),
                "floors": {
                    fn: {
                        "agent_accuracy": accuracy([fl["per_file"][i]["agent"] for i in idx]),
                        "step_accuracy": accuracy([fl["per_file"][i]["step"] for i in idx]),
                    }
                    for fn, fl in floors.items()
                },
            }
            for v, idx in sorted(groups.items())
        }
    preds_out = []
    for i, e in enumerate(items):
        g = e.item.gold
        first = runs[0]["preds"][i]
        row: dict[str, Any] = {
            "file": e.file,
            "run_id": e.item.trace.run_id,
            "subsets": e.subsets,
            "gold": {"agent": g.agent, "step": g.step},
            "agent": first.agent,
            "step": first.step,
            "confidence": first.confidence,
            "raw_probability": first.metadata.get("raw_probability"),
            "feature_distance": first.metadata.get("feature_distance"),
            "explained": first.metadata.get("explained"),
            "far_from_training": first.metadata.get("far_from_training"),
            "runner_up_ratio": first.metadata.get("runner_up_ratio"),
            "candidates": [c.get("step") for c in first.candidates],
            "reason": first.reason,
            "parsed": first.parsed,
            "fold": runs[0]["fold_of"][i],
            "agent_correct": per_seed_scores[0][i]["agent"],
            "step_correct": per_seed_scores[0][i]["step"],
            "step_correct_lenient": per_seed_scores[0][i]["step_lenient"],
        }
        if len(runs) > 1 and learns:
            row["by_seed"] = [
                {"seed": r["seed"], "fold": r["fold_of"][i], "agent": r["preds"][i].agent, "step": r["preds"][i].step}
                for r in runs
            ]
            row["agent_accuracy"] = per_file["agent"][i]
            row["step_accuracy"] = per_file["step"][i]
        preds_out.append(row)
    n_unparsed = sum(not p.parsed for r in runs for p in r["preds"])
    n_errors = sum(bool(p.metadata.get("error")) for r in runs for p in r["preds"])
    for fl in floors.values():
        fl.pop("per_file", None)
    return {
        "method": name,
        "with_gt": with_gt,
        "n": n,
        "n_files": len({e.file for e in items}),
        "protocol": protocol,
        "learns": learns,
        "folds": folds,
        "seeds": seeds,
        "agent_accuracy": accuracy(per_file["agent"]),
        "step_accuracy": accuracy(per_file["step"]),
        "step_accuracy_lenient": accuracy(per_file["step_lenient"]),
        "agent_accuracy_fold_mean": agent_mean,
        "agent_accuracy_fold_std": agent_std,
        "step_accuracy_fold_mean": step_mean,
        "step_accuracy_fold_std": step_std,
        "agent_ci95": bootstrap_ci(per_file["agent"]),
        "step_ci95": bootstrap_ci(per_file["step"]),
        "ci_method": CI_METHOD,
        "std_over": "the accuracy of each test fold, over folds x seeds",
        "lenient_note": LENIENT_NOTE,
        "unparsed": n_unparsed,
        "attributor_errors": n_errors,
        "train_overlap_removed": dropped,
        "floors": floors,
        "fold_results": fold_rows,
        "seed_results": [
            {
                "seed": r["seed"],
                "agent_accuracy": accuracy([s["agent"] for s in sc]),
                "step_accuracy": accuracy([s["step"] for s in sc]),
            }
            for r, sc in zip(runs, per_seed_scores, strict=True)
        ],
        "per_subset": per_subset,
        "predictions": preds_out,
    }
