"""The simulated refinement pipeline as a MaAS-shaped workflow: GenerateCoT -> Programmer -> SelfRefine.

The word problems, the simulated agents' behaviour (:class:`~agentracer.samples.simulated.SimPolicy`) and
the :class:`~agentracer.samples.simulated.System` shape are framework-neutral and live in core; this module
has the MaAS shapes: an ``aask`` LLM answering through the policy (:class:`SimulatedLLM`), three operators,
a fixed controller and the workflow (recorded by this plugin like a real MaAS workflow).
:func:`maas_system` is what the plugin offers as the ``("maas", "simulated")`` sample.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from agentracer.refinement.checks import question_of
from agentracer.samples.simulated import ROLE_PROMPTS, SimPolicy, System, role_of, run_solve

__all__ = [
    "MAAS_AGENTS",
    "FixedController",
    "GenerateCoT",
    "MaasWorkflow",
    "Programmer",
    "SelfRefine",
    "SimulatedLLM",
    "build_maas_workflow",
    "maas_system",
]

#: The workflow's operator (agent) for each role of the pipeline.
MAAS_AGENTS = {"extract": "GenerateCoT", "compute": "Programmer", "finalize": "SelfRefine"}


class SimulatedLLM:
    """A MaAS-shaped LLM (``async aask``) whose answers come from :class:`SimPolicy` (the role is read
    from the prompt). Keeps every prompt it received in ``prompts`` as ``(role, prompt)``."""

    def __init__(self, policy: SimPolicy) -> None:
        self.policy = policy
        self.model = "simulated-agent"
        self.prompts: list[tuple[str | None, str]] = []

    async def aask(self, msg: Any, system_msgs: list[str] | None = None, *args: Any, **kwargs: Any) -> str:
        text = msg if isinstance(msg, str) else json.dumps(msg, ensure_ascii=False)
        role = role_of(text)
        self.prompts.append((role, text))
        return self.policy.respond(role or "finalize", text)


class _Operator:
    """Base of the demo's MaAS-shaped operators: ``_fill_node`` sends the prompt to ``llm.aask``."""

    def __init__(self, llm: Any, name: str) -> None:
        self.llm = llm
        self.name = name

    async def _fill_node(self, prompt: str) -> str:
        return await self.llm.aask(prompt)


class GenerateCoT(_Operator):
    """Reads the problem and works out the starting total (role ``extract``)."""

    def __init__(self, llm: Any, name: str = "GenerateCoT") -> None:
        super().__init__(llm, name)

    async def __call__(self, problem: str, instruction: str = "") -> dict[str, str]:
        text = await self._fill_node(f"{ROLE_PROMPTS['extract']}\n{instruction}Problem: {problem}")
        return {"response": text}


class Programmer(_Operator):
    """Writes ``solve()`` from the analysis and runs it (role ``compute``)."""

    def __init__(self, llm: Any, name: str = "Programmer", *, isolate: bool = False) -> None:
        super().__init__(llm, name)
        self.isolate = isolate

    async def __call__(self, problem: str, analysis: str = "") -> dict[str, str]:
        code = await self._fill_node(f"{ROLE_PROMPTS['compute']}\nProblem: {problem}\nAnalysis: {analysis}")
        ok, out = run_solve(code, isolate=self.isolate)
        return {"code": code, "output": out if ok else f"error: {out}"}


class SelfRefine(_Operator):
    """Turns the computed result into the final answer (role ``finalize``)."""

    def __init__(self, llm: Any, name: str = "SelfRefine") -> None:
        super().__init__(llm, name)

    async def __call__(self, problem: str, solution: str) -> dict[str, str]:
        text = await self._fill_node(f"{ROLE_PROMPTS['finalize']}\nProblem: {problem}\nComputed result: {solution}")
        return {"response": text}


class FixedController:
    """MaAS-shaped controller that always picks GenerateCoT -> Programmer -> SelfRefine (recorded by the plugin)."""

    LAYERS = [["GenerateCoT"], ["Programmer"], ["SelfRefine"]]

    def forward(self, query: str, operator_embeddings: Any, names: list[str]) -> tuple[list[float], list[list[str]]]:
        return [0.0 for _ in self.LAYERS], [list(x) for x in self.LAYERS]


class MaasWorkflow:
    """A MaAS-shaped workflow: ``await workflow(problem)`` -> ``(answer, cost, log_prob)``."""

    def __init__(self, llm: Any, *, isolate: bool = False) -> None:
        self.llm = llm
        self.controller = FixedController()
        self.selection_operator_instances = {
            "GenerateCoT": GenerateCoT(llm), "Programmer": Programmer(llm, isolate=isolate), "SelfRefine": SelfRefine(llm)
        }
        self.selection_operator_names = list(self.selection_operator_instances)

    async def __call__(self, problem: str, entry_point: str = "", log_path: str = "") -> tuple[str, float, float]:
        log_probs, layers = self.controller.forward(problem, None, self.selection_operator_names)
        current = ""
        for layer in layers:
            for name in layer:
                op = self.selection_operator_instances[name]
                if name == "GenerateCoT":
                    current = (await op(problem=problem))["response"]
                elif name == "Programmer":
                    current = (await op(problem=problem, analysis=current))["output"]
                else:
                    current = (await op(problem=problem, solution=current))["response"]
        return current, 0.0, float(sum(log_probs))


def build_maas_workflow(llm: Any, *, isolate: bool = False) -> MaasWorkflow:
    """The three-operator MaAS-shaped workflow on ``llm`` (anything with ``async aask``)."""
    return MaasWorkflow(llm, isolate=isolate)

def maas_system(llm_factory: Callable[[], Any] | None = None, *, policy: SimPolicy | None = None,
                isolate: bool = False) -> System:
    """The MaAS-shaped pipeline; simulated agents unless ``llm_factory`` gives a real ``aask`` LLM."""
    prompts: list[tuple[str | None, str]] = []

    def build() -> Any:
        if llm_factory is not None:
            llm = llm_factory()
        else:
            llm = SimulatedLLM(policy or SimPolicy())
            llm.prompts = prompts
        return build_maas_workflow(llm, isolate=isolate)

    def run(system: Any, task: Any) -> str:
        answer, _cost, _lp = asyncio.run(system(question_of(task)))
        return str(answer)

    return System("maas", build, run, dict(MAAS_AGENTS), prompts)
