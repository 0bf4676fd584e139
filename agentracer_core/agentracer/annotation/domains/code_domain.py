"""The code domain: a pipeline of filter/map stages to implement in Python, checked by unit tests (optionally sandboxed)."""

from __future__ import annotations

import builtins
import functools
import json
import random
import re
from typing import Any

from .base import Domain, Task, Turn, count_turns, first_turn, task_id_of

__all__ = ["CodeDomain", "code_of", "run_code_tests"]


_STAGES = ("gt", "lt", "mod", "affine")


def _stage_text(kind: str, p: list[int]) -> str:
    if kind == "gt":
        return f"keep the numbers greater than {p[0]}"
    if kind == "lt":
        return f"keep the numbers less than {p[0]}"
    if kind == "mod":
        return f"keep the numbers whose remainder modulo {p[0]} is {p[1]}"
    return f"replace each number x by x * {p[0]} + {p[1]}"


def _stage_code(i: int, kind: str, p: list[int]) -> str:
    if kind == "gt":
        body = f"[x for x in xs if x > {p[0]}]"
    elif kind == "lt":
        body = f"[x for x in xs if x < {p[0]}]"
    elif kind == "mod":
        body = f"[x for x in xs if x % {p[0]} == {p[1]}]"
    else:
        body = f"[x * {p[0]} + {p[1]} for x in xs]"
    return f"def stage_{i}(xs):\n    return {body}\n"


def _stage_apply(kind: str, p: list[int], xs: list[int]) -> list[int]:
    if kind == "gt":
        return [x for x in xs if x > p[0]]
    if kind == "lt":
        return [x for x in xs if x < p[0]]
    if kind == "mod":
        return [x for x in xs if x % p[0] == p[1]]
    return [x * p[0] + p[1] for x in xs]


_REDUCE_TEXT = {"sum": "return the sum of the numbers", "count": "return how many numbers are left",
                "max": "return the largest number (0 if none are left)"}
_REDUCE_CODE = {"sum": "sum(xs)", "count": "len(xs)", "max": "max(xs, default=0)"}


def _reduce(kind: str, xs: list[int]) -> int:
    return sum(xs) if kind == "sum" else len(xs) if kind == "count" else max(xs, default=0)


def _parse_stage(text: str) -> tuple[str, list[int]] | None:
    pats = [
        ("gt", r"greater than (-?\d+)"), ("lt", r"less than (-?\d+)"),
        ("mod", r"modulo (-?\d+) is (-?\d+)"), ("affine", r"x \* (-?\d+) \+ (-?\d+)"),
    ]
    for kind, p in pats:
        m = re.search(p, text)
        if m:
            return kind, [int(g) for g in m.groups()]
    return None


_SAFE_BUILTINS = {n: getattr(builtins, n)
                  for n in ("sum", "len", "max", "min", "range", "list", "sorted", "abs", "enumerate", "zip", "map",
                            "filter", "any", "all", "int", "float", "str", "bool", "tuple", "dict", "set",
                            "isinstance", "reversed", "round", "ValueError", "TypeError", "Exception")}


def code_of(text: str) -> str:
    """The Python in an agent message: its fenced block, else the message itself."""
    m = re.search(r"```(?:python|py)?\s*\n(.*?)```", text or "", re.S)
    return m.group(1) if m else (text or "")


def run_code_tests(code: str, tests: list[list[Any]], *, sandbox: bool = False, timeout: float = 5.0) -> tuple[int, list[str]]:
    """Run ``solve`` from ``code`` on ``tests`` (``[input, expected]`` pairs): (passed, failure messages).

    ``sandbox`` runs the code in a separate Python process with a timeout (use it for model-written
    code); otherwise it runs in-process with a small set of builtins (scripted code only).
    """
    if sandbox:
        return _run_sandboxed(code, tests, timeout)
    ns: dict[str, Any] = {"__builtins__": _SAFE_BUILTINS}
    try:
        exec(compile(code, "<agent code>", "exec"), ns)  # noqa: S102 - scripted, generated code only
    except Exception as e:
        return 0, [f"the code does not run: {type(e).__name__}: {e}"]
    solve = ns.get("solve")
    if not callable(solve):
        return 0, ["no function solve(xs) is defined"]
    passed, fails = 0, []
    for xs, want in tests:
        try:
            got = solve(list(xs))
        except Exception as e:
            fails.append(f"solve({xs}) raised {type(e).__name__}: {e}")
            continue
        if got == want:
            passed += 1
        else:
            fails.append(f"solve({xs}) returned {got!r}, expected {want!r}")
    return passed, fails


