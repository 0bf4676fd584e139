"""Who&When's three LLM baselines (Zhang et al., ICML 2025), each with any backend.

Method strings: ``all-at-once:BACKEND``, ``step-by-step:BACKEND``, ``binary-search:BACKEND``, where
``BACKEND`` is a backend method string (``transformers:PATH``, ``vllm:PATH``, ``openai:MODEL@URL``, with
optional ``?options``). The protocols follow the paper and its reference code:

- **all-at-once**: the whole log (``agent: message`` per entry, counted from 0) in one prompt; the model
  answers ``Agent Name: / Step Number: / Reason for Mistake:``.
- **step-by-step**: walk the log; at step *i* show the log up to *i* and ask whether step *i* holds an
  error that derails the solution (``1. Yes/No. 2. Reason: ...``). The first *yes* is the prediction;
  with no *yes*, the last step and its agent (the reference code's fallback).
- **binary search**: ask whether the decisive error lies in the upper half ``[start, mid]`` or the lower
  half ``[mid+1, end]`` of the current segment (``mid = start + (end - start) // 2``), recurse until one
  step remains; that step and its agent are the prediction. An answer naming neither half picks one at
  random (seeded by the run id, so repeatable), as the reference code does.

Positions in the log are top-level steps; they are mapped back to the trace's step indices. The w/ G
setting adds ``The answer to the problem is: ...`` to every prompt. ``metadata`` on the returned
Attribution records the number of model calls and of unreadable answers.
"""

from __future__ import annotations

import random
import re
from typing import Any

from ..trace import Attribution, Step, Trace
from .answer import parse_answer
from .backends import Generator, build_generator, prompt_budget, sampling_defaults, snap_to_agent_step
from .base import register
from .fit import measure
from .prompt import assemble_messages, step_texts

__all__ = ["AllAtOnce", "BinarySearch", "StepByStep"]

_GT_LINE = "The answer to the problem is: {gt}\n"

_AAO_SYSTEM = "You are a helpful assistant skilled in analysing conversations."
_AAO_PRE = (
    "You are analysing the conversation of several agents that tried to solve a real-world problem and failed.\n"
    "The problem is: "
)
_AAO_POST = (
    "\n{gt}Identify the agent that made an error, the step at which it made it, and the reason.\n"
    "Here is the conversation (one entry per step, `agent: message`):\n\n"
)
_AAO_TAIL = (
    "\n\nBased on this conversation, predict:\n"
    "1. The name of the agent whose mistake is directly responsible for the wrong solution. If no agent made "
    "an obvious mistake, still choose the single most likely agent. Output only the agent's name.\n"
    "2. The step at which that agent first made the mistake. Steps are counted from 0 in the order of the "
    "entries above: when agent a, agent b, agent c and agent a speak in turn, a mistake in agent c's message "
    "is step 2 and a mistake in agent a's second message is step 3.\n"
    "3. The reason for your prediction.\n"
    "Answer in this format:\nAgent Name: (your prediction)\nStep Number: (your prediction)\n"
    "Reason for Mistake: (your reason)"
)

_SBS_SYSTEM = "You are a precise evaluator of the steps of a multi-agent conversation."
_SBS_PRE = (
    "You are evaluating, one step at a time, a conversation in which several agents try to solve a "
    "real-world problem. The problem is: "
)
_SBS_POST = "\n{gt}Here is the conversation up to the current step:\n"
_SBS_TAIL = (
    "\n\nThe most recent step ({idx}) was taken by '{agent}'.\n"
    "Does this most recent step (Step {idx}) contain an error that could derail the problem solving or "
    "lead to a wrong solution? Do not be overly critical: count only errors that clearly derail the process.\n"
    "Answer ONLY in this format:\n1. Yes/No.\n2. Reason: (your explanation)"
)

_BS_SYSTEM = "You are an assistant that locates errors in segments of multi-agent conversations."
_BS_PRE = (
    "Several agents collaborated to solve a user's problem and failed. Your task is to locate the most "
    "critical mistake in a segment of their conversation: decide which half of the segment contains the "
    "single step with the error that led to the failure.\nThe problem is: "
)
_BS_POST = (
    "\n{gt}Here is the conversation segment from step {a} to step {b} (one entry per step, `agent: message`):\n\n"
)
_BS_TAIL = (
    "\n\nIs the most critical error more likely in the upper half (from step {a} to step {m}) or in the lower "
    "half (from step {m1} to step {b}) of this segment? Answer with ONLY 'upper half' or 'lower half'. "
    "If no single clear error is evident, choose the half holding the step you find most responsible "
    "for the failure."
)


