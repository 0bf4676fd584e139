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

    python -m agentracer.attribution.embedded --rebuild [--data DIR ...] [--framework-data PATH ...] \
        [--no-simulated] [--out PATH]

Training needs numpy (``pip install 'agentracer[embedded]'``). :meth:`EmbeddedAttributor.fit` learns a
fresh model from annotated traces, choosing each ranker's L2 strength from a fixed grid by an inner
5-fold cross-validation on those traces only, so ``agentracer eval`` can cross-validate it honestly
(nested CV: nothing is tuned on a test fold). Outside cross-validation
(``agentracer attribute``, ``agentracer.attribute``, ``eval --folds 0``) the shipped parameters are used.
"""

from __future__ import annotations

import json
import math
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

from ..trace import AnnotatedTrace, Attribution, Trace
from .base import register
from .features import AGENT_FEATURES, STEP_FEATURES, TraceFeatures, extract

__all__ = ["DEFAULT_PARAMS", "EmbeddedAttributor", "rebuild", "simulated_set", "train_params"]

# Package data, found through importlib.resources (a real file: the package is installed unzipped).
DEFAULT_PARAMS = Path(str(files("agentracer.attribution").joinpath("embedded_params.json")))
_DEFAULT_DATA = ("who_and_when/Algorithm-Generated",)
_L2_GRID = (10.0, 30.0, 100.0, 300.0, 1000.0)

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
    "last_substantive": "it concludes the run with the (wrong) answer",
    "last_subst_x_terminated": "it concludes the run with the (wrong) answer",
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
}


# traces that are chat transcripts imported from elsewhere (not recorded by one of our framework plugins)
_TRANSCRIPT_FRAMEWORKS = frozenset({"whowhen", "unknown", ""})
# the generated set the framework profile learns from when no --framework-data is given
FRAMEWORK_SET: dict[str, Any] = {"framework": "all", "domain": "all", "n": 25, "seed": 1}
# ... and the failures of the simulated refinement pipelines (agentracer.samples.simulated) of one seed (46 of its 80
# runs fail): few enough that one simulator's three flaws do not outweigh the generated runs. The refinement
# benchmark runs seeds 0-4 with task prefix "t" (none of its questions is among these)
SIMULATED_SET: dict[str, Any] = {"seeds": (100, 101), "n_tasks": 40, "prefix": "train"}


def profile_of(trace: Trace) -> str:
    """``"framework"`` for a trace recorded from an instrumented framework, else ``"default"``."""
    return "default" if (trace.framework or "").lower() in _TRANSCRIPT_FRAMEWORKS else "framework"


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
        mode = modes.get("w_g" if with_gt else "wo_g") or modes.get("wo_g")
        if mode and id(mode) not in self._cols:
            known = {c: k for k, c in enumerate(STEP_FEATURES)}
            missing = [c for c in mode["step"]["features"] if c not in known]
            if missing or list(mode["agent"]["features"]) != list(AGENT_FEATURES):
                raise ValueError(
                    f"embedded parameters at {self._path} were built for another feature set "
                    f"(unknown: {', '.join(missing[:5]) or 'agent features'}); rebuild them with "
                    "`python -m agentracer.attribution.embedded --rebuild`"
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
        p_agent = _softmax(_linear(mode["agent"], _agent_rows(feats, p_step)))
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
        ranked = sorted(range(len(p_step)), key=lambda i: -p_step[i])[:3]
        profile = self._profile(trace)
        mode = self._mode(with_gt, profile)
        return Attribution(
            agent=feats.agents[a_best],
            step=step.index,
            reason=self._reason(feats, best, mode),
            confidence=round(p_step[best], 4),
            method=self.name,
            evidence=[feats.candidates[i].index for i in ranked],
            metadata={
                "agent_probability": round(p_agent[a_best], 4),
                "with_gt": with_gt,
                "params": "custom" if self._custom else str(self._path.name),
                "profile": profile,
                **({"fallback_prior": True} if mode is None else {}),
            },
        )

    def _reason(self, feats: TraceFeatures, i: int, mode: dict[str, Any] | None) -> str:
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
        return f"Step {feats.candidates[i].index} by {agent}: {why}."

    # ------------------------------------------------------------------ training
    def fit(self, items: list[AnnotatedTrace]) -> EmbeddedAttributor:
        """A new attributor trained on ``items`` only (L2 strengths chosen by inner CV on ``items``)."""
        return EmbeddedAttributor(params=train_params(items, features=self._features), features=self._features)


def _linear(model: dict[str, Any], rows: list[list[float]]) -> list[float]:
    mu, sd, w = model["mu"], model["sd"], model["w"]
    return [sum(wk * (x - m) / s for wk, x, m, s in zip(w, row, mu, sd, strict=True)) for row in rows]


def _agent_rows(feats: TraceFeatures, p_step: list[float]) -> list[list[float]]:
    """Agent feature rows with the step model's mass and max probability per agent filled in."""
    rows = [list(r) for r in feats.agent_rows]
    for p, a in zip(p_step, feats.agent_of_candidate, strict=True):
        rows[a][0] += p
        rows[a][1] = max(rows[a][1], p)
    return rows