def _run_sandboxed(code: str, tests: list[list[Any]], timeout: float) -> tuple[int, list[str]]:
    import subprocess
    import sys

    prog = (
        "import json,sys\nd=json.load(sys.stdin)\nns={}\n"
        "try:\n exec(d['code'],ns)\nexcept Exception as e:\n print(json.dumps([0,['the code does not run: '+repr(e)]]));sys.exit()\n"
        "p=0;f=[]\nfor xs,w in d['tests']:\n try:\n  g=ns['solve'](list(xs))\n except Exception as e:\n  f.append('solve(%r) raised %r'%(xs,e));continue\n"
        " if g==w: p+=1\n else: f.append('solve(%r) returned %r, expected %r'%(xs,g,w))\nprint(json.dumps([p,f]))\n"
    )
    try:
        out = subprocess.run([sys.executable, "-I", "-c", prog], input=json.dumps({"code": code, "tests": tests}),
                             capture_output=True, text=True, timeout=timeout)
        p, f = json.loads(out.stdout.strip().splitlines()[-1])
        return int(p), list(f)
    except (subprocess.TimeoutExpired, ValueError, IndexError) as e:
        return 0, [f"the tests did not finish: {type(e).__name__}"]


@functools.lru_cache(maxsize=4096)
def _code_spec(text: str) -> tuple[list[tuple[str, list[int]]], str] | None:
    lines = re.findall(r"(?m)^\s*\d+[.)]\s*(.+)$", text)
    stages = [s for s in (_parse_stage(x) for x in lines) if s is not None]
    m = re.search(r"(?im)^Finally:\s*(.+)$", text)
    red = None
    if m:
        fin = m.group(1).lower()
        red = ("sum" if "sum" in fin else "count" if "how many" in fin else
               "max" if "largest" in fin else "min" if "smallest" in fin else None)
    return (stages, red) if stages and red else None