def _answer_part(text: Any) -> str:
    """The text after a closing ``</think>`` (or the thinking itself when nothing follows it)."""
    if not isinstance(text, str):
        return ""
    low = text.lower()
    if "</think>" in low:
        after = text[low.rindex("</think>") + len("</think>") :]
        return after if after.strip() else text[: low.rindex("</think>")]
    return text


def read_yes_no(text: Any) -> bool | None:
    """True for a *yes*, False for a *no*, None when the answer says neither (first word that decides)."""
    body = _answer_part(text).lower()
    m = re.search(r"\b(yes|no)\b", body)
    if not m:
        return None
    return m.group(1) == "yes"


def read_half(text: Any) -> str | None:
    """``"upper"`` or ``"lower"`` from a binary-search answer (the first one named), else None."""
    body = _answer_part(text).lower()
    hits = [(m.start(), m.group(1)) for m in re.finditer(r"\b(upper|lower|first|second)\s+half\b", body)]
    if not hits:
        return None
    word = min(hits)[1]
    return "upper" if word in ("upper", "first") else "lower"


def _reason_of(text: Any) -> str:
    body = _answer_part(text)
    m = re.search(r"(?is)reason\s*:\s*(.+)$", body)
    return " ".join((m.group(1) if m else body).split())[:1000]


class _Baseline:
    """Shared plumbing: a generator, sampling options and prompt fitting."""

    protocol = ""

    def __init__(
        self,
        generator: Generator,
        name: str | None = None,
        enable_thinking: bool = False,
        max_new_tokens: int | None = None,
        max_chars: int | None = None,
        seed: int | None = None,
        **sampling: Any,
    ) -> None:
        self.generator = generator
        self.name = name or f"{self.protocol}:{getattr(generator, 'name', 'llm')}"
        self.enable_thinking = bool(enable_thinking)
        self.max_new_tokens = int(max_new_tokens or (2048 if enable_thinking else 256))
        self.max_chars = max_chars
        self.seed = seed
        self.sampling = {**sampling_defaults(self.enable_thinking), **sampling}
        if seed is not None:
            self.sampling["seed"] = seed

    def _budget(self) -> dict[str, Any]:
        return prompt_budget(self.generator, self.max_new_tokens, self.max_chars)

    def _ask(self, batch: list[list[dict[str, str]]]) -> list[str]:
        return self.generator.generate(
            batch, max_new_tokens=self.max_new_tokens, enable_thinking=self.enable_thinking, **self.sampling
        )

    @staticmethod
    def _gt(ground_truth: str | None) -> str:
        return _GT_LINE.format(gt=ground_truth) if ground_truth is not None else ""

    def _empty(self) -> Attribution:
        return Attribution(agent=None, step=None, reason="empty trace", method=self.name, parsed=False)


class AllAtOnce(_Baseline):
    """Who&When all-at-once: the whole log in one prompt; agent, step and reason in one answer."""

    protocol = "all-at-once"

    def messages(self, trace: Trace, ground_truth: str | None = None) -> list[dict[str, str]]:
        """The chat messages sent for ``trace``."""
        steps = trace.agent_steps()
        return assemble_messages(
            _AAO_SYSTEM,
            _AAO_PRE,
            trace.task or "(no task statement recorded)",
            _AAO_POST.format(gt=self._gt(ground_truth)),
            [f"{s.agent}: " for s in steps],
            step_texts(trace, steps),
            _AAO_TAIL,
            sep="\n",
            **self._budget(),
        )

    def attribute(self, trace: Trace, ground_truth: str | None = None) -> Attribution:
        """Attribute ``trace`` with one model call."""
        steps = trace.agent_steps()
        if not steps:
            return self._empty()
        answer = self._ask([self.messages(trace, ground_truth)])[0]
        att = parse_answer(answer, agents=list(trace.agents), n_steps=len(steps), method=self.name)
        if att.step is not None:  # a position in the log -> the trace's step index
            att.step = steps[att.step].index
            snap_to_agent_step(trace, att)
        att.metadata.update(calls=1, protocol=self.protocol)
        return att


