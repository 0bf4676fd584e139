"""The cross-system protocol: leave one system out (train on all the other labelled sources, score the one left
out), each cell beside its floors on the same traces, the mean over systems, the top-3 "gold among the
candidates" rate, and the calibration of the confidence on those held-out predictions.

Each *source* is one system (Who&When Algorithm-Generated, one framework's generated runs, ...). Nothing is
tuned on the scored source: the model of a cell is fitted on the other sources only (its L2 strengths by
an inner CV on them), and the calibration error of a source is measured with a Platt map fitted on the
*other* sources' held-out predictions (cross-fitted). The map fitted on all the held-out predictions is
what ``--calibrate-out`` writes for :mod:`agentracer.attribution.confidence`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..attribution.base import Attributor
from ..attribution.confidence import CLOSE_CALL, LOW_CONFIDENCE
from ..attribution.listwise import SOURCE_KEY
from ..formats.whowhen import as_transcript, profile_is_transcript
from .calibration import apply_platt, ece, fit_platt, reliability
from .items import EvalItem
from .run import evaluate

__all__ = ["leave_one_out", "print_matrix", "source_name", "write_calibration"]

_FLOORS = ("random", "first-speaker", "step-one")


def source_name(path: Path) -> str:
    """A short name for a source: the folder's name (the parent's for a file such as ``annotations.jsonl``)."""
    p = Path(path)
    return p.parent.name if p.is_file() and p.stem in ("annotations", "dataset", "train", "test") else p.stem or p.name


def leave_one_out(
    sources: Sequence[tuple[str, Sequence[EvalItem]]],
    method: str | Attributor = "embedded",
    *,
    with_gt: bool = False,
    factory: Callable[[], Attributor] | None = None,
    progress: Callable[[int], None] | None = None,
    views: str = "matched",
) -> dict[str, Any]:
    """The leave-one-system-out matrix: for each source, train on all the others and score it (see module doc).

    ``views="matched"`` (the default) trains each cell on the other sources *in the form of the traces it
    scores*, as the shipped profiles do: a source of imported transcripts (Who&When) is scored by a model
    fitted on the other sources seen as transcripts (:func:`~agentracer.formats.whowhen.as_transcript`: one
    message per agent step, tool results folded in), a source of recorded runs by one fitted on the recorded
    runs and the transcripts as they are. ``views="as-is"`` trains on every source as loaded."""
    if views not in ("matched", "as-is"):
        raise ValueError(f"views must be 'matched' or 'as-is', not {views!r}")
    if len(sources) < 2:
        raise ValueError("--leave-one-out needs at least 2 labelled sources")
    for name, items in sources:  # each training trace is weighted by the size of its source (listwise.source_of)
        for e in items:
            if isinstance(e.item.trace.metadata, dict):
                e.item.trace.metadata.setdefault(SOURCE_KEY, name)
    cells = []
    for i, (name, items) in enumerate(sources):
        train = [e for j, (_, its) in enumerate(sources) if j != i for e in its]
        if views == "matched" and _transcripts(items):
            train = [e if profile_is_transcript(e.item.trace) else
                     EvalItem(item=as_transcript(e.item), file=e.file, subsets=e.subsets) for e in train]
        rep = evaluate(items, method, with_gt=with_gt, train=train, factory=factory, progress=progress)
        preds = rep["predictions"]
        top3 = [float(p["gold"]["step"] in (p.get("candidates") or [p["step"]])) for p in preds]
        raw = [p.get("raw_probability") for p in preds]
        fl = {k: {"agent": rep["floors"][k]["agent_accuracy"], "step": rep["floors"][k]["step_accuracy"]}
              for k in _FLOORS}
        cells.append({
            "source": name,
            "n": rep["n"],
            "train_n": sum(len(its) for j, (_, its) in enumerate(sources) if j != i) - rep["train_overlap_removed"],
            "agent": rep["agent_accuracy"],
            "step": rep["step_accuracy"],
            "floors": fl,
            "best_floor_agent": max(v["agent"] for v in fl.values()),
            "best_floor_step": max(v["step"] for v in fl.values()),
            "top3": sum(top3) / len(top3) if top3 else float("nan"),
            "raw": [float(r) if r is not None else float("nan") for r in raw],
            "step_correct": [float(p["step_correct"]) for p in preds],
            "distance": [p.get("feature_distance") for p in preds],
            "explained": [p.get("explained") for p in preds],
            "far": [p.get("far_from_training") for p in preds],
            "ratio": [p.get("runner_up_ratio") for p in preds],
            "n_candidates": [len(p.get("candidates") or []) for p in preds],
        })
    out: dict[str, Any] = {"method": method if isinstance(method, str) else getattr(method, "name", "?"),
                           "with_gt": with_gt, "views": views, "cells": cells}
    for k in ("agent", "step", "best_floor_agent", "best_floor_step", "top3"):
        out[f"mean_{k}"] = sum(c[k] for c in cells) / len(cells)
    _calibration(out)
    return out


def _transcripts(items: Sequence[EvalItem]) -> bool:
    """Whether a source is (mostly) imported chat transcripts rather than recorded runs."""
    return sum(profile_is_transcript(e.item.trace) for e in items) * 2 > len(items)


def _calibration(out: dict[str, Any]) -> None:
    """ECE per source (raw, and after a Platt map fitted on the other sources), the pooled reliability table
    and the map fitted on everything."""
    cells = out["cells"]
    ok = [c for c in cells if c["raw"] and not any(math.isnan(r) for r in c["raw"])]
    if len(ok) < 2:
        out["calibration"] = None
        return
    for c in ok:
        others_p = [r for d in ok if d is not c for r in d["raw"]]
        others_y = [y for d in ok if d is not c for y in d["step_correct"]]
        cal = fit_platt(others_p, others_y)
        c["ece_raw"] = ece(c["raw"], c["step_correct"])
        c["calibrated"] = [apply_platt(p, cal) for p in c["raw"]]
        c["ece_calibrated"] = ece(c["calibrated"], c["step_correct"])
        # what a user would be told: flagged low confidence (cross-fitted confidence under the threshold, no
        # known cue at the chosen step, a single candidate, or far from the cell model's training traces),
        # and how often an unflagged answer is wrong
        flag = [q < LOW_CONFIDENCE or e is False or k <= 1 or bool(f) or (r or 0.0) >= CLOSE_CALL
                for q, e, k, f, r in zip(c["calibrated"], c["explained"], c["n_candidates"], c["far"], c["ratio"],
                                         strict=True)]
        # the same without the close-call rule, to show what that rule adds
        flag0 = [q < LOW_CONFIDENCE or e is False or k <= 1 or bool(f)
                 for q, e, k, f in zip(c["calibrated"], c["explained"], c["n_candidates"], c["far"], strict=True)]
        c["flagged_without_close_call"] = sum(flag0) / len(flag0)
        c["confident_wrong_without_close_call"] = sum(
            1 - y for y, f in zip(c["step_correct"], flag0, strict=True) if not f) / len(flag0)
        c["far_share"] = sum(bool(f) for f in c["far"]) / len(flag)
        c["flagged"] = sum(flag) / len(flag)
        conf_idx = [i for i, f in enumerate(flag) if not f]
        c["confident_step_accuracy"] = (
            sum(c["step_correct"][i] for i in conf_idx) / len(conf_idx) if conf_idx else float("nan")
        )
        c["confident_wrong"] = sum(1 - c["step_correct"][i] for i in conf_idx) / len(flag)
    all_p = [r for c in ok for r in c["raw"]]
    all_cal = [r for c in ok for r in c["calibrated"]]
    all_y = [y for c in ok for y in c["step_correct"]]
    out["calibration"] = {
        "platt": fit_platt(all_p, all_y),
        "reliability_raw": reliability(all_p, all_y),
        "reliability_calibrated": reliability(all_cal, all_y),
        "ece_raw": ece(all_p, all_y),
        "ece_calibrated": ece(all_cal, all_y),
    }


def _pct(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def print_matrix(rep: dict[str, Any], console: Any) -> None:
    """Print the leave-one-out matrix with floors and the mean, then the calibration tables."""
    from rich.console import Console
    from rich.table import Table

    if not console.is_terminal and console.width < 150:  # a file or pipe: do not squeeze the matrix into 80 columns
        console = Console(file=console.file, width=150)
    t = Table(title=f"leave one system out · {rep['method']} · {'w/ G' if rep['with_gt'] else 'w/o G'} "
                    "(train on all other sources -> score this one; % exact match"
                    + ("; transcripts scored by a model trained on the others as transcripts)"
                       if rep.get("views", "matched") == "matched" else "; every source trained on as loaded)"))
    cols = ("scored source", "n", "train n", "agent", "step", "rand a/s", "1st spk a/s", "step1 a/s",
            "best floor a/s", "top-3", "ECE raw", "ECE cal")
    for c in cols:
        t.add_column(c, justify="left" if c == "scored source" else "right", no_wrap=c == "scored source",
                     overflow="fold")
    for c in rep["cells"]:
        f = c["floors"]
        t.add_row(c["source"], str(c["n"]), str(c["train_n"]), _pct(c["agent"]), _pct(c["step"]),
                  *(f"{_pct(f[k]['agent'])}/{_pct(f[k]['step'])}" for k in _FLOORS),
                  f"{_pct(c['best_floor_agent'])}/{_pct(c['best_floor_step'])}", _pct(c["top3"]),
                  _pct(c.get("ece_raw")), _pct(c.get("ece_calibrated")))
    t.add_row("[bold]mean over systems[/]", "", "", f"[bold]{_pct(rep['mean_agent'])}[/]",
              f"[bold]{_pct(rep['mean_step'])}[/]", "", "", "",
              f"{_pct(rep['mean_best_floor_agent'])}/{_pct(rep['mean_best_floor_step'])}", _pct(rep["mean_top3"]),
              "", "")
    console.print(t)
    console.print(
        f"mean - best floor: agent {100 * (rep['mean_agent'] - rep['mean_best_floor_agent']):+.1f} points, "
        f"step {100 * (rep['mean_step'] - rep['mean_best_floor_step']):+.1f} points; "
        "top-3 = the gold step is among the three candidates; ECE over 5 bins of the step confidence "
        "(cal = Platt map fitted on the other sources' held-out predictions)"
    )
    cal = rep.get("calibration")
    if not cal:
        return
    ft = Table(title=f"what the user is told (flagged = calibrated confidence < {LOW_CONFIDENCE}, no known cue, "
                     f"one step, far from the training traces, or a runner-up >= {CLOSE_CALL} as likely)")
    for c in ("scored source", "n", "far", "flagged", "step acc. unflagged", "step acc. all", "confident & wrong",
              "flagged / conf. & wrong w/o close-call rule"):
        ft.add_column(c, justify="left" if c == "scored source" else "right", no_wrap=c == "scored source",
                      overflow="fold")
    for c in rep["cells"]:
        if "flagged" in c:
            ft.add_row(c["source"], str(c["n"]), _pct(c["far_share"]), _pct(c["flagged"]), _pct(c["confident_step_accuracy"]),
                       _pct(c["step"]), _pct(c["confident_wrong"]),
                       f"{_pct(c['flagged_without_close_call'])} / {_pct(c['confident_wrong_without_close_call'])}")
    console.print(ft)
    rt = Table(title="reliability (all held-out predictions pooled): step confidence vs accuracy")
    for c in ("bin", "n raw", "conf raw", "acc raw", "n cal", "conf cal", "acc cal"):
        rt.add_column(c, justify="right")
    for a, b in zip(cal["reliability_raw"], cal["reliability_calibrated"], strict=True):
        rt.add_row(a["bin"], str(a["n"]), _pct(a["confidence"]), _pct(a["accuracy"]),
                   str(b["n"]), _pct(b["confidence"]), _pct(b["accuracy"]))
    console.print(rt)
    console.print(f"ECE pooled: raw {_pct(cal['ece_raw'])}, cross-fitted Platt {_pct(cal['ece_calibrated'])}; "
                  f"Platt map on all held-out predictions: a={cal['platt']['a']}, b={cal['platt']['b']}")


def write_calibration(rep: dict[str, Any], path: Path, distances: Sequence[float]) -> dict[str, Any]:
    """Write the confidence calibration (Platt map, feature-distance limit) that the attributor reads."""
    import json

    cal = rep.get("calibration")
    if not cal:
        raise ValueError("no calibration: the leave-one-out predictions carry no raw probabilities")
    ds = sorted(d for d in distances if d is not None)
    limit = ds[min(len(ds) - 1, int(0.99 * len(ds)))] if ds else None
    doc = {
        "format": "agentracer-calibration/1",
        "a": cal["platt"]["a"],
        "b": cal["platt"]["b"],
        "distance_limit": None if limit is None else round(float(limit), 4),
        "fitted_on": "leave-one-system-out step predictions of " + ", ".join(c["source"] for c in rep["cells"]),
        "n": sum(c["n"] for c in rep["cells"]),
        "ece_raw": round(cal["ece_raw"], 4),
        "ece_cross_fitted": round(cal["ece_calibrated"], 4),
        "distance_limit_is": "99th percentile of the shipped parameters' feature distance over those traces",
    }
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return doc