def _prior_score(row: list[float]) -> float:
    f = STEP_FEATURES.index
    return 2.0 * row[f("first_coder")] + 1.0 * row[f("first_assume")] - 2.0 * row[f("is_tool")]


# ---------------------------------------------------------------------- training (numpy)
def _examples(items: list[AnnotatedTrace], with_gt: bool) -> list[tuple[TraceFeatures, int, int | None]]:
    """(features, gold candidate position, gold agent position) for every usable annotated trace."""
    from ..trace import normalize_agent

    out = []
    for it in items:
        if it.gold is None or it.gold.step is None:
            continue
        tr = it.trace
        feats = extract(tr, tr.ground_truth if with_gt else None)
        pos = {s.index: k for k, s in enumerate(feats.candidates)}
        step = it.gold.step
        if step not in pos:
            # a gold step nested under an agent step counts as that agent step
            st = tr.steps[step] if 0 <= step < len(tr.steps) else None
            while st is not None and st.parent is not None:
                st = tr.steps[st.parent]
            if st is None or st.index not in pos:
                continue
            step = st.index
        ga = normalize_agent(it.gold.agent)
        agent = next((k for k, a in enumerate(feats.agents) if normalize_agent(a) == ga), None)
        out.append((feats, pos[step], agent))
    return out


def _fit_listwise(xs: list[Any], ys: list[int], l2: float, iters: int = 60) -> Any:
    """Newton's method on the L2-penalised conditional-logit likelihood; X rows already standardised."""
    import numpy as np

    X = np.vstack(xs)
    sizes = np.array([len(x) for x in xs])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    grp = np.repeat(np.arange(len(xs)), sizes)
    target = np.zeros(len(X))
    target[starts + np.array(ys)] = 1.0
    d = X.shape[1]
    w = np.zeros(d)
    for _ in range(iters):
        z = X @ w
        zmax = np.maximum.reduceat(z, starts)
        e = np.exp(z - zmax[grp])
        p = e / np.add.reduceat(e, starts)[grp]
        g = X.T @ (p - target) + l2 * w
        s = np.add.reduceat(p[:, None] * X, starts)
        h = X.T @ (p[:, None] * X) - s.T @ s + l2 * np.eye(d)
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return w


class _Ranker:
    """A standardised listwise linear ranker (numpy), fitted with a given L2 strength."""

    def __init__(self, xs: list[Any], ys: list[int], l2: float) -> None:
        import numpy as np

        a = np.vstack(xs)
        self.mu = a.mean(0)
        sd = a.std(0)
        sd[sd < 1e-9] = 1.0
        self.sd = sd
        self.l2 = l2
        self.w = _fit_listwise([(x - self.mu) / self.sd for x in xs], ys, l2)

    def probs(self, x: Any) -> Any:
        import numpy as np

        z = ((x - self.mu) / self.sd) @ self.w
        e = np.exp(z - z.max())
        return e / e.sum()

    def export(self, names: tuple[str, ...]) -> dict[str, Any]:
        return {
            "features": list(names),
            "mu": [round(float(v), 6) for v in self.mu],
            "sd": [round(float(v), 6) for v in self.sd],
            "w": [round(float(v), 6) for v in self.w],
            "l2": self.l2,
        }


def _folds(n: int, k: int, seed: int) -> list[list[int]]:
    import random

    order = list(range(n))
    random.Random(seed).shuffle(order)
    k = max(2, min(k, n))
    return [order[i::k] for i in range(k)]