class StepByStep(_Baseline):
    """Who&When step-by-step: judge each step in turn; the first one judged wrong is the prediction."""

    protocol = "step-by-step"

    def messages(
        self,
        trace: Trace,
        position: int,
        ground_truth: str | None = None,
        texts: list[str] | None = None,
        lengths: list[int] | None = None,
    ) -> list[dict[str, str]]:
        """The chat messages that ask about the step at ``position`` (0-based among top-level steps).

        ``texts``/``lengths`` (every top-level step's text and its length) save recomputing them per step.
        """
        steps = trace.agent_steps()[: position + 1]
        texts = (texts if texts is not None else step_texts(trace))[: position + 1]
        last = steps[-1]
        return assemble_messages(
            _SBS_SYSTEM,
            _SBS_PRE,
            trace.task or "(no task statement recorded)",
            _SBS_POST.format(gt=self._gt(ground_truth)),
            [f"Step {s.index} - {s.agent}: " for s in steps],
            texts,
            _SBS_TAIL.format(idx=last.index, agent=last.agent),
            sep="\n",
            lengths=None if lengths is None else lengths[: position + 1],
            **self._budget(),
        )

    def attribute(self, trace: Trace, ground_truth: str | None = None) -> Attribution:
        """Ask step by step until a step is judged wrong (at most one call per top-level step)."""
        steps = trace.agent_steps()
        if not steps:
            return self._empty()
        tok = self._budget().get("tokenizer")
        texts = step_texts(trace, steps)
        lengths = [measure(t, tok) for t in texts]
        unreadable = 0
        for pos, s in enumerate(steps):
            answer = self._ask([self.messages(trace, pos, ground_truth, texts, lengths)])[0]
            verdict = read_yes_no(answer)
            if verdict is None:
                unreadable += 1
            if verdict:
                return self._result(s, _reason_of(answer), pos + 1, unreadable, answer, first_yes=True)
        return self._result(
            steps[-1],
            "no step was judged wrong; the last step (Who&When's fallback)",
            len(steps),
            unreadable,
            None,
            first_yes=False,
        )

    def _result(
        self, s: Step, reason: str, calls: int, unreadable: int, raw: str | None, first_yes: bool
    ) -> Attribution:
        return Attribution(
            agent=s.agent,
            step=s.index,
            reason=reason,
            method=self.name,
            raw=raw,
            metadata={"calls": calls, "unreadable": unreadable, "first_yes": first_yes, "protocol": self.protocol},
        )


class BinarySearch(_Baseline):
    """Who&When binary search: halve the log by asking which half holds the decisive error."""

    protocol = "binary-search"

    def messages(self, trace: Trace, start: int, end: int, ground_truth: str | None = None) -> list[dict[str, str]]:
        """The chat messages for the segment of top-level positions ``start..end`` (inclusive)."""
        steps = trace.agent_steps()
        seg = steps[start : end + 1]
        mid = start + (end - start) // 2
        a, b, m = steps[start].index, steps[end].index, steps[mid].index
        m1 = steps[min(mid + 1, end)].index
        return assemble_messages(
            _BS_SYSTEM,
            _BS_PRE,
            trace.task or "(no task statement recorded)",
            _BS_POST.format(gt=self._gt(ground_truth), a=a, b=b),
            [f"{s.agent}: " for s in seg],
            step_texts(trace, seg),
            _BS_TAIL.format(a=a, b=b, m=m, m1=m1),
            sep="\n",
            **self._budget(),
        )

    def attribute(self, trace: Trace, ground_truth: str | None = None) -> Attribution:
        """Halve until one step is left (about log2(n) calls)."""
        steps = trace.agent_steps()
        if not steps:
            return self._empty()
        rng = random.Random(f"{self.seed or 0}:{trace.run_id}")
        start, end = 0, len(steps) - 1
        calls = unreadable = 0
        last_answer: str | None = None
        while start < end:
            mid = start + (end - start) // 2
            last_answer = self._ask([self.messages(trace, start, end, ground_truth)])[0]
            calls += 1
            half = read_half(last_answer)
            if half is None:
                unreadable += 1
                half = "upper" if rng.random() < 0.5 else "lower"
            if half == "upper":
                end = mid
            else:
                start = min(mid + 1, end)
        s = steps[start]
        return Attribution(
            agent=s.agent,
            step=s.index,
            reason=f"binary search narrowed the log to step {s.index} in {calls} question(s)",
            method=self.name,
            raw=last_answer,
            metadata={"calls": calls, "unreadable": unreadable, "protocol": self.protocol},
        )


def _factory(cls: type[_Baseline]) -> Any:
    def build(arg: str = "", **options: Any) -> _Baseline:
        if not arg:
            raise ValueError(
                f"{cls.protocol} needs a backend: {cls.protocol}:transformers:PATH, {cls.protocol}:vllm:PATH "
                f"or {cls.protocol}:openai:MODEL@URL"
            )
        generator, name, att_opts = build_generator(arg, **options)
        return cls(generator, name=f"{cls.protocol}:{name}", **att_opts)

    build.__doc__ = f"The {cls.protocol} baseline over the backend named after the first colon."
    return build


register("all-at-once")(_factory(AllAtOnce))
register("step-by-step")(_factory(StepByStep))
register("binary-search")(_factory(BinarySearch))
