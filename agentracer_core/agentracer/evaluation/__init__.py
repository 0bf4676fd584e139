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
- ``folds <= 1`` (or a method that does not learn): the method is used as it ships; for a learned
  method the shipped parameters are then used, exactly as ``agentracer attribute`` does, so both give
  the same answer for a file (the score is optimistic when the shipped model was trained on this set).
- Mean ± std are over folds × seeds (each test fold's accuracy); the 95% interval is a **percentile
  bootstrap over the scored traces** (2000 resamples, seed 0) of the accuracy, each trace's correctness
  averaged over seeds.
- Floors on the same files: random (its expectation: 1/#steps and 1/#agents per trace, and the mean
  of :class:`~agentracer.attribution.base.RandomGuess` over the seeds), first speaker, always step 1.
"""

from __future__ import annotations

import json
import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..attribution.base import Attributor, FirstSpeaker, RandomGuess, StepOne, TrainableAttributor, get_attributor
from ..trace import AnnotatedTrace, Attribution, TraceError, normalize_agent

__all__ = [
    "EvalItem",
    "cross_validate",
    "evaluate",
    "lenient_step_match",
    "load_items",
    "predict",
    "run_eval_cli",
    "score",
]

CI_METHOD = (
    "percentile bootstrap over the scored traces (2000 resamples, seed 0) of the per-trace correctness "
    "averaged over seeds"
)
LENIENT_NOTE = "lenient = Who&When's substring step match, for comparison with published numbers only"


@dataclass
class EvalItem:
    """One annotated trace to score, with the file it came from and its subset labels."""

    item: AnnotatedTrace
    file: str
    subsets: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Unique id of the item within an evaluation: file and run id."""
        return f"{self.file}#{self.item.trace.run_id}"


# ---------------------------------------------------------------------- loading
def _natural(p: Path) -> tuple[Any, ...]:
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in p.with_suffix("").parts)


def _files(src: Path) -> list[Path]:
    if src.is_dir():
        return sorted((p for p in src.rglob("*") if p.suffix in (".json", ".jsonl") and p.is_file()), key=_natural)
    if not src.exists():
        raise TraceError("no such file or folder", file=str(src))
    return [src]


_TRACE_KEYS = ("run_id", "steps", "history", "resourceSpans", "resource_spans")


def _looks_like_traces(path: Path) -> bool:
    """Whether the first JSON value of ``path`` (its first line for JSONL) has the keys of a trace."""
    try:
        with path.open(encoding="utf-8") as fh:
            head = fh.readline() if path.suffix == ".jsonl" else fh.read()
        d = json.loads(head)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return True  # unreadable: let the reader's error stand
    if isinstance(d, list):
        d = d[0] if d else {}
    return isinstance(d, dict) and any(k in d for k in _TRACE_KEYS)


def _subsets(it: AnnotatedTrace, rel_folder: str) -> dict[str, str]:
    tr = it.trace
    out = {"folder": rel_folder or "."}
    ww = tr.metadata.get("whowhen") if isinstance(tr.metadata.get("whowhen"), dict) else {}
    level = ww.get("level", tr.metadata.get("level"))
    if level is not None:
        out["level"] = str(level)
    out["source"] = it.source
    if it.fault_type:
        out["fault_type"] = it.fault_type
    out["framework"] = tr.framework
    for key in ("domain", "subset"):
        v = tr.metadata.get(key, it.metadata.get(key))
        if isinstance(v, (str, int)):
            out[key] = str(v)
    return out


def load_items(src: str | Path | Sequence[str | Path]) -> tuple[list[EvalItem], list[str]]:
    """Every annotated trace under ``src`` (a file or a folder, searched recursively), and warnings.

    Files that hold traces without a gold attribution, and (in a folder) JSON files that are not traces
    at all (manifests, ledgers), are skipped and named in the warnings; a malformed trace file raises
    :class:`TraceError` naming it.
    """
    from ..formats import read

    srcs = [Path(s) for s in ([src] if isinstance(src, (str, Path)) else src)]
    items: list[EvalItem] = []
    warnings: list[str] = []
    for root in srcs:
        for f in _files(root):
            try:
                got = read(f)
            except TraceError as e:
                # a folder may also hold manifests, ledgers, dataset metadata: skip what is not a trace
                if root.is_dir() and (e.reason.startswith("unrecognised format") or not _looks_like_traces(f)):
                    warnings.append(f"{f}: not a trace file, skipped")
                    continue
                raise
            rel = f.parent.relative_to(root).as_posix() if root.is_dir() else ""
            n_plain = 0
            for x in got:
                if isinstance(x, AnnotatedTrace) and x.gold is not None:
                    items.append(EvalItem(x, str(f), _subsets(x, rel)))
                else:
                    n_plain += 1
            if n_plain:
                warnings.append(f"{f}: {n_plain} trace(s) without a gold attribution skipped")
    return items, warnings


