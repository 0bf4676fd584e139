"""MaAS: record a failing operator workflow, attribute the failure, confirm it by a fork, feed it back.

Runs offline: the workflow below has MaAS's shape (operators with an async ``__call__`` that go through
``_fill_node`` -> ``llm.aask``; a controller whose ``forward`` picks the operators of each layer; a
``Workflow.__call__(problem, entry_point, log_path)`` returning ``(solution, cost, log_prob)``), and the
LLM is scripted. With a real MaAS checkout, instrument its ``Workflow`` object the same way.

    python examples/maas_example.py
"""

from __future__ import annotations

import asyncio
import re

import agentracer
from agentracer import Recorder
from agentracer.attribution.confidence import candidates_text, check_verdict

PROBLEM = "Compute 3 + 4 * 5."
ANSWER = "23"


class ScriptedLLM:
    """Stands in for MaAS's LLM. Its GenerateCoT answers add before multiplying, unless told otherwise."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    async def aask(self, msg: str, system_msgs: list[str] | None = None, **kwargs: object) -> str:
        self.prompts.append(msg)
        if msg.startswith("Think step by step") or "\nThink step by step" in msg:
            if "multiplication before addition" in msg:
                return "4 * 5 = 20, then 3 + 20 = 23. Answer: 23"
            return "3 + 4 = 7, then 7 * 5 = 35. Answer: 35"
        if "Write solve()" in msg:
            value = re.findall(r"Answer: (\d+)", msg)[-1]
            return f"def solve():\n    return {value}  # from the analysis"
        value = re.findall(r"\d+", msg.split("Solution:")[-1])[-1]
        return f"Checked. The final answer is {value}."


class Operator:
    def __init__(self, llm: ScriptedLLM, name: str) -> None:
        self.llm, self.name = llm, name

    async def _fill_node(self, prompt: str) -> str:
        return await self.llm.aask(prompt)


class GenerateCoT(Operator):
    async def __call__(self, problem: str, instruction: str = "") -> dict:
        return {"response": await self._fill_node(f"Think step by step.{instruction}\nProblem: {problem}")}


class Programmer(Operator):
    async def __call__(self, problem: str, analysis: str) -> dict:
        code = await self._fill_node(f"Write solve() for: {problem}\nAnalysis: {analysis}")
        scope: dict = {}
        exec(code, {"__builtins__": {}}, scope)  # the scripted LLM's own two-line function
        return {"code": code, "output": str(scope["solve"]())}


class SelfRefine(Operator):
    async def __call__(self, problem: str, solution: str) -> dict:
        return {"response": await self._fill_node(f"Review the solution.\nProblem: {problem}\nSolution: {solution}")}


class Controller:
    """Picks the operators of each layer (MaAS samples them; this one is fixed for the example)."""

    def forward(self, query: str, operator_embeddings: object, names: list[str]) -> tuple[list[float], list[list[str]]]:
        return [-0.1, -0.2, -0.3], [["GenerateCoT"], ["Programmer"], ["SelfRefine"]]


class Workflow:
    def __init__(self, llm: ScriptedLLM) -> None:
        self.llm = llm
        self.controller = Controller()
        self.selection_operator_instances = {
            "GenerateCoT": GenerateCoT(llm, "GenerateCoT"),
            "Programmer": Programmer(llm, "Programmer"),
            "SelfRefine": SelfRefine(llm, "SelfRefine"),
        }

    async def __call__(self, problem: str, entry_point: str = "", log_path: str = "") -> tuple[str, float, float]:
        log_probs, layers = self.controller.forward(problem, None, list(self.selection_operator_instances))
        solution = ""
        for layer in layers:
            for name in layer:
                op = self.selection_operator_instances[name]
                if name == "GenerateCoT":
                    solution = (await op(problem=problem))["response"]
                elif name == "Programmer":
                    solution = "Answer: " + (await op(problem=problem, analysis=solution))["output"]
                else:
                    solution = (await op(problem=problem, solution=solution))["response"]
        return solution, 0.0, sum(log_probs)


def print_steps(trace: agentracer.Trace) -> None:
    for s in trace.steps:
        indent = "    " if s.parent is not None else ""
        text = " ".join(s.content.split())[:90]
        print(f"  {s.index:>2} {indent}{s.agent:<12} {s.kind:<14} {text}")


def main() -> None:
    llm = ScriptedLLM()
    workflow = agentracer.instrument(Workflow(llm), recorder=Recorder())
    solution, _cost, _logp = asyncio.run(workflow(PROBLEM))
    trace = agentracer.recorder_of(workflow).last_trace()
    trace.outcome = "failure" if ANSWER not in solution else "success"
    print(f"task: {PROBLEM}   answer: {solution!r}   expected: {ANSWER}   -> {trace.outcome}")
    print(f"sampled architecture: {trace.metadata['maas']['architecture']}")
    print("steps:")
    print_steps(trace)

    att = agentracer.attribute(trace, ground_truth=ANSWER)
    print(f"\nattribution ({att.method}): agent {att.agent}, step {att.step}")
    print(f"  reason: {att.reason}")
    print(f"  confidence {att.confidence:.2f}; top-3: {candidates_text(att.candidates)}")
    if att.low_confidence:
        print(f"  {att.metadata['note']}")

    # Counterfactual check: replay the recorded architecture and LLM responses, give one operator step
    # the right answer (same output schema), rerun the later operators. The earliest step whose
    # correction flips the run is the decisive one.
    print("\ncounterfactual replay (fork at each operator step with a corrected output):")
    decisive = None
    for step in trace.agent_steps():
        (fixed, _, _), _fork_trace = agentracer.fork(workflow, trace, step.index, f"Answer: {ANSWER}")()
        flipped = ANSWER in fixed
        print(f"  step {step.index} ({step.agent}): {fixed!r} -> {'flips to success' if flipped else 'still fails'}")
        if flipped and decisive is None:
            decisive = step
    assert decisive is not None
    print(f"  decisive step by replay: {decisive.index} ({decisive.agent})")
    print(f"  attribution vs fork: {check_verdict(att, decisive.index, decisive.agent, 'the replay check')}")

    # Feedback goes into that operator's prompt only.
    agentracer.inject_feedback(workflow, decisive.agent,
                               f"At step {decisive.index} you added before multiplying. Do multiplication before addition.")
    n = len(llm.prompts)
    solution2, _, _ = asyncio.run(workflow(PROBLEM))
    told = [p for p in llm.prompts[n:] if "multiplication before addition" in p]
    only = all("Think step by step" in p for p in told)  # GenerateCoT's prompt template
    print(f"\nafter feedback to {decisive.agent} (in {len(told)} of {len(llm.prompts) - n} prompts"
          f"{', all GenerateCoT' if only else ''}): {solution2!r} -> {'right' if ANSWER in solution2 else 'still wrong'}")


if __name__ == "__main__":
    main()
