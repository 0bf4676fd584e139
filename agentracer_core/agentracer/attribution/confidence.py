"""Honest answers: no blame for a successful run, calibrated confidence, the top-3 candidates, and a plain
"low confidence" note when an answer should be confirmed.

- :func:`outcome_guard`: a trace whose ``outcome`` is ``success`` is **not blamed**: the answer is an
  :class:`~agentracer.trace.Attribution` with ``agent = step = None``, ``confidence = 0.0`` and
  ``metadata["abstained"] = "success"`` (no exception is raised; ``force=True`` attributes anyway). An
  ``unknown`` outcome gives a one-line warning and is attributed.
- :func:`calibrate`: the raw probability of the chosen step (the step ranker's softmax) mapped to the
  probability that the step is the decisive one, by a Platt map (``sigmoid(a * logit(p) + b)``) fitted on
  the **leave-one-system-out** predictions (``agentracer eval --leave-one-out ... --calibrate-out``,
  :mod:`agentracer.evaluation.crosssys`) and shipped in ``calibration.json``. Without that file the raw
  probability is used.
- :func:`assess`: whether an answer is *low confidence*, with the reasons in plain words: a calibrated
  confidence under :data:`LOW_CONFIDENCE`, a trace with one candidate step (nothing to compare it with),
  a chosen step that none of the known cues explains, a close call (another candidate at least
  :data:`CLOSE_CALL` as likely as the chosen step), or a trace whose feature rows lie far from the
  training data (the root-mean-square standardised feature value above the 99th percentile over the
  model's training traces, stored with its parameters; for parameters without it, the ``distance_limit``
  of ``calibration.json``, the same percentile under them over the traces the calibration saw).

Pure Python; what is fitted here is only read (fitting lives in :mod:`agentracer.evaluation.calibration`).
"""

from __future__ import annotations

import json
import math
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..trace import Attribution, Trace

__all__ = [
    "CALIBRATION",
    "CLOSE_CALL",
    "LOW_CONFIDENCE",
    "assess",
    "calibrate",
    "candidates_text",
    "check_verdict",
    "feature_distance",
    "load_calibration",
    "low_confidence_note",
    "outcome_guard",
]

CALIBRATION = Path(__file__).with_name("calibration.json")
LOW_CONFIDENCE = 0.4  # below this calibrated step confidence an answer is flagged for confirmation
CLOSE_CALL = 0.5  # a runner-up candidate with at least this share of the chosen step's probability: a close call
SUCCESS_REASON = "the run succeeded (outcome 'success'): there is no failure to attribute"


def outcome_guard(trace: Trace, method: str = "", force: bool = False) -> Attribution | None:
    """The non-blaming answer for a successful ``trace`` (``None`` when it should be attributed).

    An ``unknown`` outcome issues a one-line :class:`UserWarning` and returns ``None``.
    """
    if trace.outcome == "success" and not force:
        return Attribution(agent=None, step=None, reason=SUCCESS_REASON, confidence=0.0, method=method,
                           metadata={"abstained": "success"})
    if trace.outcome == "unknown":
        warnings.warn(f"trace {trace.run_id}: outcome unknown; attributing it as if it failed",
                      UserWarning, stacklevel=3)
    return None


