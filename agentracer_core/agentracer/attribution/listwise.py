"""Learning the embedded attributor's parameters (numpy): the listwise linear rankers (a conditional logit
over the steps, or the agents, of one trace), fitted by Newton's method with an L2 strength chosen by an
inner cross-validation, and :func:`train_params`, which learns both modes (w/o G and w/ G) from annotated
traces. :meth:`EmbeddedAttributor.fit <agentracer.attribution.embedded.EmbeddedAttributor.fit>` calls it;
``python -m agentracer.training.embedded_fit --rebuild`` uses it to write the shipped parameters."""

from __future__ import annotations

from typing import Any

from ..trace import AnnotatedTrace, normalize_agent
from .features import AGENT_FEATURES, STEP_FEATURES, TraceFeatures, extract, with_step_mass

__all__ = ["SOURCE_KEY", "SOURCE_WEIGHTING", "source_of", "source_weights", "train_params"]

_L2_GRID = (10.0, 30.0, 100.0, 300.0, 1000.0)
SOURCE_KEY = "agentracer.source"  # trace metadata: the labelled source (system) a training trace comes from
# each training trace weighs n_s ** -SOURCE_WEIGHTING (n_s: the traces of its source), so with 1.0 every source
# counts the same in the likelihood whatever its size, and no single source dominates what is learnt
SOURCE_WEIGHTING = 1.0
_TEAM_DOMAINS = ("web", "files", "multihop")  # the generator's orchestrator-led team domains (one system)


def source_of(item: AnnotatedTrace) -> str:
    """The source (system) of a training trace: its ``metadata["agentracer.source"]`` when a loader set it,
    else, for a generated run, ``generated:FRAMEWORK:SYSTEM`` (its system shape, or ``team`` / ``tasks`` by
    domain), else the trace's framework (``whowhen`` for Who&When transcripts)."""
    md = item.trace.metadata if isinstance(item.trace.metadata, dict) else {}
    tag = md.get(SOURCE_KEY)
    if isinstance(tag, str) and tag:
        return tag
    fw = str(md.get("transcript_of") or item.trace.framework or "unknown").lower()  # a run seen as a transcript
    gen = md.get("agentracer.generated")
    if isinstance(gen, dict):
        system = gen.get("system") or ("team" if gen.get("domain") in _TEAM_DOMAINS else "tasks")
        return f"generated:{fw}:{system}"
    return fw


def source_weights(sources: list[str], alpha: float = SOURCE_WEIGHTING) -> list[float]:
    """One weight per trace, ``n_s ** -alpha`` rescaled to mean 1 (``n_s``: the traces of its source)."""
    count: dict[str, int] = {}
    for s in sources:
        count[s] = count.get(s, 0) + 1
    raw = [count[s] ** -alpha for s in sources]
    mean = sum(raw) / len(raw) if raw else 1.0
    return [r / mean for r in raw]


def _examples(items: list[AnnotatedTrace], with_gt: bool) -> list[tuple[TraceFeatures, int, int | None, str]]:
    """(features, gold candidate position, gold agent position, source) for every usable annotated trace."""
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
        out.append((feats, pos[step], agent, source_of(it)))
    return out


def _fit_listwise(xs: list[Any], ys: list[int], l2: float, iters: int = 60, weights: Any = None) -> Any:
    """Damped Newton's method on the L2-penalised conditional-logit likelihood; X rows already standardised.
    ``weights`` (one per trace, mean 1) scales each trace's share of the likelihood. Each Newton step is
    halved until the objective decreases (a full step can overshoot and oscillate on rare, large features)."""
    import numpy as np

    X = np.vstack(xs)
    sizes = np.array([len(x) for x in xs])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    grp = np.repeat(np.arange(len(xs)), sizes)
    gold = starts + np.array(ys)
    target = np.zeros(len(X))
    target[gold] = 1.0
    tw = np.ones(len(xs)) if weights is None else np.asarray(weights, dtype=float)
    rw = tw[grp]
    d = X.shape[1]

    def objective(w: Any) -> tuple[float, Any]:
        z = X @ w
        zmax = np.maximum.reduceat(z, starts)
        e = np.exp(z - zmax[grp])
        tot = np.add.reduceat(e, starts)
        nll = float(tw @ (np.log(tot) + zmax - z[gold]))
        return nll + 0.5 * l2 * float(w @ w), e / tot[grp]

    w = np.zeros(d)
    f, p = objective(w)
    for _ in range(iters):
        g = X.T @ (rw * (p - target)) + l2 * w
        s = np.add.reduceat(p[:, None] * X, starts)
        h = X.T @ ((rw * p)[:, None] * X) - (tw[:, None] * s).T @ s + l2 * np.eye(d)
        step = np.linalg.solve(h, g)
        t = 1.0
        for _ in range(30):
            f_new, p_new = objective(w - t * step)
            if f_new <= f + 1e-12 * abs(f):
                break
            t *= 0.5
        else:
            break
        w = w - t * step
        done = f - f_new <= 1e-10 * max(1.0, abs(f)) or np.abs(t * step).max() < 1e-7
        f, p = f_new, p_new
        if done:
            break
    return w