# ---------------------------------------------------------------------- scoring
def lenient_step_match(pred: int | None, gold: int | None) -> bool:
    """Who&When's lenient step match: ``str(gold)`` is a substring of ``str(pred)``."""
    if pred is None or gold is None:
        return False
    return str(gold) in str(pred)


def score(att: Attribution, gold: Attribution) -> dict[str, bool]:
    """Exact agent and step correctness, plus the lenient step match."""
    agent_ok, step_ok = att.matches(gold)
    return {"agent": agent_ok, "step": step_ok, "step_lenient": lenient_step_match(att.step, gold.step)}


def predict(
    att: Attributor, items: Sequence[EvalItem], with_gt: bool, progress: Callable[[int], None] | None = None
) -> list[Attribution]:
    """Predictions of ``att`` for ``items`` (batched when the attributor has ``attribute_batch``).

    An exception raised by the attributor for one trace is recorded as an unparsed Attribution (its
    message in ``reason``) so one bad trace does not lose the run.
    """
    traces = [e.item.trace for e in items]
    gts = [t.ground_truth if with_gt else None for t in traces]
    batch = getattr(att, "attribute_batch", None)
    if callable(batch) and len(traces) > 1:
        out: list[Attribution] = []
        for i in range(0, len(traces), 16):
            try:
                out.extend(batch(traces[i : i + 16], gts[i : i + 16]))
            except Exception:  # fall back to one at a time to isolate the failing trace
                out.extend(_one(att, t, g) for t, g in zip(traces[i : i + 16], gts[i : i + 16], strict=True))
            if progress:
                progress(min(16, len(traces) - i))
        return out
    res = []
    for t, g in zip(traces, gts, strict=True):
        res.append(_one(att, t, g))
        if progress:
            progress(1)
    return res


def _one(att: Attributor, trace: Any, gt: str | None) -> Attribution:
    try:
        return att.attribute(trace, ground_truth=gt)
    except Exception as e:  # recorded, counted and reported; never silently scored as correct
        return Attribution(
            agent=None,
            step=None,
            reason=f"attributor error: {type(e).__name__}: {e}",
            method=getattr(att, "name", "?"),
            parsed=False,
            metadata={"error": True},
        )


def _acc(flags: Sequence[float]) -> float:
    return sum(flags) / len(flags) if flags else float("nan")


def _bootstrap(per_file: Sequence[float], n: int = 2000, seed: int = 0) -> list[float]:
    if not per_file:
        return [float("nan"), float("nan")]
    rng = random.Random(seed)
    m = len(per_file)
    stats = sorted(sum(per_file[rng.randrange(m)] for _ in range(m)) / m for _ in range(n))
    return [round(stats[int(0.025 * n)], 4), round(stats[min(n - 1, int(0.975 * n))], 4)]


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return float("nan"), float("nan")
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def _is_trainable(att: Any) -> bool:
    return isinstance(att, TrainableAttributor) and callable(getattr(att, "fit", None))


# ---------------------------------------------------------------------- cross-validation
def cv_unit(items: Sequence[EvalItem], folds: int) -> str:
    """What CV splits on: ``file`` (the default), or ``trace`` when the set has fewer files than folds
    (e.g. one JSONL file of generated traces)."""
    return "file" if len({e.file for e in items}) >= max(2, folds) else "trace"


def _group(e: EvalItem, unit: str) -> str:
    return e.file if unit == "file" else e.key


def fold_assignment(items: Sequence[EvalItem], folds: int, seed: int) -> dict[str, int]:
    """Group -> fold for K-fold CV: the groups (files, see :func:`cv_unit`) are shuffled with ``seed`` and
    dealt round-robin. Keys are files, or ``file#run_id`` when splitting by trace."""
    unit = cv_unit(items, folds)
    # a total order (ties broken by the full key), so folds never depend on set iteration order
    groups = sorted({_group(e, unit) for e in items}, key=lambda g: (_natural(Path(g.split("#", 1)[0])), g))
    random.Random(seed).shuffle(groups)
    k = max(1, min(folds, len(groups)))
    return {g: i % k for i, g in enumerate(groups)}