@lru_cache(maxsize=4)
def _read(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        return {}
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read the calibration file {p}: {e}") from None
    return d if isinstance(d, dict) else {}


def load_calibration(path: str | Path | None = None) -> dict[str, Any]:
    """The calibration dict (``{"a", "b", "distance_limit", ...}``); empty when no file ships."""
    return _read(str(path or CALIBRATION))


def calibrate(p: float, cal: dict[str, Any] | None = None) -> float:
    """The calibrated probability that the chosen step is the decisive one, from its raw probability."""
    cal = load_calibration() if cal is None else cal
    if "a" not in cal or "b" not in cal:
        return p
    q = min(max(p, 1e-6), 1 - 1e-6)
    z = float(cal["a"]) * math.log(q / (1 - q)) + float(cal["b"])
    return 1.0 / (1.0 + math.exp(-z))


def feature_distance(rows: list[list[float]], mu: list[float], sd: list[float]) -> float:
    """Root-mean-square standardised value over a trace's step rows (how far it lies from the training data)."""
    if not rows:
        return 0.0
    tot, n = 0.0, 0
    for r in rows:
        for x, m, s in zip(r, mu, sd, strict=True):
            z = (x - m) / s if s else 0.0
            tot += z * z
            n += 1
    return math.sqrt(tot / n) if n else 0.0


def candidates_text(cands: list[dict[str, Any]]) -> str:
    """``step 3 (coder, 41%), step 5 (reviewer, 22%)``: the candidates in plain words."""
    return ", ".join(
        f"step {c['step']} ({c.get('agent')}, {100 * (c.get('probability') or 0):.0f}%)" for c in cands
    )


def low_confidence_note(cands: list[dict[str, Any]], why: list[str]) -> str:
    """The plain-words note of a low-confidence answer."""
    return (
        f"low confidence ({'; '.join(why)}): candidates {candidates_text(cands)}; confirm with "
        "`agentracer attribute --verify` (replay) or an LLM tracer with `--method rerank:BACKEND`"
    )


def assess(conf: float, n_candidates: int, explained: bool, distance: float | None,
           cal: dict[str, Any] | None = None, distance_limit: float | None = None,
           runner_up_ratio: float | None = None) -> list[str]:
    """The reasons (plain words) why an answer is low confidence; empty when it is not.

    ``distance_limit``: the model's own limit (the 99th percentile over its training traces, stored by
    :func:`~agentracer.attribution.listwise.train_params`), else the calibration file's."""
    cal = load_calibration() if cal is None else cal
    why = []
    if n_candidates <= 1:
        why.append("the trace has one step, so there is nothing to compare it with")
    if conf < LOW_CONFIDENCE:
        why.append(f"confidence {conf:.2f} is under {LOW_CONFIDENCE:.2f}")
    if not explained:
        why.append("no known failure cue fires at the chosen step")
    if runner_up_ratio is not None and runner_up_ratio >= CLOSE_CALL:
        why.append("a close call: another candidate is at least as likely" if runner_up_ratio >= 1 else
                   f"a close call: another candidate is {100 * runner_up_ratio:.0f}% as likely")
    limit = distance_limit if distance_limit is not None else cal.get("distance_limit")
    if distance is not None and isinstance(limit, (int, float)) and distance > limit:
        why.append(f"the trace is far from the training data (feature distance {distance:.2f} > {limit:.2f})")
    return why


def check_verdict(att: Attribution, step: int | None, agent: str | None, check: str = "the fork check") -> str:
    """One plain sentence: does ``att`` agree with an independent ``check`` (a counterfactual fork, a planted
    fault) that found ``agent``'s ``step`` decisive? On a disagreement it names both, the top-3 candidates and
    whether the check's step is among them, and says which to trust."""
    from ..trace import normalize_agent

    if att.metadata.get("abstained"):
        return f"the attributor did not blame anyone ({att.reason}); {check} names {agent}'s step {step}."
    conf = f", confidence {att.confidence:.2f}" if att.confidence is not None else ""
    if att.step == step:
        return f"the attribution ({att.agent}, step {att.step}{conf}) agrees with {check}."
    same_agent = att.agent is not None and agent is not None and normalize_agent(att.agent) == normalize_agent(agent)
    among = any(c.get("step") == step for c in att.candidates)
    return (
        f"the attribution ({att.agent}, step {att.step}{conf}) DISAGREES with {check}, which shows that "
        f"{agent}'s step {step} is decisive{' (same agent, another step)' if same_agent else ''}. "
        f"Top-{len(att.candidates)} candidates: {candidates_text(att.candidates) or 'none'}; "
        f"{check}'s step is {'among them' if among else 'not among them'}. "
        f"Trust {check} here."
    )
