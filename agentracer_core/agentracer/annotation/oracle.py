"""Oracles: who redoes a step during counterfactual replay.

An :class:`Oracle` answers one question: *what should agent A have output at step k of this run?*
It sees the trace up to (not including) step k — the task, the earlier steps, the step's input — and,
in the w/ G setting, the ground-truth answer.

- :class:`LLMOracle` asks any chat model: an attribution backend's
  :class:`~agentracer.attribution.backends.Generator` (``transformers:PATH``, ``vllm:PATH``,
  ``openai:MODEL@URL`` through :func:`from_backend`), or a plain ``messages -> text`` callable.
- :class:`ScriptedOracle` wraps a function that knows the solution (the generated tasks of
  :mod:`~agentracer.annotation.generate` provide one per domain: a correct agent on the same inputs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from ..trace import Trace, TraceError

__all__ = ["LLMOracle", "Oracle", "ScriptedOracle", "from_backend", "oracle_messages"]

_SYSTEM = (
    "You are an expert agent taking over one step of a multi-agent run. Read the task and the conversation so "
    "far, then write exactly the message that the named agent should send at this step: correct, complete, and "
    "in the same format the agents use. Write only that message."
)


@runtime_checkable
class Oracle(Protocol):
    """Redoes one agent step: the output agent ``trace.steps[step].agent`` should have produced."""

    name: str

    def act(self, trace: Trace, step: int, *, ground_truth: str | None = None) -> str: ...


def _check_step(trace: Trace, step: int) -> None:
    if not isinstance(step, int) or not 0 <= step < len(trace.steps):
        raise TraceError(f"no step {step} (the trace has {len(trace.steps)})", field="step")


def oracle_messages(trace: Trace, step: int, ground_truth: str | None = None, *, max_chars: int = 24_000) -> list[dict[str, str]]:
    """The chat messages :class:`LLMOracle` sends to redo ``step`` of ``trace`` (prefix only, never later steps)."""
    _check_step(trace, step)
    target = trace.steps[step]
    lines = []
    for s in trace.agent_steps():
        if s.index >= step:
            break
        body = s.content or ""
        for c in trace.steps:
            if c.parent == s.index and c.kind in ("tool_call", "tool_result"):
                body += f"\n[{c.tool_name or 'tool'}({c.tool_args}) -> {c.tool_result if c.tool_result is not None else c.content}]"
        lines.append(f"{s.agent}: {body}")
    history = "\n\n".join(lines)
    if len(history) > max_chars:  # keep the start (the plan) and the most recent steps
        head = max_chars // 4
        history = history[:head] + "\n\n[...]\n\n" + history[-(max_chars - head):]
    parts = [f"## Task\n{trace.task or '(no task statement recorded)'}"]
    if ground_truth is not None:
        parts.append(f"## Ground truth\nThe correct final answer is: {ground_truth}")
    parts.append("## Conversation so far\n" + (history or "(nothing yet: this is the first step)"))
    if target.metadata.get("input"):
        parts.append(f"## Input of this step\n{target.metadata['input']}")
    parts.append(f"## Your turn\nWrite the message of agent **{target.agent}** for this step.")
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


class LLMOracle:
    """An oracle backed by a chat model.

    ``model``: a :class:`~agentracer.attribution.backends.Generator` (``generate(batch, **sampling)``),
    an object with ``complete(messages)``, or a callable ``messages -> text``. ``with_ground_truth``
    (w/ G) shows the ground truth when the caller passes one (or the trace holds one).
    """

    def __init__(self, model: Any, *, name: str | None = None, with_ground_truth: bool = False, **sampling: Any) -> None:
        self.model = model
        self.name = name or f"llm-oracle:{getattr(model, 'name', type(model).__name__)}"
        self.with_ground_truth = with_ground_truth
        self.sampling = {"temperature": 0.0, "max_new_tokens": 512, **sampling}

    def _complete(self, messages: list[dict[str, str]]) -> str:
        m = self.model
        if hasattr(m, "generate") and not callable(getattr(m, "complete", None)):
            return str(m.generate([messages], **self.sampling)[0])
        if callable(getattr(m, "complete", None)):
            return str(m.complete(messages, **self.sampling))
        if callable(m):
            return str(m(messages))
        raise TypeError(f"LLMOracle: {type(m).__name__} is not a Generator, a client with complete(), or a callable")

    def act(self, trace: Trace, step: int, *, ground_truth: str | None = None) -> str:
        gt = ground_truth if ground_truth is not None else (trace.ground_truth if self.with_ground_truth else None)
        text = self._complete(oracle_messages(trace, step, gt))
        from ..attribution.backends import strip_special

        # drop a reasoning block: the agent's message is what follows it
        text = strip_special(text)
        if "</think>" in text:
            text = text.split("</think>", 1)[1].strip()
        return text


class ScriptedOracle:
    """An oracle that knows the solution: ``solve(trace, step, ground_truth) -> text``."""

    def __init__(self, solve: Callable[..., str], name: str = "scripted-oracle") -> None:
        self.solve = solve
        self.name = name

    def act(self, trace: Trace, step: int, *, ground_truth: str | None = None) -> str:
        _check_step(trace, step)
        return self.solve(trace, step, ground_truth)


def from_backend(spec: str, *, with_ground_truth: bool = False, **options: Any) -> LLMOracle:
    """An :class:`LLMOracle` over an attribution backend: ``transformers:PATH``, ``vllm:PATH``, ``openai:MODEL@URL``."""
    from ..attribution.backends import build_generator

    gen, _, att_opts = build_generator(spec, **options)
    # sampling options of the spec (max_new_tokens, temperature, ...) apply to the oracle's answers
    sampling = {k: v for k, v in att_opts.items() if k not in ("constrain", "max_chars")}
    return LLMOracle(gen, name=f"oracle:{spec}", with_ground_truth=with_ground_truth, **sampling)
