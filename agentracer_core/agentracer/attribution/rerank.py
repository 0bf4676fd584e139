"""Embedded shortlist, LLM decision: ``rerank:BACKEND`` (e.g. ``rerank:openai:MODEL@URL``).

The embedded attributor ranks every step in milliseconds; on Who&When it puts the decisive step first about
half the time but within its top two about two thirds of the time, and when it misses, the gold step is
usually a later one. This method keeps that cheap ranking as a shortlist and asks an LLM (any backend:
``transformers:PATH``, ``vllm:PATH``, ``openai:MODEL@URL``) one question: which of these *k* steps (default
3) is the decisive error? The whole log is in the prompt (fitted to the model's context), the candidates
are named with their agents, and the answer uses the all-at-once format (agent, step, reason).

An answer that cannot be read, or that names a step outside the shortlist, falls back to the embedded
answer (``metadata["rerank"] == "fallback"``), so the method is never worse-formed than the embedded one.
One model call per trace. Not measured on Who&When here: this machine has no LLM worth scoring.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from ..trace import AnnotatedTrace, Attribution, Trace
from .answer import parse_answer
from .backends import Generator, build_generator
from .base import Attributor, register
from .baselines import _Baseline
from .prompt import assemble_messages, step_texts

__all__ = ["Rerank"]

_SYSTEM = "You are a helpful assistant skilled in analysing conversations."
_PRE = (
    "You are analysing the conversation of several agents that tried to solve a real-world problem and failed.\n"
    "The problem is: "
)
_POST = (
    "\n{gt}The decisive error is the earliest step which, if corrected, would have led to a correct solution.\n"
    "Here is the conversation (one entry per step, `Step N - agent: message`):\n\n"
)
_TAIL = (
    "\n\nA screening model narrowed the decisive error down to one of these steps:\n{candidates}\n"
    "Read the conversation and choose the ONE step among them that holds the decisive error.\n"
    "Answer in this format:\nAgent Name: (the agent of that step)\nStep Number: (one of {numbers})\n"
    "Reason for Mistake: (your reason)"
)


class Rerank(_Baseline):
    """The embedded ranker's top ``k`` steps, decided between by an LLM (see the module docstring)."""

    protocol = "rerank"

    def __init__(
        self, generator: Generator, k: int = 3, base: Attributor | None = None, name: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(generator, name=name, **kwargs)
        if int(k) < 2:
            raise ValueError("rerank needs k >= 2 candidates")
        self.k = int(k)
        if base is None:
            from .embedded import EmbeddedAttributor

            base = EmbeddedAttributor()
        self.base = base

    def fit(self, items: list[AnnotatedTrace]) -> Rerank:
        """The same reranker over a base attributor trained on ``items`` only (so that ``agentracer eval``
        cross-validates the shortlist instead of scoring the shipped, in-sample embedded parameters)."""
        fit = getattr(self.base, "fit", None)
        if not callable(fit):
            return self
        out = copy.copy(self)
        out.base = fit(items)
        return out

    def shortlist(self, trace: Trace, first: Attribution) -> list[int]:
        """Up to ``k`` top-level step indices: the base answer first, then its evidence in order."""
        top = {s.index for s in trace.agent_steps()}
        out: list[int] = []
        for i in [first.step, *(first.evidence or [])]:
            if isinstance(i, int) and i in top and i not in out:
                out.append(i)
        return out[: self.k]

    def messages(self, trace: Trace, candidates: list[int], ground_truth: str | None = None) -> list[dict[str, str]]:
        """The chat messages sent for ``trace`` and its shortlist (positions in the log = step indices)."""
        steps = trace.agent_steps()
        pos = {s.index: p for p, s in enumerate(steps)}
        names = "\n".join(f"- Step {pos[i]} ({trace.steps[i].agent})" for i in candidates)
        numbers = ", ".join(str(pos[i]) for i in candidates)
        return assemble_messages(
            _SYSTEM,
            _PRE,
            trace.task or "(no task statement recorded)",
            _POST.format(gt=self._gt(ground_truth)),
            [f"Step {p} - {s.agent}: " for p, s in enumerate(steps)],
            step_texts(trace, steps),
            _TAIL.format(candidates=names, numbers=numbers),
            sep="\n",
            **self._budget(),
        )

    def attribute(self, trace: Trace, ground_truth: str | None = None) -> Attribution:
        """Shortlist with the base attributor, then one model call to choose among the shortlist."""
        steps = trace.agent_steps()
        if not steps:
            return self._empty()
        first = self.base.attribute(trace, ground_truth)
        candidates = self.shortlist(trace, first)
        meta = {"protocol": self.protocol, "candidates": candidates, "base_step": first.step, "base_agent": first.agent}
        if len(candidates) < 2:  # nothing to choose between
            return _with(first, self.name, {**meta, "calls": 0, "rerank": "single"})
        answer = self._ask([self.messages(trace, candidates, ground_truth)])[0]
        att = parse_answer(answer, agents=list(trace.agents), n_steps=len(steps), method=self.name)
        step = steps[att.step].index if att.step is not None else None
        if step not in candidates:
            why = "unreadable" if att.step is None else f"step {step} is not on the shortlist"
            return _with(first, self.name, {**meta, "calls": 1, "rerank": "fallback", "why": why}, raw=answer)
        return Attribution(
            agent=trace.steps[step].agent,  # the step decides; a mismatching agent name in the answer is ignored
            step=step,
            reason=att.reason or first.reason,
            confidence=None,
            method=self.name,
            raw=answer,
            evidence=candidates,
            metadata={
                **meta,
                "calls": 1,
                "rerank": "kept" if step == first.step else "changed",
                "answer_agent": att.agent,
            },
        )


def _with(att: Attribution, method: str, meta: dict[str, Any], raw: str | None = None) -> Attribution:
    """The base answer as this method's, with the rerank facts added to its metadata."""
    return dataclasses.replace(
        att,
        method=method,
        raw=raw if raw is not None else att.raw,
        evidence=list(att.evidence or []),
        metadata={**(att.metadata or {}), **meta},
    )


@register("rerank")
def _factory(arg: str = "", k: int | str | None = None, **options: Any) -> Rerank:
    """``rerank:BACKEND[?k=3&...]``: the embedded shortlist decided by the LLM backend ``BACKEND``."""
    from urllib.parse import parse_qsl, urlencode

    if not arg:
        raise ValueError(
            "rerank needs a backend: rerank:transformers:PATH, rerank:vllm:PATH or rerank:openai:MODEL@URL"
        )
    head, _, query = arg.partition("?")
    params = parse_qsl(query, keep_blank_values=True)
    given = [v for key, v in params if key == "k"]
    if k is None:
        k = given[-1] if given else 3
    rest = urlencode([(key, v) for key, v in params if key != "k"])
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise ValueError(f"rerank: k must be an integer, got {k!r}") from None
    generator, name, att_opts = build_generator(head + (f"?{rest}" if rest else ""), **options)
    return Rerank(generator, k=k, name=f"rerank:{name}", **att_opts)