class CodeDomain(Domain):
    """Write ``solve(xs)``: an Architect restates the spec, Coder and Engineer write one stage function per
    turn, an Integrator composes them, a Tester runs the unit tests (a tool call). The final answer is the
    code; the checker runs hidden unit tests."""

    name = "code"
    CODERS = ("Coder", "Engineer")
    agents = ("Architect", "Coder", "Engineer", "Integrator", "Tester")
    roles = {
        "Architect": "Restate the specification. Reply exactly:\nSpecification:\n1. <stage>\n2. ...\nFinally: <what to return>",
        "Coder": "Write the Python function for the next stage of the specification: def stage_<n>(xs): ...",
        "Engineer": "Write the Python function for the next stage of the specification: def stage_<n>(xs): ...",
        "Integrator": "Write def solve(xs) that applies every stage in order and returns what the specification asks.",
        "Tester": "Run the unit tests. Reply exactly: CALL run_tests()",
    }
    faults = {
        "Architect": ("off_by_one", "inverted_condition", "dropped_constraint"),
        "Coder": ("inverted_condition", "off_by_one", "wrong_return_value", "dropped_constraint"),
        "Engineer": ("inverted_condition", "off_by_one", "wrong_return_value", "dropped_constraint"),
        "Integrator": ("wrong_return_value", "off_by_one"),
        "Tester": (),
    }

    def make_task(self, rng: random.Random, size: int) -> Task:
        k = max(1, size - 3)
        inputs = [[rng.randint(-10, 30) for _ in range(0 if j == 0 else rng.randint(8, 14))] for j in range(7)]
        for _attempt in range(50):  # redraw until the tests see data survive every stage (discriminative tests)
            stages = []
            for _ in range(k):
                kind = rng.choice(_STAGES)
                if kind == "gt":
                    p = [rng.randint(-8, 6)]
                elif kind == "lt":
                    p = [rng.randint(12, 40)]
                elif kind == "mod":
                    m = rng.choice((2, 3))
                    p = [m, rng.randrange(m)]
                else:
                    p = [rng.choice((1, 2, 3)), rng.randint(-3, 5)]
                stages.append([kind, p])
            outs = []
            for xs in inputs:
                ys = xs
                for kind, p in stages:
                    ys = _stage_apply(kind, p, ys)
                outs.append(ys)
            if sum(len(ys) >= 2 for ys in outs) >= 4:
                break
        red = rng.choice(("sum", "count", "max"))
        tests = [[xs, _reduce(red, ys)] for xs, ys in zip(inputs, outs, strict=True)]
        spec = "; ".join(f"{i + 1}) {_stage_text(kd, p)}" for i, (kd, p) in enumerate(stages))
        q = f"Write a Python function solve(xs) for a list of integers xs that does, in order: {spec}; finally {_REDUCE_TEXT[red]}."
        answer = self._reference(stages, red)
        return Task(self.name, task_id_of(self.name, q), q, answer, {"stages": stages, "reduce": red, "tests": tests})

    def _reference(self, stages: list[Any], red: str) -> str:
        code = "".join(_stage_code(i + 1, kd, p) for i, (kd, p) in enumerate(stages))
        return code + self._solve_code(len(stages), red)

    @staticmethod
    def _solve_code(n: int, red: str) -> str:
        names = ", ".join(f"stage_{i + 1}" for i in range(n)) + ("," if n == 1 else "")
        return f"def solve(xs):\n    for stage in ({names}):\n        xs = stage(xs)\n    return {_REDUCE_CODE[red]}\n"

    def expected_steps(self, task: Task) -> int:
        return len(task.data["stages"]) + 3

    def size_for(self, rng: random.Random) -> int:
        return rng.randint(5, 9)

    def spec(self, task: Task, transcript: list[Turn]) -> tuple[list[tuple[str, list[int]]], str]:
        t = first_turn(transcript, "Architect")
        parsed = _code_spec(t.text) if t is not None else None
        return parsed if parsed is not None else ([(kd, p) for kd, p in task.data["stages"]], task.data["reduce"])

    def program(self, transcript: list[Turn]) -> str:
        """The code written so far, in order (later definitions override earlier ones)."""
        return "\n".join(code_of(t.text) for t in transcript if t.agent in (*self.CODERS, "Integrator"))

    def next_agent(self, task: Task, transcript: list[Turn]) -> str | None:
        if not transcript:
            return "Architect"
        last = transcript[-1].agent
        if last == "Tester":
            return None
        stages, _ = self.spec(task, transcript)
        done = count_turns(transcript, set(self.CODERS))
        if last == "Integrator":
            return "Tester"
        if done < len(stages):
            return self.CODERS[done % 2]
        return "Integrator"

    def act(self, agent: str, task: Task, transcript: list[Turn]) -> str:
        stages, red = self.spec(task, transcript)
        if agent == "Architect":
            lines = [f"{i + 1}. {_stage_text(kd, p)}" for i, (kd, p) in enumerate(task.data["stages"])]
            return "Specification:\n" + "\n".join(lines) + f"\nFinally: {_REDUCE_TEXT[task.data['reduce']]}"
        if agent in self.CODERS:
            i = count_turns(transcript, set(self.CODERS))
            if i >= len(stages):
                return "# every stage is written"
            kd, p = stages[i]
            return _stage_code(i + 1, kd, p)
        if agent == "Integrator":
            n = count_turns(transcript, set(self.CODERS))
            if red == "min":
                return self._solve_code(n, "max").replace("max(", "min(")
            return self._solve_code(n, red)
        if agent == "Tester":
            return "CALL run_tests()"
        return "# nothing to add"

    def tools(self, task: Task) -> dict[str, Any]:
        return {}  # run_tests needs the transcript: see run_tool

    def run_tool(self, task: Task, transcript: list[Turn], name: str, args: tuple[Any, ...], sandbox: bool) -> str:
        if name != "run_tests":
            return f"unknown tool {name}"
        passed, fails = run_code_tests(self.program(transcript), task.data["tests"], sandbox=sandbox)
        n = len(task.data["tests"])
        return f"{passed}/{n} tests passed" + ("" if not fails else "; " + "; ".join(fails[:2]))

    def final_answer(self, task: Task, transcript: list[Turn]) -> str | None:
        prog = self.program(transcript)
        return prog or None

    def check(self, task: Task, answer: str | None, *, sandbox: bool = False) -> bool:
        if not answer:
            return False
        passed, fails = run_code_tests(answer, task.data["tests"], sandbox=sandbox)
        return not fails and passed == len(task.data["tests"])


