"""The multi-granular reward of AgenTracer, as plain functions and as TRL reward functions.

Three components score one tracer answer against the gold attribution:

- **agent** (:func:`agent_score`): 1 if the predicted agent equals the gold agent after
  :func:`agentracer.trace.normalize_agent` (case, spaces, ``-`` and ``_`` ignored), else 0;
- **step** (:func:`step_score`): the Gaussian kernel ``exp(-(ŝ - s)² / (2σ²))`` of the distance between
  the predicted step ``ŝ`` and the gold step ``s``, so that nearer is better; 0 when no step can be read,
  when it is negative, or when it is past the last step of the trace (``n_steps`` known);
- **format** (:func:`format_score`): 1 for exactly one canonical answer
  ``<agent>NAME</agent><step>N</step><reason>TEXT</reason>`` (after an optional ``<think>`` block),
  0.5 when the answer can be read but is not canonical (extra text, JSON, a missing reason), 0 otherwise.

The total is ``w_agent·agent + w_step·step + w_format·format`` (:class:`RewardConfig`).

For TRL, :func:`agent_reward`, :func:`step_reward` and :func:`format_reward` are reward functions
``(completions, **columns) -> list[float | None]``; pass them together with
``GRPOConfig(reward_weights=[w_agent, w_step, w_format])`` and TRL sums them and logs each one as
``rewards/agent_reward/mean``, ``rewards/step_reward/mean``, ``rewards/format_reward/mean``
(:func:`reward_functions` does both). :func:`make_tracer_reward` gives the weighted sum as a single
function instead, logging the components through TRL's ``log_metric``. A completion may be a plain string
or a conversational list ``[{"role": "assistant", "content": ...}]``. The gold columns are ``agent`` and
``step`` (Who&When's ``mistake_agent``/``mistake_step`` are accepted too); the optional column ``n_steps``
(the number of steps of the trace) turns on the out-of-range check. A row without a gold
agent (or step) gets ``None`` for that component, which TRL treats as "not applicable".
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..trace import normalize_agent

__all__ = [
    "RewardBreakdown",
    "RewardConfig",
    "agent_reward",
    "agent_score",
    "completion_text",
    "format_reward",
    "format_score",
    "gaussian_step_kernel",
    "make_tracer_reward",
    "reward_functions",
    "score_completion",
    "step_reward",
    "step_score",
]

_THINK_RE = re.compile(r"^\s*(?:<think>.*?</think>)?\s*", re.S)
_CANONICAL_RE = re.compile(
    r"<agent>\s*(?P<agent>[^<>]*?\S[^<>]*?)\s*</agent>\s*"
    r"<step>\s*(?P<step>\d+)\s*</step>\s*"
    r"<reason>(?P<reason>.*?)</reason>",
    re.S,
)
_TRAILING_OK = re.compile(r"^\s*(?:<\|im_end\|>|<\|endoftext\|>)?\s*$")


@dataclass(frozen=True)
class RewardConfig:
    """Weights of the three components and the width ``sigma`` (in steps) of the step kernel."""

    agent_weight: float = 1.0
    step_weight: float = 1.0
    format_weight: float = 0.2
    sigma: float = 1.0

    def __post_init__(self) -> None:
        if not (isinstance(self.sigma, (int, float)) and math.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"sigma must be a positive number of steps, got {self.sigma!r}")
        for name in ("agent_weight", "step_weight", "format_weight"):
            w = getattr(self, name)
            if not (isinstance(w, (int, float)) and math.isfinite(w)):
                raise ValueError(f"{name} must be a finite number, got {w!r}")

    @property
    def weights(self) -> list[float]:
        """``[agent_weight, step_weight, format_weight]``, the order of :func:`reward_functions`."""
        return [float(self.agent_weight), float(self.step_weight), float(self.format_weight)]

    def to_dict(self) -> dict[str, float]:
        """The config as a plain dict (for logs and checkpoint metadata)."""
        return {k: float(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class RewardBreakdown:
    """The three component scores of one answer and their weighted ``total`` (``None``: not applicable)."""

    agent: float | None
    step: float | None
    format: float
    total: float


# --------------------------------------------------------------------------------------------- helpers
def completion_text(completion: Any) -> str:
    """The text of one completion: a string, a message dict, or a list of messages (assistant turns joined)."""
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        content = completion.get("content", "")
        if isinstance(content, list):  # multimodal-style content parts
            return "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return content if isinstance(content, str) else str(content or "")
    if isinstance(completion, (list, tuple)):
        msgs = [m for m in completion if isinstance(m, dict)]
        assistant = [m for m in msgs if m.get("role", "assistant") == "assistant"]
        return "\n".join(completion_text(m) for m in (assistant or msgs))
    return str(completion)


def _int_or_none(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value == int(value) else None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _parse(text: str) -> tuple[str | None, int | None]:
    """``(agent, step)`` read from ``text`` by the tracer's own parser (never raises).

    No agent list and no step bound are given to the parser: names are compared here after
    normalisation only (no fuzzy matching, which a policy could exploit), and the step range is checked
    by :func:`step_score`, so that an answer with an out-of-range step still counts for its agent.
    """
    from ..attribution.answer import parse_answer

    if not text:
        return None, None
    try:
        att = parse_answer(text, method="reward")
    except Exception:  # the parser promises not to raise; a reward must not crash training either way
        return None, None
    if not getattr(att, "parsed", False):
        return None, None
    agent = att.agent if isinstance(att.agent, str) and att.agent.strip() else None
    step = _int_or_none(att.step)
    if step is None and "step_out_of_range" in (att.metadata or {}):
        step = _int_or_none(att.metadata["step_out_of_range"])
    return agent, step


# ------------------------------------------------------------------------------------- pure scoring
def agent_score(predicted: str | None, gold: str | None) -> float:
    """1.0 if the normalised names match (case, spaces, ``-``/``_`` ignored), else 0.0."""
    if not predicted or not gold:
        return 0.0
    p, g = normalize_agent(predicted), normalize_agent(gold)
    return 1.0 if p and p == g else 0.0


def gaussian_step_kernel(distance: float, sigma: float) -> float:
    """``exp(-d² / (2σ²))``: 1 at distance 0, ``e^-0.5`` ≈ 0.6065 at one σ."""
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    return math.exp(-(float(distance) ** 2) / (2.0 * float(sigma) ** 2))


def step_score(predicted: int | None, gold: int | None, *, sigma: float = 1.0, n_steps: int | None = None) -> float:
    """The Gaussian step reward; 0.0 for a missing, negative or out-of-range (``>= n_steps``) prediction."""
    p, g = _int_or_none(predicted), _int_or_none(gold)
    if p is None or g is None or p < 0:
        return 0.0
    if n_steps is not None and n_steps > 0 and p >= n_steps:
        return 0.0
    return gaussian_step_kernel(p - g, sigma)


def format_score(text: str, *, parsed: bool | None = None) -> float:
    """1.0 for exactly one canonical answer, 0.5 for a readable but non-canonical one, else 0.0.

    ``parsed`` (whether :func:`agentracer.attribution.answer.parse_answer` could read the answer) is
    computed when not given.
    """
    body = _THINK_RE.sub("", text, count=1) if text else ""
    matches = list(_CANONICAL_RE.finditer(body))
    if len(matches) == 1:
        m = matches[0]
        if not body[: m.start()].strip() and _TRAILING_OK.match(body[m.end() :]) and m.group("reason").strip():
            return 1.0
    if parsed is None:
        agent, step = _parse(text)
        parsed = agent is not None and step is not None
    return 0.5 if parsed else 0.0


def score_completion(
    completion: Any,
    gold_agent: str | None,
    gold_step: int | None,
    *,
    config: RewardConfig | None = None,
    n_steps: int | None = None,
) -> RewardBreakdown:
    """All three components of one completion and their weighted total (a missing gold scores ``None``)."""
    cfg = config or RewardConfig()
    text = completion_text(completion)
    agent, step = _parse(text)
    a = None if not gold_agent else agent_score(agent, gold_agent)
    g = _int_or_none(gold_step)
    s = None if g is None or g < 0 else step_score(step, g, sigma=cfg.sigma, n_steps=n_steps)
    f = format_score(text, parsed=agent is not None and step is not None)
    total = cfg.agent_weight * (a or 0.0) + cfg.step_weight * (s or 0.0) + cfg.format_weight * f
    return RewardBreakdown(agent=a, step=s, format=f, total=total)


# ------------------------------------------------------------------------------ TRL reward functions
def _column(kwargs: dict[str, Any], names: Sequence[str], n: int) -> list[Any]:
    for name in names:
        col = kwargs.get(name)
        if col is not None:
            col = list(col)
            if len(col) != n:
                raise ValueError(f"column {name!r} has {len(col)} values for {n} completions")
            return col
    return [None] * n


def _gold_agents(kwargs: dict[str, Any], n: int) -> list[Any]:
    return _column(kwargs, ("agent", "mistake_agent", "gold_agent"), n)


def _gold_steps(kwargs: dict[str, Any], n: int) -> list[Any]:
    return _column(kwargs, ("step", "mistake_step", "gold_step"), n)


def _n_steps(kwargs: dict[str, Any], n: int) -> list[int | None]:
    return [_int_or_none(x) for x in _column(kwargs, ("n_steps",), n)]


def agent_reward(completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
    """TRL reward: 1.0 when the answer names the gold agent (column ``agent``), else 0.0."""
    n = len(completions)
    out: list[float | None] = []
    for c, gold in zip(completions, _gold_agents(kwargs, n), strict=True):
        if gold is None or not str(gold).strip():
            out.append(None)
            continue
        pred, _ = _parse(completion_text(c))
        out.append(agent_score(pred, str(gold)))
    return out


def step_reward(completions: Sequence[Any], *, sigma: float = 1.0, **kwargs: Any) -> list[float | None]:
    """TRL reward: the Gaussian kernel of the distance to the gold step (column ``step``), width ``sigma``."""
    n = len(completions)
    out: list[float | None] = []
    for c, gold, ns in zip(completions, _gold_steps(kwargs, n), _n_steps(kwargs, n), strict=True):
        g = _int_or_none(gold)
        if g is None or g < 0:
            out.append(None)
            continue
        _, pred = _parse(completion_text(c))
        out.append(step_score(pred, g, sigma=sigma, n_steps=ns))
    return out


def format_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """TRL reward: 1.0 canonical answer, 0.5 readable but not canonical, 0.0 unreadable."""
    return [format_score(completion_text(c)) for c in completions]


def reward_functions(config: RewardConfig | None = None) -> tuple[list[Callable[..., list[float | None]]], list[float]]:
    """``([agent_reward, step_reward(σ), format_reward], weights)`` for ``GRPOTrainer``/``GRPOConfig``.

    TRL names each function after the wrapped function (``functools.partial`` is unwrapped), so the
    components are logged as distinct ``rewards/<name>/mean`` metrics.
    """
    cfg = config or RewardConfig()
    funcs: list[Callable[..., list[float | None]]] = [
        agent_reward,
        functools.partial(step_reward, sigma=float(cfg.sigma)),
        format_reward,
    ]
    return funcs, cfg.weights


def make_tracer_reward(config: RewardConfig | None = None) -> Callable[..., list[float]]:
    """One TRL reward function, ``tracer_reward``, returning the weighted sum of the three components.

    Each component's batch mean is also reported through TRL's ``log_metric`` hook as
    ``tracer/agent``, ``tracer/step`` and ``tracer/format`` (when TRL passes the hook).
    """
    cfg = config or RewardConfig()

    def tracer_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
        n = len(completions)
        golds_a, golds_s = _gold_agents(kwargs, n), _gold_steps(kwargs, n)
        parts = [
            score_completion(c, None if a is None else str(a), s, config=cfg, n_steps=ns)
            for c, a, s, ns in zip(completions, golds_a, golds_s, _n_steps(kwargs, n), strict=True)
        ]
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and parts:
            for name in ("agent", "step", "format"):
                vals = [getattr(p, name) for p in parts if getattr(p, name) is not None]
                if vals:
                    log_metric(f"tracer/{name}", sum(vals) / len(vals))
        return [p.total for p in parts]

    return tracer_reward
