"""``trust_system(instrument)``: one fixed MaAS-shaped run for the never-break-the-host tests.

Runs a seeded :class:`MathWorkflow` on three problems, instrumented with ``instrument(workflow)`` when
given (else plain), and returns everything the host sees: the ``(solution, cost, log_prob)`` results
and every prompt the LLM received, so a plain and an instrumented run can be compared for equality.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .controller import LayerController
from .llm import ScriptedLLM, math_script
from .workflow import MathWorkflow

PROBLEMS = ["Compute 17 * 3 + 4.", "Compute 2 * 3 * 4.", "Compute 100 - 7 * 3."]


def trust_system(instrument: Callable[[Any], Any] | None) -> tuple[list[tuple[str, float, float]], list[str]]:
    """The results and LLM prompts of one seeded run (GenerateCoT answers one too many)."""
    llm = ScriptedLLM(math_script({"cot": lambda v: v + 1}))
    workflow = MathWorkflow(llm, LayerController(seed=5))
    if instrument is not None:
        workflow = instrument(workflow) or workflow

    async def main() -> list[tuple[str, float, float]]:
        return [await workflow(p) for p in PROBLEMS]

    results = asyncio.run(main())
    return [(s, round(c, 12), round(lp, 12)) for s, c, lp in results], list(llm.prompts)
