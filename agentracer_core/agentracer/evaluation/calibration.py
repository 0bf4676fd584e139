"""Calibration of the embedded attributor's confidence: the reliability table, the expected calibration error
and the Platt map fitted on leave-one-system-out predictions (pure Python; read back by
:func:`agentracer.attribution.confidence.calibrate`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["apply_platt", "ece", "fit_platt", "reliability"]

BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0000001)


def reliability(probs: Sequence[float], correct: Sequence[float]) -> list[dict[str, Any]]:
    """Per confidence bin (0-0.2, ..., 0.8-1): the count, the mean confidence and the accuracy."""
    rows = []
    for lo, hi in zip(BINS, BINS[1:], strict=False):
        idx = [i for i, p in enumerate(probs) if lo <= p < hi]
        rows.append({
            "bin": f"{lo:.1f}-{min(hi, 1.0):.1f}",
            "n": len(idx),
            "confidence": sum(probs[i] for i in idx) / len(idx) if idx else float("nan"),
            "accuracy": sum(correct[i] for i in idx) / len(idx) if idx else float("nan"),
        })
    return rows


def ece(probs: Sequence[float], correct: Sequence[float]) -> float:
    """Expected calibration error over the bins of :func:`reliability` (weighted by bin size)."""
    n = len(probs)
    if not n:
        return float("nan")
    return sum(r["n"] / n * abs(r["confidence"] - r["accuracy"]) for r in reliability(probs, correct) if r["n"])


def _logit(p: float) -> float:
    q = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(q / (1 - q))


def _sigmoid(z: float) -> float:
    """1 / (1 + e^-z) without overflow for large |z|."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def fit_platt(probs: Sequence[float], correct: Sequence[float], l2: float = 1e-3, iters: int = 100) -> dict[str, float]:
    """``a, b`` of ``sigmoid(a * logit(p) + b)``: Newton's method on the penalised log-likelihood (a little L2
    towards ``a = 1, b = 0``), each step halved until the objective falls, so that nearly separable sets (many
    raw probabilities of 0 or 1) neither overflow nor stall away from the optimum."""
    xs = [_logit(p) for p in probs]
    ys = list(correct)

    def loss(a: float, b: float) -> float:
        total = 0.0
        for x, y in zip(xs, ys, strict=True):
            z = a * x + b
            # log(1 + e^z) - y * z, computed without overflow
            total += (z if z > 0 else 0.0) + math.log1p(math.exp(-abs(z))) - y * z
        return total + 0.5 * l2 * ((a - 1.0) ** 2 + b * b)

    a, b = 1.0, 0.0
    f = loss(a, b)
    for _ in range(iters):
        ga = gb = haa = hab = hbb = 0.0
        for x, y in zip(xs, ys, strict=True):
            q = _sigmoid(a * x + b)
            ga += (q - y) * x
            gb += q - y
            w = q * (1 - q)
            haa += w * x * x
            hab += w * x
            hbb += w
        ga += l2 * (a - 1.0)
        gb += l2 * b
        haa += l2
        hbb += l2
        det = haa * hbb - hab * hab
        if det <= 1e-12:
            break
        da = (hbb * ga - hab * gb) / det
        db = (haa * gb - hab * ga) / det
        t = 1.0
        for _ in range(40):
            f_new = loss(a - t * da, b - t * db)
            if f_new <= f:
                break
            t *= 0.5
        else:
            break
        a, b, step = a - t * da, b - t * db, t * (abs(da) + abs(db))
        done = f - f_new < 1e-10 * max(1.0, abs(f)) or step < 1e-9
        f = f_new
        if done:
            break
    return {"a": round(a, 6), "b": round(b, 6)}


def apply_platt(p: float, cal: dict[str, float]) -> float:
    """The calibrated probability for raw ``p`` under ``cal`` (``{"a", "b"}``)."""
    return _sigmoid(cal["a"] * _logit(p) + cal["b"])