class _Ranker:
    """A standardised listwise linear ranker (numpy), fitted with a given L2 strength."""

    def __init__(self, xs: list[Any], ys: list[int], l2: float, weights: Any = None) -> None:
        import numpy as np

        a = np.vstack(xs)
        self.mu = a.mean(0)
        sd = a.std(0)
        sd[sd < 1e-9] = 1.0
        self.sd = sd
        self.l2 = l2
        self.w = _fit_listwise([(x - self.mu) / self.sd for x in xs], ys, l2, weights=weights)

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


def _choose_l2(
    xs: list[Any], ys: list[int], folds: list[list[int]], weights: list[float] | None = None
) -> tuple[float, float]:
    """The L2 strength with the best (weighted) inner-CV accuracy (ties: the stronger penalty)."""
    best_l2, best_acc = _L2_GRID[len(_L2_GRID) // 2], -1.0
    if len(xs) < 10:
        return best_l2, best_acc
    wt = weights or [1.0] * len(xs)
    for l2 in _L2_GRID:
        hits = 0.0
        for f in folds:
            test = set(f)
            tr = [i for i in range(len(xs)) if i not in test]
            r = _Ranker([xs[i] for i in tr], [ys[i] for i in tr], l2, weights=[wt[i] for i in tr])
            hits += sum(wt[i] * (int(r.probs(xs[i]).argmax()) == ys[i]) for i in f)
        acc = hits / sum(wt)
        if acc >= best_acc - 1e-12:
            best_l2, best_acc = l2, acc
    return best_l2, best_acc


def _train_mode(
    items: list[AnnotatedTrace],
    with_gt: bool,
    features: list[str] | None = None,
    inner_folds: int = 5,
    seed: int = 0,
    alpha: float = SOURCE_WEIGHTING,
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
    xs = [np.asarray(f.step_rows, dtype=float)[:, cols] for f, _, _, _ in ex]
    ys = [y for _, y, _, _ in ex]
    wt = source_weights([e[3] for e in ex], alpha)
    folds = _folds(len(xs), inner_folds, seed)
    l2, inner_acc = _choose_l2(xs, ys, folds, wt)
    step_model = _Ranker(xs, ys, l2, weights=wt)
    # cross-fitted step probabilities feed the agent model (in-sample ones would be over-confident)
    cross: list[Any] = [None] * len(xs)
    for f in folds:
        test = set(f)
        tr = [i for i in range(len(xs)) if i not in test]
        r = _Ranker([xs[i] for i in tr], [ys[i] for i in tr], l2, weights=[wt[i] for i in tr])
        for i in f:
            cross[i] = r.probs(xs[i])
    # how far a training trace lies from the training data (see attribution.confidence.feature_distance): the
    # 99th percentile is the limit past which a new trace is called far from anything the model was fitted on
    dists = sorted(float(np.sqrt(np.mean(((x - step_model.mu) / step_model.sd) ** 2))) for x in xs)
    limit = dists[min(len(dists) - 1, int(0.99 * len(dists)))]
    a_idx = [i for i, e in enumerate(ex) if e[2] is not None]
    axs = [np.asarray(with_step_mass(ex[i][0], list(cross[i])), dtype=float) for i in a_idx]
    ays = [ex[i][2] for i in a_idx]
    aw = [wt[i] for i in a_idx]
    a_l2, a_acc = _choose_l2(axs, ays, _folds(len(axs), inner_folds, seed + 1), aw)
    agent_model = _Ranker(axs, ays, a_l2, weights=aw)
    return {
        "step": {**step_model.export(names), "inner_cv_accuracy": round(inner_acc, 4),
                 "distance_limit": round(limit, 4)},
        "agent": {**agent_model.export(AGENT_FEATURES), "inner_cv_accuracy": round(a_acc, 4)},
        "n_traces": len(xs),
        "source_weighting": {"alpha": alpha, "traces_per_source": _counts([e[3] for e in ex])},
    }


def _counts(sources: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in sources:
        out[s] = out.get(s, 0) + 1
    return dict(sorted(out.items()))


def _single_thread_blas() -> Any:
    """Limit BLAS to one thread while training (tiny matrices: threads only add overhead), if possible."""
    import contextlib

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def train_params(
    items: list[AnnotatedTrace],
    sources: list[str] | None = None,
    features: list[str] | None = None,
    alpha: float = SOURCE_WEIGHTING,
    modes: tuple[str, ...] = ("wo_g", "w_g"),
) -> dict[str, Any]:
    """Learn the embedded attributor's parameters (``modes``: w/o G and w/ G) from annotated traces.

    ``sources`` names what was learnt from (for the record); each trace is weighted by the size of its
    source (:func:`source_of`, :func:`source_weights`, exponent ``alpha``; 0 = every trace counts the same).
    ``features`` restricts the step ranker to a subset of :data:`STEP_FEATURES` (for ablations).
    """
    items = [it for it in items if isinstance(it, AnnotatedTrace)]
    try:
        import numpy  # noqa: F401
    except ImportError:
        raise ImportError("training the embedded attributor needs numpy: pip install 'agentracer[embedded]'") from None
    with _single_thread_blas():
        learnt = {m: _train_mode(items, m == "w_g", features, alpha=alpha) for m in modes}
    return {
        "format": "agentracer-embedded/2",
        "model": "listwise-linear step ranker + agent ranker on cross-fitted step mass",
        "modes": learnt,
        "trained_on": sources or [],
        "n_traces": len(items),
    }
