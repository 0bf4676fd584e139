"""MaAS-shaped operators: each ``async __call__`` builds a prompt and calls ``self._fill_node`` -> ``llm.aask``."""

from __future__ import annotations

import re
from typing import Any

from . import prompts


def _parse(text: str, fields: tuple[str, ...], mode: str) -> dict[str, str]:
    if mode == "xml_fill":
        out = {}
        for f in fields:
            m = re.search(rf"<{f}>(.*?)</{f}>", text, flags=re.S)
            out[f] = m.group(1).strip() if m else ""
        return out
    if mode == "code_fill":
        m = re.search(r"```(?:python)?\n(.*?)```", text, flags=re.S)
        return {fields[0]: (m.group(1) if m else text).strip()}
    return {fields[0]: text.strip()}


class Operator:
    """Base operator: holds the shared LLM; subclasses implement ``async __call__``."""

    def __init__(self, llm: Any, name: str) -> None:
        self.name = name
        self.llm = llm

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def _fill_node(self, fields: tuple[str, ...], prompt: str, mode: str = "single_fill") -> dict[str, str]:
        text = await self.llm.aask(prompt)
        return _parse(text, fields, mode)


class Generate(Operator):
    def __init__(self, llm: Any, name: str = "Generate") -> None:
        super().__init__(llm, name)

    async def __call__(self, input: str, instruction: str = "") -> dict[str, str]:
        return await self._fill_node(("response",), prompts.GENERATE.format(instruction=instruction, input=input))


class GenerateCoT(Operator):
    def __init__(self, llm: Any, name: str = "GenerateCoT") -> None:
        super().__init__(llm, name)

    async def __call__(self, input: str, instruction: str = "") -> dict[str, str]:
        return await self._fill_node(("response",), prompts.COT.format(instruction=instruction, input=input))


class MultiGenerateCoT(Operator):
    def __init__(self, llm: Any, name: str = "MultiGenerateCoT") -> None:
        super().__init__(llm, name)

    async def __call__(self, input: str, instruction: str = "") -> dict[str, list[dict[str, str]]]:
        prompt = prompts.COT.format(instruction=instruction, input=input)
        return {"response": [await self._fill_node(("response",), prompt) for _ in range(3)]}


class ScEnsemble(Operator):
    def __init__(self, llm: Any, name: str = "ScEnsemble") -> None:
        super().__init__(llm, name)

    async def __call__(self, solutions: list[str], problem: str) -> dict[str, str]:
        letters = [chr(ord("A") + i) for i in range(len(solutions))]
        listing = "".join(f"{letter}: \n{sol}\n\n" for letter, sol in zip(letters, solutions, strict=False))
        out = await self._fill_node(("solution_letter",), prompts.SC_ENSEMBLE.format(problem=problem, solutions=listing),
                                    mode="xml_fill")
        letter = out.get("solution_letter", "").strip().upper()
        pick = letters.index(letter) if letter in letters else 0
        return {"response": solutions[pick]}


class SelfRefine(Operator):
    def __init__(self, llm: Any, name: str = "SelfRefine") -> None:
        super().__init__(llm, name)

    async def __call__(self, problem: str, solution: str) -> dict[str, str]:
        return await self._fill_node(("response",), prompts.SELF_REFINE.format(problem=problem, solution=solution))


def _run_solve(code: str) -> tuple[bool, str]:
    namespace: dict[str, Any] = {}
    try:
        exec(code, {"__builtins__": {"range": range, "len": len, "sum": sum, "int": int}}, namespace)
        fn = namespace.get("solve")
        if not callable(fn):
            return False, "no function solve()"
        return True, str(fn())
    except Exception as e:  # the generated code is the test's own scripted text
        return False, f"{type(e).__name__}: {e}"


class Programmer(Operator):
    def __init__(self, llm: Any, name: str = "Programmer") -> None:
        super().__init__(llm, name)

    async def __call__(self, problem: str, analysis: str = "None") -> dict[str, str]:
        feedback, code, output = "", "", ""
        for _ in range(2):
            prompt = prompts.PROGRAMMER.format(problem=problem, analysis=analysis, feedback=feedback)
            code = (await self._fill_node(("code",), prompt, mode="code_fill"))["code"]
            ok, output = _run_solve(code)
            if ok:
                break
            feedback = f"Previous attempt failed: {output}"
        return {"code": code, "output": output}


class CustomCodeGenerate(Operator):
    def __init__(self, llm: Any, name: str = "CustomCodeGenerate") -> None:
        super().__init__(llm, name)

    async def __call__(self, problem: str, entry_point: str, instruction: str = "") -> dict[str, str]:
        prompt = prompts.CODE.format(entry_point=entry_point, instruction=instruction, problem=problem)
        return await self._fill_node(("response",), prompt, mode="code_fill")


class Test(Operator):
    """Runs the solution against ``cases[entry_point]`` (``[(args, expected), ...]``); asks the LLM to fix failures."""

    __test__ = False  # not a pytest class

    def __init__(self, llm: Any, name: str = "Test", cases: dict[str, list[tuple[tuple, Any]]] | None = None) -> None:
        super().__init__(llm, name)
        self.cases = cases or {}

    def _check(self, solution: str, entry_point: str) -> str | None:
        namespace: dict[str, Any] = {}
        try:
            exec(solution, {"__builtins__": {"range": range, "len": len, "sum": sum}}, namespace)
            fn = namespace[entry_point]
            for args, expected in self.cases.get(entry_point, []):
                got = fn(*args)
                if got != expected:
                    return f"{entry_point}{args} returned {got!r}, expected {expected!r}"
        except Exception as e:
            return f"{type(e).__name__}: {e}"
        return None

    async def __call__(self, problem: str, solution: str, entry_point: str, test_loop: int = 2) -> dict[str, Any]:
        for _ in range(test_loop):
            failure = self._check(solution, entry_point)
            if failure is None:
                return {"result": True, "solution": solution}
            prompt = prompts.REFLECT.format(problem=problem, solution=solution, failure=failure)
            solution = (await self._fill_node(("response",), prompt, mode="code_fill"))["response"]
        return {"result": self._check(solution, entry_point) is None, "solution": solution}


class EarlyStop(Operator):
    def __init__(self, llm: Any, name: str = "EarlyStop") -> None:
        super().__init__(llm, name)

    async def __call__(self) -> dict[str, str]:
        return {}


OPERATORS: dict[str, type[Operator]] = {
    c.__name__: c
    for c in (Generate, GenerateCoT, MultiGenerateCoT, ScEnsemble, SelfRefine, Programmer, CustomCodeGenerate, Test,
              EarlyStop)
}