def fold_of_items(items: Sequence[EvalItem], folds: int, seed: int) -> list[int]:
    """The fold of each item (see :func:`fold_assignment`)."""
    assign = fold_assignment(items, folds, seed)
    unit = cv_unit(items, folds)
    return [assign[_group(e, unit)] for e in items]


def _same_run(a: AnnotatedTrace, b: AnnotatedTrace) -> bool:
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


# ---------------------------------------------------------------------- evaluation
def _floors(items: Sequence[EvalItem], with_gt: bool, seeds: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, att in (("first-speaker", FirstSpeaker()), ("step-one", StepOne())):
        res = [score(a, e.item.gold) for a, e in zip(predict(att, items, with_gt), items, strict=True)]
        out[name] = {
            k: _acc([r[k2] for r in res])
            for k, k2 in (
                ("agent_accuracy", "agent"),
                ("step_accuracy", "step"),
                ("step_accuracy_lenient", "step_lenient"),
            )
        }
        out[name]["per_file"] = res
    # random: expectation, and the mean of RandomGuess over the seeds
    exp_step, exp_agent, exp_len = [], [], []
    for e in items:
        steps = e.item.trace.agent_steps()
        n = len(steps)
        agents = sorted({s.agent for s in steps})
        g = e.item.gold
        exp_step.append(1.0 / n if n and any(s.index == g.step for s in steps) else 0.0)
        exp_agent.append(
            1.0 / len(agents) if agents and any(normalize_agent(a) == normalize_agent(g.agent) for a in agents) else 0.0
        )
        exp_len.append(sum(lenient_step_match(s.index, g.step) for s in steps) / n if n else 0.0)
    sims = []
    for s in range(max(1, seeds)):
        res = [score(a, e.item.gold) for a, e in zip(predict(RandomGuess(seed=s), items, with_gt), items, strict=True)]
        sims.append((_acc([r["agent"] for r in res]), _acc([r["step"] for r in res])))
    out["random"] = {
        "agent_accuracy": _acc(exp_agent),
        "step_accuracy": _acc(exp_step),
        "step_accuracy_lenient": _acc(exp_len),
        "simulated_agent_accuracy": statistics.fmean(a for a, _ in sims),
        "simulated_step_accuracy": statistics.fmean(s for _, s in sims),
        "simulated_seeds": max(1, seeds),
        "per_file": [
            {"agent": a, "step": s, "step_lenient": le} for a, s, le in zip(exp_agent, exp_step, exp_len, strict=True)
        ],
    }
    return out


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

    ``factory`` builds a fresh attributor (default: ``get_attributor(method)``), used for each CV fold.
    """
    if not items:
        raise ValueError("no annotated traces to evaluate")
    if factory is None:
        if isinstance(method, str):
            factory = lambda: get_attributor(method)  # noqa: E731
        else:
            att0 = method
            factory = lambda: att0  # noqa: E731
    proto = factory()
    name = method if isinstance(method, str) else getattr(method, "name", type(method).__name__)
    learns = _is_trainable(proto)
    seeds = max(1, int(seeds))
    runs: list[dict[str, Any]] = []  # one per seed: preds, fold_of, train_sizes
    dropped = 0
    if train:
        if not learns:
            raise ValueError(f"method {name!r} does not learn (no fit()); --train needs a trainable method")
        test_files = {e.file for e in items}
        clean = [
            t.item for t in train if t.file not in test_files and not any(_same_run(t.item, e.item) for e in items)
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
        n_groups = len({_group(e, unit) for e in items})
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
    return _report(items, runs, name, with_gt, folds, seeds, protocol, learns, dropped)


def _report(
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
                    "agent_accuracy": _acc([sc[i]["agent"] for i in idx]),
                    "step_accuracy": _acc([sc[i]["step"] for i in idx]),
                }
            )
    per_file = {
        k: [statistics.fmean(sc[i][k] for sc in per_seed_scores) for i in range(n)]
        for k in ("agent", "step", "step_lenient")
    }
    agent_mean, agent_std = _mean_std([r["agent_accuracy"] for r in fold_rows])
    step_mean, step_std = _mean_std([r["step_accuracy"] for r in fold_rows])
    floors = _floors(items, with_gt, seeds)
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
                "agent_accuracy": _acc([per_file["agent"][i] for i in idx]),
                "step_accuracy": _acc([per_file["step"][i] for i in idx]),
                "floors": {
                    fn: {
                        "agent_accuracy": _acc([fl["per_file"][i]["agent"] for i in idx]),
                        "step_accuracy": _acc([fl["per_file"][i]["step"] for i in idx]),
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
        "agent_accuracy": _acc(per_file["agent"]),
        "step_accuracy": _acc(per_file["step"]),
        "step_accuracy_lenient": _acc(per_file["step_lenient"]),
        "agent_accuracy_fold_mean": agent_mean,
        "agent_accuracy_fold_std": agent_std,
        "step_accuracy_fold_mean": step_mean,
        "step_accuracy_fold_std": step_std,
        "agent_ci95": _bootstrap(per_file["agent"]),
        "step_ci95": _bootstrap(per_file["step"]),
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
                "agent_accuracy": _acc([s["agent"] for s in sc]),
                "step_accuracy": _acc([s["step"] for s in sc]),
            }
            for r, sc in zip(runs, per_seed_scores, strict=True)
        ],
        "per_subset": per_subset,
        "predictions": preds_out,
    }


# ---------------------------------------------------------------------- printing / CLI
def _pct(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def print_report(rep: dict[str, Any], console: Any) -> None:
    """Print the accuracy table with the floors beside it, the spread and interval, and per-subset tables."""
    from rich.table import Table

    gt = "w/ G" if rep["with_gt"] else "w/o G"
    t = Table(title=f"{rep['method']} · {gt} · {rep['n']} traces")
    for col in ("method", "agent", "step", "step (lenient*)"):
        t.add_column(col, justify="left" if col == "method" else "right")
    t.add_row(
        f"[bold]{rep['method']}[/]",
        f"[bold]{_pct(rep['agent_accuracy'])}[/]",
        f"[bold]{_pct(rep['step_accuracy'])}[/]",
        _pct(rep["step_accuracy_lenient"]),
    )
    labels = {
        "random": "floor: random (expected)",
        "first-speaker": "floor: first speaker",
        "step-one": "floor: always step 1",
    }
    for key in ("random", "first-speaker", "step-one"):
        fl = rep["floors"][key]
        t.add_row(labels[key], _pct(fl["agent_accuracy"]), _pct(fl["step_accuracy"]), _pct(fl["step_accuracy_lenient"]))
    console.print(t)
    n_folds = len(rep["fold_results"])
    console.print(f"protocol: {rep['protocol']}")
    console.print(
        f"agent {_pct(rep['agent_accuracy_fold_mean'])} ± {_pct(rep['agent_accuracy_fold_std'])} "
        f"(95% CI {_pct(rep['agent_ci95'][0])}-{_pct(rep['agent_ci95'][1])}), "
        f"step {_pct(rep['step_accuracy_fold_mean'])} ± {_pct(rep['step_accuracy_fold_std'])} "
        f"(95% CI {_pct(rep['step_ci95'][0])}-{_pct(rep['step_ci95'][1])}); "
        f"mean ± std over {n_folds} test fold(s)"
    )
    console.print(f"[dim]95% CI: {CI_METHOD}.[/]")
    console.print(f"[dim]* {LENIENT_NOTE}.[/]")
    if rep.get("unparsed"):
        console.print(
            f"[yellow]{rep['unparsed']} prediction(s) unparsed ({rep['attributor_errors']} attributor errors), "
            "scored wrong[/]"
        )
    for dim, groups in rep["per_subset"].items():
        if len(groups) < 2:
            continue
        st = Table(title=f"per {dim}")
        for col in ("subset", "n", "agent", "step", "floor agent (first speaker)", "floor step (step 1)"):
            st.add_column(col, justify="left" if col == "subset" else "right")
        for v, g in groups.items():
            st.add_row(
                v,
                str(g["n"]),
                _pct(g["agent_accuracy"]),
                _pct(g["step_accuracy"]),
                _pct(g["floors"]["first-speaker"]["agent_accuracy"]),
                _pct(g["floors"]["step-one"]["step_accuracy"]),
            )
        console.print(st)


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
    import typer
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
        get_attributor(method)  # fail early on an unknown method
        learns = _is_trainable(get_attributor(method))
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
                progress=lambda k: prog.advance(task, k),
            )
    except TraceError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except (ValueError, ImportError, RuntimeError) as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    rep["src"] = str(src)
    rep["train"] = [str(p) for p in train or []]
    print_report(rep, console)
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(rep, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        console.print(f"wrote {out}")
    return rep
