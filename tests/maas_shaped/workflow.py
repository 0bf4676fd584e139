"""MaAS-shaped workflows: a controller samples the operators of each layer; operators run in sequence."""

from __future__ import annotations

import re
from typing import Any

from .operators import OPERATORS, CustomCodeGenerate, Generate, ScEnsemble, Test


def last_int(text: Any) -> str | None:
    """The last integer in ``text`` (the answer extractor of the math tasks)."""
    nums = re.findall(r"-?\d+", str(text))
    return nums[-1] if nums else None


MATH_POOL = ["Generate", "GenerateCoT", "MultiGenerateCoT", "SelfRefine", "Programmer", "ScEnsemble", "EarlyStop"]


class MathWorkflow:
    """MATH-shaped: sampled layers thread ``current`` and ``pool`` of candidate solutions, then a final ensemble."""

    def __init__(self, llm: Any, controller: Any, operator_names: list[str] | None = None) -> None:
        self.llm = llm
        self.controller = controller
        self.selection_operator_names = list(operator_names or MATH_POOL)
        self.selection_operator_instances = {n: OPERATORS[n](llm) for n in self.selection_operator_names}
        self.operator_embeddings = [[float(i)] for i, _ in enumerate(self.selection_operator_names)]
        self.sc_ensemble = ScEnsemble(llm)

    async def _apply(self, name: str, problem: str, current: str, pool: list[str]) -> tuple[str, list[str]]:
        op = self.selection_operator_instances[name]
        if name in ("Generate", "GenerateCoT"):
            out = await op(input=problem, instruction="")
            return out["response"], [*pool, out["response"]]
        if name == "MultiGenerateCoT":
            out = await op(input=problem, instruction="")
            texts = [r["response"] for r in out["response"]]
            return (texts[-1] if texts else current), [*pool, *texts]
        if name == "SelfRefine":
            out = await op(problem=problem, solution=current)
            return out["response"], [*pool, out["response"]]
        if name == "Programmer":
            out = await op(problem=problem, analysis=current or "None")
            return out["output"], [*pool, out["output"]]
        if name == "ScEnsemble" and pool:
            out = await op(problem=problem, solutions=pool)
            return out["response"], [out["response"]]
        return current, pool

    async def __call__(self, problem: str, entry_point: str = "solve", log_path: str = "") -> tuple[str, float, float]:
        log_probs, layers = self.controller.forward(problem, self.operator_embeddings, self.selection_operator_names)
        current, pool = "", []
        for layer in layers:
            for name in layer:
                current, pool = await self._apply(name, problem, current, pool)
        if len(pool) > 1:
            current = (await self.sc_ensemble(solutions=pool, problem=problem))["response"]
        return current, self.llm.cost_manager.total_cost, float(sum(log_probs))


class CodeWorkflow:
    """HumanEval-shaped: a generated solution, a ``Test`` (with fixes), and ``CustomCodeGenerate`` if it still fails."""

    def __init__(self, llm: Any, controller: Any, cases: dict[str, list[tuple[tuple, Any]]]) -> None:
        self.llm = llm
        self.controller = controller
        self.selection_operator_names = ["Generate", "EarlyStop"]
        self.selection_operator_instances = {"Generate": Generate(llm)}
        self.operator_embeddings = [[0.0], [1.0]]
        self.test_operator = Test(llm, cases=cases)
        self.custom_code_generate = CustomCodeGenerate(llm)

    async def __call__(self, problem: str, entry_point: str, log_path: str = "") -> tuple[str, float, float]:
        log_probs, _layers = self.controller.forward(problem, self.operator_embeddings, self.selection_operator_names)
        draft = (await self.selection_operator_instances["Generate"](input=problem, instruction=""))["response"]
        tested = await self.test_operator(problem=problem, solution=draft, entry_point=entry_point)
        if tested["result"]:
            return tested["solution"], self.llm.cost_manager.total_cost, float(sum(log_probs))
        fixed = await self.custom_code_generate(problem=problem, entry_point=entry_point, instruction="Fix the bugs. ")
        return fixed["response"], self.llm.cost_manager.total_cost, float(sum(log_probs))
