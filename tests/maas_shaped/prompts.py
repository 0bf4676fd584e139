"""Prompt templates of the MaAS-shaped operators; each starts with a distinct first line."""

from __future__ import annotations

COT = "Solve the problem step by step, then give the final answer.\n{instruction}\nProblem: {input}"
GENERATE = "Answer directly.\n{instruction}{input}"
SC_ENSEMBLE = (
    "Several candidate solutions follow. Pick the one most consistent with the others.\n"
    "Problem: {problem}\n{solutions}\n"
    "Reply as <thought>...</thought><solution_letter>X</solution_letter>."
)
SELF_REFINE = "Review the solution below and return an improved final solution.\nProblem: {problem}\nSolution: {solution}"
PROGRAMMER = (
    "Write a Python function solve() that returns the answer.\nProblem: {problem}\nAnalysis: {analysis}\n{feedback}"
)
CODE = "Write the function {entry_point}.\n{instruction}{problem}"
REFLECT = "The code failed its tests; fix it.\nProblem: {problem}\nCode:\n{solution}\nFailure: {failure}"

KINDS = {
    "cot": COT.split("\n", 1)[0],
    "generate": GENERATE.split("\n", 1)[0],
    "ensemble": SC_ENSEMBLE.split("\n", 1)[0],
    "refine": SELF_REFINE.split("\n", 1)[0],
    "program": PROGRAMMER.split("\n", 1)[0],
    "code": "Write the function ",
    "reflect": REFLECT.split("\n", 1)[0],
}


def kind_of(prompt: str) -> str | None:
    """Which template a prompt was built from (searched anywhere: feedback may be prepended)."""
    for kind, head in KINDS.items():
        if head in prompt:
            return kind
    return None
