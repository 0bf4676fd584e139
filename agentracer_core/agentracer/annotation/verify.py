"""Replay-verified attribution: confirm or refute a predicted (agent, step) by counterfactual replay.

:func:`verify_attribution` takes a failed trace and a prediction. When the system is runnable — a
:class:`~agentracer.annotation.replay.Replayable` passed in, or rebuilt from a generated trace's
metadata — it replaces the predicted step with the oracle's action and re-runs the suffix:

- **confirmed** when the run flips to success *and* the recorded prefix before that step is recoverable
  (``P(step)``: the oracle from that step on succeeds — nothing earlier is decisive);
- **refuted** otherwise; with ``search=True`` the decisive step is then looked for by bisection and
  reported beside the refutation.

The answer goes to ``attribution.metadata["verified"]`` (True / False / None when it could not be
checked) and ``metadata["verification"]`` (``status``: confirmed | refuted | unverifiable, ``reason``,
``replays``, and ``decisive_step``/``decisive_agent`` when found).

:func:`verify` is the one-line form over a live system (``agentracer.verify``): it wraps the system in a
:class:`~agentracer.annotation.replay.ForkReplayable` (the framework plugin's fork), attributes the trace
when no attribution is given, and checks it with :func:`verify_attribution`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ..trace import Attribution, Trace, TraceError

__all__ = ["as_oracle", "verify", "verify_attribution"]


def _agent_step(trace: Trace, step: int | None) -> int | None:
    if step is None or not 0 <= step < len(trace.steps):
        return None
    s = trace.steps[step]
    while s.parent is not None:
        s = trace.steps[s.parent]
    return s.index


def _mark(att: Attribution, verified: bool | None, status: str, reason: str, **extra: Any) -> Attribution:
    att.metadata["verified"] = verified
    att.metadata["verification"] = {"status": status, "reason": reason, **extra}
    return att


def verify_attribution(
    trace: Trace,
    attribution: Attribution,
    system: Any = None,
    *,
    oracle: Any = None,
    ground_truth: str | None = None,
    search: bool = True,
) -> Attribution:
    """A copy of ``attribution`` with its replay verification in ``metadata`` (see the module docstring).

    ``system``: a :class:`~agentracer.annotation.replay.Replayable` bound to ``trace``; default: rebuilt
    from a generated trace (``GeneratedSystem.from_trace``). ``oracle``: default the system's own
    (``system.oracle()``) when it has one.
    """
    att = copy.deepcopy(attribution)
    if trace.outcome == "success":
        return _mark(att, None, "unverifiable", "the run succeeded: there is no failure to explain")
    if system is None:
        from .generate import GeneratedSystem

        try:
            system = GeneratedSystem.from_trace(trace)
        except TraceError as e:
            return _mark(att, None, "unverifiable", f"the system is not runnable from this trace ({e.reason})")
    if oracle is None:
        make = getattr(system, "oracle", None)
        if not callable(make):
            return _mark(att, None, "unverifiable", "no oracle given and the system has none")
        oracle = make()
    step = _agent_step(trace, att.step)
    if step is None:
        return _mark(att, None, "unverifiable", "the attribution names no step of this trace")
    from .replay import ReplaySession, bisect_search

    s = ReplaySession(trace, system, oracle, None, ground_truth, True, False)
    pos = s.positions.index(step)
    flips = s.single(step)
    prefix_ok = True if pos == 0 or not flips else s.pred(pos)
    if flips and prefix_ok:
        return _mark(att, True, "confirmed",
                     f"replacing step {step} with the oracle's action flips the run to success, and the recorded "
                     "steps before it are recoverable", replays=len(s.probes))
    why = (f"replacing step {step} alone does not flip the run" if not flips else
           f"replacing step {step} flips the run, but an earlier step already made it unrecoverable")
    extra: dict[str, Any] = {}
    if search:
        res = bisect_search(s, 0)
        if res.found:
            extra = {"decisive_step": res.step, "decisive_agent": res.agent}
            why += f"; the decisive step found by replay is {res.step} ({res.agent})"
    return _mark(att, False, "refuted", why, replays=len(s.probes), **extra)


def as_oracle(oracle: Any, **options: Any) -> Any:
    """An oracle from what a user has at hand.

    An object with ``act(trace, step, ground_truth=...)`` is used as it is; a backend string
    (``llamacpp:PATH.gguf``, ``openai:MODEL@URL``, ``transformers:PATH``, ``vllm:PATH``) becomes an
    :class:`~agentracer.annotation.oracle.LLMOracle` (``options`` go to the backend); a Python function
    ``fn(trace, step, ground_truth) -> str`` becomes a :class:`~agentracer.annotation.oracle.ScriptedOracle`.
    """
    from .oracle import ScriptedOracle, from_backend

    if callable(getattr(oracle, "act", None)):
        return oracle
    if isinstance(oracle, str):
        return from_backend(oracle, **options)
    if callable(oracle):
        return ScriptedOracle(oracle, name=getattr(oracle, "__name__", "oracle"))
    raise TypeError(
        f"oracle must be an object with act(), a backend string such as 'llamacpp:PATH.gguf' or "
        f"'openai:MODEL@URL', or a function (trace, step, ground_truth) -> str; got {type(oracle).__name__}"
    )


def verify(
    system: Any,
    trace: Trace,
    checker: Callable[[Any, Trace | None], bool] | None = None,
    *,
    oracle: Any,
    attribution: Attribution | None = None,
    method: str = "embedded",
    ground_truth: str | None = None,
    search: bool = True,
    oracle_options: dict[str, Any] | None = None,
) -> Attribution:
    """Attribute ``trace`` (or take ``attribution``) and check it by counterfactual replay on ``system``.

    ``system``: what ``agentracer.instrument`` was given (a compiled LangGraph graph, an AutoGen team,
    ...): its plugin forks it at the predicted step. ``checker(result, new_trace) -> bool`` says whether a
    replayed run succeeded, ``result`` being what the system itself returned (e.g. LangGraph's final state;
    default: the new trace's ``outcome``). ``oracle``: see :func:`as_oracle`.
    ``method``: the attribution method used when ``attribution`` is None. Returns the attribution with
    ``metadata["verified"]`` and ``metadata["verification"]`` (see the module docstring); an error while
    replaying is reported as ``unverifiable`` with its message, never raised.
    """
    from .replay import ForkReplayable

    if attribution is None:
        from ..attribution import get_attributor

        attribution = get_attributor(method).attribute(trace, ground_truth=ground_truth)
    the_oracle = as_oracle(oracle, **(oracle_options or {}))  # bad input is a clear error, raised here
    replayable = ForkReplayable(system, trace, _unwrapping(checker) if checker is not None else None)
    try:
        return verify_attribution(
            trace, attribution, replayable, oracle=the_oracle, ground_truth=ground_truth, search=search
        )
    except Exception as e:  # a replay that crashed: the attribution stays, marked unverifiable
        return _mark(copy.deepcopy(attribution), None, "unverifiable", f"replay failed: {type(e).__name__}: {e}")


def _unwrapping(checker: Callable[[Any, Trace | None], bool]) -> Callable[[Any, Trace | None], bool]:
    """``checker`` fed the system's own result: a plugin's fork returns ``(result, trace)``."""

    def check(result: Any, new: Trace | None) -> bool:
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], Trace):
            result = result[0]
        return bool(checker(result, new))

    return check
