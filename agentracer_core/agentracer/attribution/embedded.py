"""The embedded CPU attributor: offline, milliseconds, no weights to download.

How it decides
--------------
1. :func:`agentracer.attribution.features.extract` turns the trace into one feature row per top-level
   agent step (position, speaker, code and execution outcomes, assumption and unsupported-claim cues,
   provenance of the final answer, "first of its kind" flags, a few cues crossed with trace context,
   and the ground truth when given) and one row per agent.
2. A **listwise linear step ranker** (a conditional logit: softmax over the steps of one trace) gives a
   probability to every step. Training maximises the likelihood of the gold step *within its trace*, so
   the model learns to rank steps against each other rather than to classify them one by one.
3. A second listwise ranker over the **agents** of the trace reads agent features plus each agent's
   total and maximum step probability (learnt on *cross-fitted* step probabilities, so it does not
   over-trust the step ranker). The answer is the most probable agent and that agent's most probable
   step, so agent and step always agree.

The answer also carries the **top-3 candidate steps** with their probabilities (``Attribution.candidates``),
a **calibrated confidence** (the chosen step's probability through the map fitted on leave-one-system-out
predictions, :mod:`.confidence`; the raw one is ``metadata["raw_probability"]``) and, when the answer
should be confirmed, ``metadata["low_confidence"]`` with a plain-words ``metadata["note"]``. A trace with
one candidate step never gets more than :data:`ONE_STEP_CAP`. (Not blaming successful runs is the job of
:func:`agentracer.attribute` and the CLI, see :func:`.confidence.outcome_guard`.)

Two parameter sets ship, one for w/o G and one for w/ G (the ground truth adds features), and each
comes in two **profiles**: the default one, learnt from chat transcripts (Who&When), and a
``framework`` one for traces recorded from an instrumented framework (LangGraph, AutoGen, CAMEL,
MaAS...), learnt from the same transcripts plus runs that the annotation pipeline generates and labels
(by replay and fault injection) in those frameworks, and the labelled failures of the simulated
refinement pipelines (:mod:`agentracer.samples.simulated`). A trace's ``framework`` field picks the profile.

Parameters
----------
Inference is pure Python (no numpy). The shipped parameters (``embedded_params.json``, ~50 KB) are
learnt only from data the project ships or generates (by default Who&When Algorithm-Generated under
``../shared/data``, plus, for the framework profile, a set generated on the spot with
``agentracer annotate generate --framework all --domain all --n 25 --seed 1`` and the simulated
pipelines' failures of seed 100) and are rebuilt with one command::

    python -m agentracer.training.embedded_fit --rebuild [--data DIR ...] [--framework-data PATH ...] \
        [--no-simulated] [--out PATH]

(:mod:`agentracer.training.embedded_fit`; this module only answers).

Training needs numpy (``pip install 'agentracer[embedded]'``). :meth:`EmbeddedAttributor.fit` learns a
fresh model from annotated traces, choosing each ranker's L2 strength from a fixed grid by an inner
5-fold cross-validation on those traces only, so ``agentracer eval`` can cross-validate it honestly
(nested CV: nothing is tuned on a test fold). Outside cross-validation
(``agentracer attribute``, ``agentracer.attribute``, ``eval --folds 0``) the shipped parameters are used.
"""

from __future__ import annotations

import json
import math
from importlib.resources import files
from pathlib import Path
from typing import Any

from ..formats.whowhen import profile_is_transcript
from ..trace import AnnotatedTrace, Attribution, Trace
from .base import register
from .confidence import assess, calibrate, feature_distance, low_confidence_note
from .features import AGENT_FEATURES, STEP_FEATURES, TraceFeatures, extract, with_step_mass
from .listwise import train_params

__all__ = ["DEFAULT_PARAMS", "ONE_STEP_CAP", "EmbeddedAttributor", "profile_of"]

# Package data, found through importlib.resources (a real file: the package is installed unzipped).
DEFAULT_PARAMS = Path(str(files("agentracer.attribution").joinpath("embedded_params.json")))
ONE_STEP_CAP = 0.3  # a trace with one candidate step: nothing to compare it with, so never a confident blame

