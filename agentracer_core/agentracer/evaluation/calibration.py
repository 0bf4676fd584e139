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


_MAX_STEP = 2.0


def _logit(p: float) -> float:
    q = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(q / (1 - q))


def _sigmoid(z: float) -> float:
    """1 / (1 + e^-z) without overflow for large |z|."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def fit_platt(probs: Sequence[float], correct: Sequence[float], l2: float = 1e-3, iters: int = 50) -> dict[str, float]:
    """``a, b`` of ``sigmoid(a * logit(p) + b)`` by Newton's method on the log-likelihood (a little L2)."""
    xs = [_logit(p) for p in probs]
    a, b = 1.0, 0.0
    for _ in range(iters):
        ga = gb = haa = hab = hbb = 0.0
        for x, y in zip(xs, correct, strict=True):
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
        big = max(abs(da), abs(db))
        if big > _MAX_STEP:  # a nearly separable set: keep Newton from flying off (damped step)
            da, db = da * _MAX_STEP / big, db * _MAX_STEP / big
        a, b = a - da, b - db
        if abs(da) + abs(db) < 1e-9:
            break
    return {"a": round(a, 6), "b": round(b, 6)}


def apply_platt(p: float, cal: dict[str, float]) -> float:
    """The calibrated probability for raw ``p`` under ``cal`` (``{"a", "b"}``)."""
    return _sigmoid(cal["a"] * _logit(p) + cal["b"])
