"""Scoring: exact (and lenient) match, predictions that survive a failing trace, accuracy, the bootstrap
interval, and the floors (random, first speaker, always step 1) on the same traces."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from ..attribution.base import Attributor, FirstSpeaker, RandomGuess, StepOne
from ..trace import Attribution, normalize_agent
from .items import EvalItem

__all__ = [
    "CI_METHOD",
    "LENIENT_NOTE",
    "accuracy",
    "bootstrap_ci",
    "floor_scores",
    "lenient_step_match",
    "mean_std",
    "predict",
    "score",
]

CI_METHOD = (
    "percentile bootstrap over the scored traces (2000 resamples, seed 0) of the per-trace correctness "
    "averaged over seeds"
)
LENIENT_NOTE = "lenient = Who&When's substring step match, for comparison with published numbers only"


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


def accuracy(flags: Sequence[float]) -> float:
    """The mean of 0/1 (or fractional) correctness flags; NaN for none."""
    return sum(flags) / len(flags) if flags else float("nan")


def bootstrap_ci(per_file: Sequence[float], n: int = 2000, seed: int = 0) -> list[float]:
    """95% percentile bootstrap interval of the mean of ``per_file`` (``n`` resamples, seeded)."""
    if not per_file:
        return [float("nan"), float("nan")]
    rng = random.Random(seed)
    m = len(per_file)
    stats = sorted(sum(per_file[rng.randrange(m)] for _ in range(m)) / m for _ in range(n))
    return [round(stats[int(0.025 * n)], 4), round(stats[min(n - 1, int(0.975 * n))], 4)]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation of the values that are not NaN."""
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return float("nan"), float("nan")
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def floor_scores(items: Sequence[EvalItem], with_gt: bool, seeds: int) -> dict[str, dict[str, Any]]:
    """Accuracy of the floors on ``items``: random (expected and simulated), first speaker, step 1."""
    out: dict[str, dict[str, Any]] = {}
    for name, att in (("first-speaker", FirstSpeaker()), ("step-one", StepOne())):
        res = [score(a, e.item.gold) for a, e in zip(predict(att, items, with_gt), items, strict=True)]
        out[name] = {
            k: accuracy([r[k2] for r in res])
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
        sims.append((accuracy([r["agent"] for r in res]), accuracy([r["step"] for r in res])))
    out["random"] = {
        "agent_accuracy": accuracy(exp_agent),
        "step_accuracy": accuracy(exp_step),
        "step_accuracy_lenient": accuracy(exp_len),
        "simulated_agent_accuracy": statistics.fmean(a for a, _ in sims),
        "simulated_step_accuracy": statistics.fmean(s for _, s in sims),
        "simulated_seeds": max(1, seeds),
        "per_file": [
            {"agent": a, "step": s, "step_lenient": le} for a, s, le in zip(exp_agent, exp_step, exp_len, strict=True)
        ],
    }
    return out