_REASONS = {
    "first_coder": "it is the first step that writes code for the task",
    "second_coder": "it rewrites the code after the first attempt",
    "next_fail": "the code it wrote failed when executed",
    "next_empty": "its code returned nothing useful",
    "code_for_final": "its code produced the value that the final answer repeats",
    "origin_final": "it is where the final answer's value first appears",
    "intro_final": "it first states a value of the final answer",
    "assume": "it relies on assumed, simulated or placeholder data",
    "first_assume": "it is the first step that assumes or simulates data",
    "claim_unsupported": "it reports results that no tool output supports",
    "first_unsupported": "it is the first step that reports unsupported results",
    "unable": "it gives up on obtaining the needed information",
    "last_substantive": "it is the last message of 30 characters or more before the (wrong) final answer",
    "last_subst_x_terminated": "it is the last message of 30 characters or more before the (wrong) final answer",
    "agree": "it accepts a result without checking it",
    "pos0": "the initial plan/instructions already set the run on a wrong course",
    "pos0_code": "the initial step's code is already wrong",
    "gt_last": "the correct answer was abandoned after this step",
    "after_gt_lost": "it departs from the correct answer stated earlier",
    "new_numbers": "it introduces numbers that nothing earlier supports",
    "first_fail_cause": "it is the first step whose action failed",
    "wrong_equation": "it states a calculation that is arithmetically wrong",
    "first_wrong_equation": "it states a calculation that is arithmetically wrong",
    "restate_drops": "it restates the task but leaves part of it out",
    "answer_mismatch": "its final answer does not match the result just before it",
    "tool_arg_unseen": "it calls a tool with an argument that nothing earlier supports",
    "first_tool_arg_unseen": "it calls a tool with an argument that nothing earlier supports",
    "contradicts_task": "it turns one of the task's conditions the other way",
    "first_contradicts_task": "it turns one of the task's conditions the other way",
    "noop_code": "its code is a stub or does nothing to its input",
    "first_noop_code": "its code is a stub or does nothing to its input",
    "unit_slip": "it converts one of the task's units with the wrong factor",
    "percent_slip": "it uses a percentage from the task as a plain number",
    "rounding_slip": "its final answer ignores the rounding the task asks for",
    "unsourced_value": "it states a value that what it had just read does not hold",
    "first_unsourced": "it is the first step that states a value its source does not hold",
    "new_claim": "it states a value that nothing earlier in the run supports",
    "first_new_claim": "it is the first step that states a value nothing earlier supports",
    "quoted_unseen": "it quotes a name or file that nothing earlier mentioned",
    "first_quoted_unseen": "it quotes a name or file that nothing earlier mentioned",
    "code_unseen_number": "its code computes with a number that nothing earlier gave",
    "first_code_unseen_number": "its code computes with a number that nothing earlier gave",
    "handoff_mismatch": "it hands the work to an agent that never does that kind of action",
    "reply_new_claim": "it hands the work to an agent that then answers with a value from nowhere",
}


# cues of position only (see EmbeddedAttributor._reason)
_POSITIONAL = frozenset({"pos0", "last_substantive", "last_subst_x_terminated"})
_EXPLAINING = 3  # the strongest cues behind an answer that may explain it


def profile_of(trace: Trace) -> str:
    """``"framework"`` for a trace recorded from an instrumented framework, else ``"default"`` (a chat
    transcript imported from elsewhere, :func:`~agentracer.formats.whowhen.profile_is_transcript`)."""
    return "default" if profile_is_transcript(trace) else "framework"


def _softmax(z: list[float]) -> list[float]:
    m = max(z)
    e = [math.exp(v - m) for v in z]
    s = sum(e)
    return [v / s for v in e]


