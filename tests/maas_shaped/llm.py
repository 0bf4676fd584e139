"""A MaAS-shaped LLM: ``async aask(msg, system_msgs=None, ...) -> str`` answered by a script."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from .prompts import kind_of


class CostManager:
    """Token and cost totals, like MaAS's ``llm.cost_manager``."""

    def __init__(self) -> None:
        self.total_prompt_tokens = 0
        self.total_completion_tokens = 0
        self.total_cost = 0.0

    def update_cost(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.total_prompt_tokens += prompt_tokens
        self.total_completion_tokens += completion_tokens
        self.total_cost += 1e-6 * (prompt_tokens + 2 * completion_tokens)


class ScriptedLLM:
    """Answers every ``aask`` with ``script(prompt)``; keeps the prompts it was sent in ``prompts``."""

    def __init__(self, script: Callable[[str], str], model: str = "scripted-llm") -> None:
        self.script = script
        self.config = SimpleNamespace(model=model)
        self.cost_manager = CostManager()
        self.prompts: list[str] = []

    async def aask(
        self,
        msg: Any,
        system_msgs: list[str] | None = None,
        format_msgs: list[dict[str, str]] | None = None,
        images: Any = None,
        timeout: int = 60,
        stream: bool | None = None,
    ) -> str:
        prompt = msg if isinstance(msg, str) else "\n".join(str(m.get("content", m)) for m in msg)
        self.prompts.append(prompt)
        await asyncio.sleep(0)
        out = self.script(prompt)
        self.cost_manager.update_cost(len(prompt.split()), len(out.split()))
        return out


_EXPR = re.compile(r"Compute ([0-9+\-* ()]+)\.")


def _value(prompt: str) -> int:
    m = _EXPR.search(prompt)
    if not m:
        return 0
    expr = m.group(1)
    if not re.fullmatch(r"[0-9+\-* ()]+", expr):
        return 0
    return int(eval(expr, {"__builtins__": {}}, {}))  # digits and + - * only (checked above)


def math_script(bugs: dict[str, Callable[[int], int]] | None = None) -> Callable[[str], str]:
    """A script that solves ``Compute <expr>.`` problems; ``bugs[kind]`` corrupts one template's answers."""
    bugs = bugs or {}

    def script(prompt: str) -> str:
        kind = kind_of(prompt) or "generate"
        v = _value(prompt)
        if kind in bugs:
            v = bugs[kind](v)
        if kind == "ensemble":
            letters = re.findall(r"^([A-Z]): \n(.*)$", prompt, flags=re.M)
            votes: dict[str, list[str]] = {}
            for letter, text in letters:
                nums = re.findall(r"-?\d+", text)
                votes.setdefault(nums[-1] if nums else "", []).append(letter)
            best = max(votes.values(), key=len)[0] if votes else "A"
            return f"<thought>majority</thought><solution_letter>{best}</solution_letter>"
        if kind == "program":
            return f"```python\ndef solve():\n    return {v}\n```"
        if kind == "refine":
            return f"After review, the final answer is {v}."
        if kind == "cot":
            return f"Step by step: evaluating the expression gives {v}. The answer is {v}."
        return f"The answer is {v}."

    return script