def _choose_l2(xs: list[Any], ys: list[int], folds: list[list[int]]) -> tuple[float, float]:
    """The L2 strength with the best inner-CV accuracy (ties: the stronger penalty)."""
    best_l2, best_acc = _L2_GRID[len(_L2_GRID) // 2], -1.0
    if len(xs) < 10:
        return best_l2, best_acc
    for l2 in _L2_GRID:
        hits = 0
        for f in folds:
            test = set(f)
            tr = [i for i in range(len(xs)) if i not in test]
            r = _Ranker([xs[i] for i in tr], [ys[i] for i in tr], l2)
            hits += sum(int(r.probs(xs[i]).argmax()) == ys[i] for i in f)
        acc = hits / len(xs)
        if acc >= best_acc - 1e-12:
            best_l2, best_acc = l2, acc
    return best_l2, best_acc


def _train_mode(
    items: list[AnnotatedTrace],
    with_gt: bool,
    features: list[str] | None = None,
    inner_folds: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    import numpy as np

    ex = _examples(items, with_gt)
    if len(ex) < 2:
        raise ValueError(f"need at least 2 annotated traces with a usable gold step to train on, got {len(ex)}")
    names = tuple(features) if features else STEP_FEATURES
    unknown = [c for c in names if c not in STEP_FEATURES]
    if unknown:
        raise ValueError(f"unknown step features: {', '.join(unknown)}")
    cols = [STEP_FEATURES.index(c) for c in names]
    xs = [np.asarray(f.step_rows, dtype=float)[:, cols] for f, _, _ in ex]
    ys = [y for _, y, _ in ex]
    folds = _folds(len(xs), inner_folds, seed)
    l2, inner_acc = _choose_l2(xs, ys, folds)
    step_model = _Ranker(xs, ys, l2)
    # cross-fitted step probabilities feed the agent model (in-sample ones would be over-confident)
    cross: list[Any] = [None] * len(xs)
    for f in folds:
        test = set(f)
        tr = [i for i in range(len(xs)) if i not in test]
        r = _Ranker([xs[i] for i in tr], [ys[i] for i in tr], l2)
        for i in f:
            cross[i] = r.probs(xs[i])
    a_idx = [i for i, (_, _, a) in enumerate(ex) if a is not None]
    axs = [np.asarray(_agent_rows(ex[i][0], list(cross[i])), dtype=float) for i in a_idx]
    ays = [ex[i][2] for i in a_idx]
    a_l2, a_acc = _choose_l2(axs, ays, _folds(len(axs), inner_folds, seed + 1))
    agent_model = _Ranker(axs, ays, a_l2)
    return {
        "step": {**step_model.export(names), "inner_cv_accuracy": round(inner_acc, 4)},
        "agent": {**agent_model.export(AGENT_FEATURES), "inner_cv_accuracy": round(a_acc, 4)},
        "n_traces": len(xs),
    }


def _single_thread_blas() -> Any:
    """Limit BLAS to one thread while training (tiny matrices: threads only add overhead), if possible."""
    import contextlib

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def train_params(
    items: list[AnnotatedTrace], sources: list[str] | None = None, features: list[str] | None = None
) -> dict[str, Any]:
    """Learn the embedded attributor's parameters (both w/o G and w/ G) from annotated traces.

    ``features`` restricts the step ranker to a subset of :data:`STEP_FEATURES` (for ablations).
    """
    items = [it for it in items if isinstance(it, AnnotatedTrace)]
    try:
        import numpy  # noqa: F401
    except ImportError:
        raise ImportError("training the embedded attributor needs numpy: pip install 'agentracer[embedded]'") from None
    with _single_thread_blas():
        modes = {"wo_g": _train_mode(items, False, features), "w_g": _train_mode(items, True, features)}
    return {
        "format": "agentracer-embedded/2",
        "model": "listwise-linear step ranker + agent ranker on cross-fitted step mass",
        "modes": modes,
        "trained_on": sources or [],
        "n_traces": len(items),
    }


def rebuild(
    data: list[str | Path] | None = None,
    out: str | Path | None = None,
    framework_data: list[str | Path] | None = None,
    framework_profile: bool = True,
    simulated: bool = True,
) -> Path:
    """Retrain and write the params: the default profile on ``data`` (default: Who&When Algorithm-Generated
    in ``../shared/data``); the framework profile on ``data`` plus ``framework_data`` (default: a set
    generated now with :data:`FRAMEWORK_SET`, which needs the framework extras) plus, if ``simulated``,
    the labelled failures of the simulated refinement pipelines (:data:`SIMULATED_SET`), unless
    ``framework_profile`` is false."""
    from ..formats import load_annotated

    paths = [Path(p) for p in data] if data else [_shared_data() / d for d in _DEFAULT_DATA]
    items: list[AnnotatedTrace] = []
    for p in paths:
        items.extend(load_annotated(p))
    if not items:
        raise ValueError(f"no annotated traces found in {', '.join(map(str, paths))}")
    params = train_params(items, sources=[_display(p) for p in paths])
    if framework_profile:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="agentracer-gen-") as tmp:
            if framework_data:
                gpaths, gnames = [Path(p) for p in framework_data], [_display(Path(p)) for p in framework_data]
            else:
                gpaths, gnames = [_generate_framework_set(Path(tmp))], [_generated_name()]
            gen: list[AnnotatedTrace] = []
            for p in gpaths:
                gen.extend(load_annotated(p))
            if not gen:
                raise ValueError(f"no annotated traces found in {', '.join(map(str, gpaths))}")
            if simulated:
                gen.extend(_simulated_set())
                gnames.append(_simulated_name())
            prof = train_params(items + gen, sources=params["trained_on"] + gnames)
        params["profiles"] = {"framework": {k: prof[k] for k in ("modes", "trained_on", "n_traces")}}
    out = Path(out) if out else DEFAULT_PARAMS
    out.write_text(json.dumps(params, indent=1) + "\n", encoding="utf-8")
    return out


def _generated_name() -> str:
    return "generated: agentracer annotate generate " + " ".join(f"--{k} {v}" for k, v in FRAMEWORK_SET.items())


def _simulated_name() -> str:
    return "simulated: agentracer.samples.simulated.labelled_failures(" + ", ".join(
        f"{k}={v!r}" for k, v in SIMULATED_SET.items()) + ")"


def simulated_set() -> list[AnnotatedTrace]:
    """The labelled failures of :data:`SIMULATED_SET` that :func:`rebuild` adds to the framework profile
    (needs the MaAS and LangGraph plugins)."""
    from ..samples.simulated import labelled_failures

    return labelled_failures(range(*SIMULATED_SET["seeds"]), SIMULATED_SET["n_tasks"], prefix=SIMULATED_SET["prefix"])


def _simulated_set() -> list[AnnotatedTrace]:
    """:func:`simulated_set`, or a :class:`ValueError` that says how to rebuild without it."""
    try:
        runs = simulated_set()
    except Exception as e:  # a plugin missing, or a crash in a simulated run
        raise ValueError(f"running the simulated pipelines failed ({type(e).__name__}: {e}); pass --no-simulated") from e
    if not runs:
        raise ValueError("the simulated pipelines produced no failed run; pass --no-simulated")
    return runs


def _generate_framework_set(tmp: Path) -> Path:
    """Generate and label :data:`FRAMEWORK_SET` in ``tmp``; the path of its annotations."""
    import io

    from rich.console import Console

    from ..annotation.cli import generate_cli

    out = tmp / "generated"
    hint = "pass --framework-data with a generated set, or --no-framework-profile"
    try:
        generate_cli(
            out=out, base_url=None, model=None, ray=False, ray_address=None, build=False,
            console=Console(file=io.StringIO()), **FRAMEWORK_SET,
        )
    except Exception as e:  # typer.Exit after a printed error (a framework extra missing), or a crash
        raise ValueError(f"generating the framework set failed ({type(e).__name__}: {e}); {hint}") from e
    ann = out / "annotations.jsonl"
    if not ann.is_file():
        raise ValueError(f"generating the framework set produced no annotations; {hint}")
    return ann


def _shared_data() -> Path:
    from ..testing import shared_data_dir

    return shared_data_dir()


def _display(p: Path) -> str:
    parts = p.resolve().parts
    if "data" in parts:
        return "/".join(parts[parts.index("data") :])
    return str(p)


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


def main(argv: list[str] | None = None) -> int:
    """``python -m agentracer.attribution.embedded --rebuild [--data DIR ...] [--out PATH]``."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m agentracer.attribution.embedded", description=main.__doc__)
    ap.add_argument("--rebuild", action="store_true", help="retrain and write the parameter file")
    ap.add_argument("--data", action="append", help="annotated traces to learn from (repeatable)")
    ap.add_argument(
        "--framework-data", action="append",
        help="generated framework traces for the framework profile (repeatable; default: generate them now)",
    )
    ap.add_argument("--no-framework-profile", action="store_true", help="write the default profile only")
    ap.add_argument(
        "--no-simulated", action="store_true",
        help="leave the simulated refinement pipelines' failures out of the framework profile",
    )
    ap.add_argument("--out", help=f"where to write (default {DEFAULT_PARAMS.name} next to this module)")
    args = ap.parse_args(argv)
    if not args.rebuild:
        ap.print_help()
        return 0
    try:
        path = rebuild(args.data, args.out, args.framework_data, not args.no_framework_profile, not args.no_simulated)
    except (ValueError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    p = json.loads(path.read_text(encoding="utf-8"))
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    for name, prof in [("default", p), *(p.get("profiles") or {}).items()]:
        print(f" profile {name}: {prof['n_traces']} traces from {', '.join(prof['trained_on'])}")
        for mode, m in prof["modes"].items():
            print(
                f"  {mode}: step l2={m['step']['l2']} (inner-CV accuracy {m['step']['inner_cv_accuracy']}), "
                f"agent l2={m['agent']['l2']} (inner-CV accuracy {m['agent']['inner_cv_accuracy']})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