class EmbeddedAttributor:
    """The default attributor: listwise linear rankers over engineered step and agent features.

    ``params`` is a parameter dict (as written by :func:`train_params`); ``None`` loads the shipped
    ``embedded_params.json`` (or ``params_path``). Without any parameters (a checkout where the file was
    deleted) it falls back to a fixed, documented prior (the first code-writing step), marked in
    ``metadata["fallback_prior"]``.
    """

    name = "embedded"

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        params_path: str | Path | None = None,
        features: list[str] | None = None,
    ) -> None:
        self._params = params
        self._custom = params is not None
        self._path = Path(params_path) if params_path else DEFAULT_PARAMS
        self._features = list(features) if features else None  # a subset of STEP_FEATURES for fit()
        self._cols: dict[int, list[int]] = {}  # id(mode) -> positions of its step features in STEP_FEATURES
        self._train_items: list[AnnotatedTrace] = []  # set by fit(): the w/ G mode is learnt when first asked

    # ------------------------------------------------------------------ parameters
    @property
    def params(self) -> dict[str, Any] | None:
        """The parameter dict in use (loaded lazily from the shipped file)."""
        if self._params is None and self._path.is_file():
            try:
                self._params = json.loads(self._path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
                raise ValueError(f"cannot read embedded parameters {self._path}: {e}") from None
            if not isinstance(self._params, dict) or "modes" not in self._params:
                self._params = None
                raise ValueError(f"{self._path} is not an embedded parameter file (no 'modes')")
        return self._params

    def _profile(self, trace: Trace) -> str:
        """The profile that answers ``trace``: its own (:func:`profile_of`) if the parameters have it."""
        name = profile_of(trace)
        return name if name == "default" or ((self.params or {}).get("profiles") or {}).get(name) else "default"

    def _mode(self, with_gt: bool, profile: str = "default") -> dict[str, Any] | None:
        p = self.params
        if not p:
            return None
        prof = (p.get("profiles") or {}).get(profile) if profile != "default" else None
        modes = (prof or p).get("modes", {})
        if with_gt and "w_g" not in modes and self._train_items:  # fitted w/o G only so far: learn w/ G now
            modes["w_g"] = train_params(self._train_items, features=self._features, modes=("w_g",))["modes"]["w_g"]
        mode = modes.get("w_g" if with_gt else "wo_g") or modes.get("wo_g")
        if mode and id(mode) not in self._cols:
            known = {c: k for k, c in enumerate(STEP_FEATURES)}
            missing = [c for c in mode["step"]["features"] if c not in known]
            if missing or list(mode["agent"]["features"]) != list(AGENT_FEATURES):
                raise ValueError(
                    f"embedded parameters at {self._path} were built for another feature set "
                    f"(unknown: {', '.join(missing[:5]) or 'agent features'}); rebuild them with "
                    "`python -m agentracer.training.embedded_fit --rebuild`"
                )
            self._cols[id(mode)] = [known[c] for c in mode["step"]["features"]]
        return mode

    # ------------------------------------------------------------------ inference
    def distributions(
        self, trace: Trace, ground_truth: str | None = None
    ) -> tuple[TraceFeatures, list[float], list[float]]:
        """The features, the step distribution and the agent distribution for ``trace``."""
        with_gt = ground_truth is not None and str(ground_truth).strip() != ""
        feats = extract(trace, ground_truth if with_gt else None)
        if not feats.candidates:
            return feats, [], []
        mode = self._mode(with_gt, self._profile(trace))
        if mode is None:
            p_step = _softmax([_prior_score(r) for r in feats.step_rows])
            mass = [0.0] * len(feats.agents)
            for p, a in zip(p_step, feats.agent_of_candidate, strict=True):
                mass[a] += p
            return feats, p_step, mass
        cols = self._cols[id(mode)]
        p_step = _softmax(_linear(mode["step"], [[r[c] for c in cols] for r in feats.step_rows]))
        p_agent = _softmax(_linear(mode["agent"], with_step_mass(feats, p_step)))
        return feats, p_step, p_agent

    def attribute(self, trace: Trace, ground_truth: str | None = None) -> Attribution:
        """Name the decisive step and the responsible agent of ``trace`` (``ground_truth`` = w/ G)."""
        with_gt = ground_truth is not None and str(ground_truth).strip() != ""
        feats, p_step, p_agent = self.distributions(trace, ground_truth)
        if not feats.candidates:
            return Attribution(agent=None, step=None, reason="empty trace", method=self.name, parsed=False)
        a_best = max(range(len(p_agent)), key=lambda a: (p_agent[a], -a))
        own = [i for i in range(len(p_step)) if feats.agent_of_candidate[i] == a_best]
        best = max(own, key=lambda i: (p_step[i], -i))
        step = feats.candidates[best]
        ranked = sorted(range(len(p_step)), key=lambda i: (-p_step[i], i))[:3]
        profile = self._profile(trace)
        mode = self._mode(with_gt, profile)
        cands = [
            {"step": feats.candidates[i].index, "agent": feats.agents[feats.agent_of_candidate[i]],
             "probability": round(p_step[i], 4)}
            for i in ranked
        ]
        reason, explained = self._reason(feats, best, mode)
        raw = p_step[best]
        conf = calibrate(raw)
        if len(p_step) <= 1:
            conf = min(conf, ONE_STEP_CAP)
        distance = limit = None
        if mode is not None:
            m = mode["step"]
            cols = self._cols[id(mode)]
            distance = round(feature_distance([[r[c] for c in cols] for r in feats.step_rows], m["mu"], m["sd"]), 4)
            limit = m.get("distance_limit")
        runner_up = max((p_step[i] for i in ranked if i != best), default=0.0)
        ratio = runner_up / raw if raw > 0 else 0.0
        why = assess(conf, len(p_step), explained, distance, distance_limit=limit, runner_up_ratio=ratio)
        far = any("far from the training data" in w for w in why)
        return Attribution(
            agent=feats.agents[a_best],
            step=step.index,
            reason=reason,
            confidence=round(conf, 4),
            method=self.name,
            evidence=[feats.candidates[i].index for i in ranked],
            candidates=cands,
            metadata={
                "agent_probability": round(p_agent[a_best], 4),
                "raw_probability": round(raw, 4),
                "feature_distance": distance,
                "explained": explained,
                "far_from_training": far,
                "runner_up_ratio": round(ratio, 4),
                "with_gt": with_gt,
                "params": "custom" if self._custom else str(self._path.name),
                "profile": profile,
                **({"low_confidence": True, "note": low_confidence_note(cands, why)} if why else {}),
                **({"fallback_prior": True} if mode is None else {}),
            },
        )

    def _reason(self, feats: TraceFeatures, i: int, mode: dict[str, Any] | None) -> tuple[str, bool]:
        """The reason in words for candidate ``i``, and whether a known cue explains it."""
        row = feats.step_rows[i]
        contrib: list[tuple[float, str]] = []
        names = STEP_FEATURES if mode is None else mode["step"]["features"]
        cols = range(len(STEP_FEATURES)) if mode is None else self._cols[id(mode)]
        for k, (c, col) in enumerate(zip(names, cols, strict=True)):
            base = c.split("*")[0]
            if base not in _REASONS or row[col] <= 0:
                continue
            if mode is None:
                contrib.append((1.0, base))
                continue
            m = mode["step"]
            v = m["w"][k] * (row[col] - m["mu"][k]) / m["sd"][k]
            if v > 0:
                contrib.append((v, base))
        contrib.sort(reverse=True)
        seen: list[str] = []
        for _, c in contrib:
            if _REASONS[c] not in seen:
                seen.append(_REASONS[c])
            if len(seen) == 2:
                break
        agent = feats.agents[feats.agent_of_candidate[i]]
        why = "; ".join(seen) if seen else "it ranks highest among the steps"
        # a cue of position alone (the opening step, the last long message) is where faults often are, not
        # evidence of one: such an answer is not "explained" and is flagged low confidence
        content = any(c not in _POSITIONAL for _, c in contrib[:_EXPLAINING])
        return f"Step {feats.candidates[i].index} by {agent}: {why}.", content

    # ------------------------------------------------------------------ training
    def fit(self, items: list[AnnotatedTrace]) -> EmbeddedAttributor:
        """A new attributor trained on ``items`` only (L2 strengths chosen by inner CV on ``items``). The w/ G
        mode is learnt the first time a ground truth is given (evaluation w/o G never pays for it)."""
        att = EmbeddedAttributor(params=train_params(items, features=self._features, modes=("wo_g",)),
                                 features=self._features)
        att._train_items = list(items)
        return att


def _linear(model: dict[str, Any], rows: list[list[float]]) -> list[float]:
    mu, sd, w = model["mu"], model["sd"], model["w"]
    return [sum(wk * (x - m) / s for wk, x, m, s in zip(w, row, mu, sd, strict=True)) for row in rows]


def _prior_score(row: list[float]) -> float:
    f = STEP_FEATURES.index
    return 2.0 * row[f("first_coder")] + 1.0 * row[f("first_assume")] - 2.0 * row[f("is_tool")]


@register("embedded")
def _factory(arg: str = "", **options: Any) -> EmbeddedAttributor:
    """``embedded`` (shipped parameters) or ``embedded:PATH`` (a parameter file written by ``--rebuild``)."""
    path = arg or options.get("params_path") or None
    if path and not Path(path).is_file():
        raise ValueError(f"embedded parameter file not found: {path}")
    att = EmbeddedAttributor(params_path=path)
    if path:
        att._mode(False)  # read and check an explicit file now, so a bad one fails before any trace
    return att
