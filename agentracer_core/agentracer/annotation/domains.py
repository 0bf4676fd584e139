"""Checkable task domains for the generators: math (numeric answer), code (unit tests), tool-use lookups.

A :class:`Domain` knows, for its tasks: the agents and their roles, who speaks next (read from what was
said, so a wrong handoff really reroutes the run), what a *correct* agent says given the same inputs
(:meth:`Domain.act` — the scripted agents and the scripted oracle), which faults each agent can make,
the tools, the final answer and the checker. Agents read their inputs from the transcript (the plan,
the last value, the last tool result), so a corrupted step propagates the way it would in a real run.
"""

from __future__ import annotations

import ast
import builtins
import functools
import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DOMAINS", "CodeDomain", "Domain", "MathDomain", "Task", "ToolsDomain", "Turn", "get_domain"]


@dataclass
class Task:
    """One checkable task: the question, the gold answer, and domain data (ops, tests, knowledge base)."""

    domain: str
    task_id: str
    question: str
    answer: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "task_id": self.task_id, "question": self.question, "answer": self.answer,
                "data": self.data}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Task:
        return cls(d["domain"], d["task_id"], d["question"], d["answer"], dict(d.get("data") or {}))


@dataclass
class Turn:
    """One agent turn as the agents see it: who spoke, what they said, and the tool calls it made."""

    agent: str
    text: str
    tools: list[dict[str, Any]] = field(default_factory=list)

    def render(self) -> str:
        extra = "".join(f"\n[{t['name']}({', '.join(json.dumps(a) for a in t['args'])}) -> {t['result']}]" for t in self.tools)
        return f"{self.agent}: {self.text}{extra}"

    def to_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "text": self.text, "tools": self.tools}


def task_id_of(domain: str, question: str) -> str:
    """A stable id of a task (its domain and question): the same task gets the same id on every framework."""
    return hashlib.sha1(f"{domain}\n{question}".encode()).hexdigest()[:12]


_CALL = re.compile(r"CALL\s+([A-Za-z_]\w*)\((.*?)\)\s*$", re.M)


def parse_tool_calls(text: str) -> list[tuple[str, tuple[Any, ...]]]:
    """``CALL name(arg, ...)`` lines of ``text`` as ``(name, args)``; unreadable arguments give ``()``."""
    out = []
    for m in _CALL.finditer(text or ""):
        try:
            args = ast.literal_eval(f"({m.group(2)},)") if m.group(2).strip() else ()
        except (ValueError, SyntaxError):
            args = (m.group(2),)
        out.append((m.group(1), tuple(args)))
    return out


class Domain:
    """Base class of a task domain (see the module docstring)."""

    name = "base"
    agents: tuple[str, ...] = ()
    roles: dict[str, str] = {}
    faults: dict[str, tuple[str, ...]] = {}

    def make_task(self, rng: random.Random, size: int) -> Task:
        raise NotImplementedError

    def next_agent(self, task: Task, transcript: list[Turn]) -> str | None:
        raise NotImplementedError

    def act(self, agent: str, task: Task, transcript: list[Turn]) -> str:
        raise NotImplementedError

    def tools(self, task: Task) -> dict[str, Any]:
        return {}

    def final_answer(self, task: Task, transcript: list[Turn]) -> str | None:
        for t in reversed(transcript):
            m = re.search(r"FINAL ANSWER:\s*(.+)", t.text or "")
            if m:
                return m.group(1).strip()
        return None

    def check(self, task: Task, answer: str | None) -> bool:
        return answer is not None and _norm(answer) == _norm(task.answer)

    def expected_steps(self, task: Task) -> int:
        raise NotImplementedError

    def size_for(self, rng: random.Random) -> int:
        """A default run length (agent steps) for generated datasets."""
        return rng.randint(6, 16)

    def vocabulary(self, task: Task) -> list[str]:
        """Plausible names and values a fabricated fact may draw from."""
        return []

    def max_turns(self, task: Task) -> int:
        return 2 * self.expected_steps(task) + 10


def _norm(s: str) -> str:
    s = str(s).strip().strip(".").strip().lower()
    try:
        f = float(s.replace(",", ""))
        return str(int(f)) if f == int(f) else str(f)
    except ValueError:
        return s


def _count(transcript: list[Turn], agents: tuple[str, ...] | set[str]) -> int:
    return sum(1 for t in transcript if t.agent in agents)


def _first(transcript: list[Turn], agent: str) -> Turn | None:
    return next((t for t in transcript if t.agent == agent), None)


# ============================================================================================ math
_SYM = {"add": "+", "subtract": "-", "multiply": "*"}


def _apply(v: int, op: str, k: int) -> int:
    return v + k if op == "add" else v - k if op == "subtract" else v * k


def _phrase(op: str, k: int) -> str:
    return f"multiply by {k}" if op == "multiply" else f"{op} {k}"


@functools.lru_cache(maxsize=4096)
def _math_plan(text: str) -> tuple[int, list[tuple[str, int]]] | None:
    m = re.search(r"Start:\s*(-?\d+)", text)
    ops = [(("multiply" if o.lower().startswith("multiply") else o.lower()), int(k))
           for o, k in re.findall(r"(?im)^\s*\d+[.)]\s*(add|subtract|multiply by)\s+(-?\d+)", text)]
    return (int(m.group(1)), ops) if m and ops else None


class MathDomain(Domain):
    """Chained arithmetic: a Planner restates the operations, two calculators apply them one per turn,
    a Verifier re-checks every few operations (it can catch a slip in the operation just before it), and
    a Reporter states ``FINAL ANSWER: <number>``."""

    name = "math"
    CALCS = ("Calculator", "Solver")
    agents = ("Planner", "Calculator", "Solver", "Verifier", "Reporter")
    roles = {
        "Planner": "Restate the task as a plan. Reply exactly:\nPlan:\nStart: <number>\n1. <add|subtract|multiply by> <number>\n2. ...",
        "Calculator": "Apply the next operation of the plan to the current value. Reply exactly: Step <n>: <a> <+|-|*> <b> = <result>",
        "Solver": "Apply the next operation of the plan to the current value. Reply exactly: Step <n>: <a> <+|-|*> <b> = <result>",
        "Verifier": "Re-check the last step. Reply 'Verified step <n>. Current value: <v>.' or "
                    "'Correction: step <n> gives <a> <op> <b> = <r>. Current value: <r>.'",
        "Reporter": "Report the result. Reply exactly: FINAL ANSWER: <number>",
    }
    faults = {
        "Planner": ("off_by_one", "inverted_condition", "dropped_constraint", "fabricated_fact"),
        "Calculator": ("off_by_one", "fabricated_fact"),
        "Solver": ("off_by_one", "fabricated_fact"),
        "Verifier": ("off_by_one", "fabricated_fact"),
        "Reporter": ("off_by_one", "wrong_return_value"),
    }

    def make_task(self, rng: random.Random, size: int) -> Task:
        ce = 5
        n_ops = max(1, round((size - 2) * ce / (ce + 1)))
        x0 = rng.randint(2, 20)
        v, ops = x0, []
        for _ in range(n_ops):
            r = rng.random()
            if v > 200:
                op, k = "subtract", rng.randint(20, 60)
            elif v < -100:
                op, k = "add", rng.randint(20, 60)
            elif r < 0.15 and abs(v) < 60:
                op, k = "multiply", rng.choice((2, 3))
            elif r < 0.6:
                op, k = "add", rng.randint(1, 19)
            else:
                op, k = "subtract", rng.randint(1, 19)
            ops.append([op, k])
            v = _apply(v, op, k)
        q = f"Start with {x0}. Then " + ", then ".join(_phrase(o, k) for o, k in ops) + ". What is the final number?"
        return Task(self.name, task_id_of(self.name, q), q, str(v), {"x0": x0, "ops": ops, "check_every": ce})

    def expected_steps(self, task: Task) -> int:
        n = len(task.data["ops"])
        return 2 + n + n // task.data["check_every"]

    def size_for(self, rng: random.Random) -> int:
        return rng.randint(5, 16)

    # -- reading the transcript
    def plan(self, task: Task, transcript: list[Turn]) -> tuple[int, list[tuple[str, int]]]:
        t = _first(transcript, "Planner")
        parsed = _math_plan(t.text) if t is not None else None
        return parsed if parsed is not None else (task.data["x0"], [(o, k) for o, k in task.data["ops"]])

    def value(self, task: Task, transcript: list[Turn]) -> int:
        for t in reversed(transcript):
            if t.agent in self.CALCS:
                m = re.search(r"=\s*(-?\d+)\s*$", t.text.strip())
                if m:
                    return int(m.group(1))
            elif t.agent == "Verifier":
                m = re.search(r"Current value:\s*(-?\d+)", t.text)
                if m:
                    return int(m.group(1))
        return self.plan(task, transcript)[0]

    def next_agent(self, task: Task, transcript: list[Turn]) -> str | None:
        if not transcript:
            return "Planner"
        last = transcript[-1].agent
        if last == "Reporter":
            return None
        done = _count(transcript, set(self.CALCS))
        n_ops = len(self.plan(task, transcript)[1])
        if last in self.CALCS and done % task.data["check_every"] == 0:
            return "Verifier"
        if done < n_ops:
            return self.CALCS[done % 2]
        return "Reporter"

    def act(self, agent: str, task: Task, transcript: list[Turn]) -> str:
        start, ops = self.plan(task, transcript)
        if agent == "Planner":
            lines = [f"{i + 1}. {_phrase(o, k)}" for i, (o, k) in enumerate((o, k) for o, k in task.data["ops"])]
            return "Plan:\nStart: {}\n{}".format(task.data["x0"], "\n".join(lines))
        if agent in self.CALCS:
            i = _count(transcript, set(self.CALCS))
            if i >= len(ops):
                return f"All {len(ops)} steps are done. Current value: {self.value(task, transcript)}"
            v = self.value(task, transcript)
            o, k = ops[i]
            return f"Step {i + 1}: {v} {_SYM[o]} {k} = {_apply(v, o, k)}"
        if agent == "Verifier":
            last = next((t for t in reversed(transcript) if t.agent in self.CALCS), None)
            m = re.search(r"Step (\d+):\s*(-?\d+)\s*([+*-])\s*(-?\d+)\s*=\s*(-?\d+)", last.text) if last else None
            if not m:
                return f"Nothing to verify. Current value: {self.value(task, transcript)}."
            n, a, sym, b, r = m.group(1), int(m.group(2)), m.group(3), int(m.group(4)), int(m.group(5))
            true = a + b if sym == "+" else a - b if sym == "-" else a * b
            if true != r:
                return f"Correction: step {n} gives {a} {sym} {b} = {true}. Current value: {true}."
            return f"Verified step {n}. Current value: {r}."
        if agent == "Reporter":
            return f"FINAL ANSWER: {self.value(task, transcript)}"
        return f"{agent} has nothing to add."


# ============================================================================================ code
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
        t = _first(transcript, "Architect")
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
        done = _count(transcript, set(self.CODERS))
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
            i = _count(transcript, set(self.CODERS))
            if i >= len(stages):
                return "# every stage is written"
            kd, p = stages[i]
            return _stage_code(i + 1, kd, p)
        if agent == "Integrator":
            n = _count(transcript, set(self.CODERS))
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


# =========================================================================================== tools
_SYL = ["ka", "lo", "mi", "ren", "tu", "sa", "vor", "el", "dan", "qui", "zo", "pha", "ril", "mon", "bea", "tor",
        "lin", "gar", "nis", "fel", "ou", "bra", "ste", "val"]
_REL = {
    "person": {"born_in": "city", "works_for": "company"},
    "city": {"mayor": "person", "located_in": "country", "population": "int"},
    "country": {"capital": "city"},
    "company": {"ceo": "person", "headquarters": "city", "founded": "int"},
}


def _name(rng: random.Random, used: set[str], words: int = 1) -> str:
    while True:
        n = " ".join("".join(rng.choice(_SYL) for _ in range(rng.choice((2, 3)))).capitalize() for _ in range(words))
        if n not in used:
            used.add(n)
            return n


@functools.lru_cache(maxsize=4096)
def _tools_plan(text: str) -> tuple[str, list[str]] | None:
    m = re.search(r"Start:\s*(.+)", text)
    rels = re.findall(r"(?m)^\s*\d+[.)]\s*([a-z_]+)\s*$", text)
    return (m.group(1).strip(), rels) if m and rels else None


class ToolsDomain(Domain):
    """Multi-hop lookups in a generated knowledge base: a Planner lists the relations, a Router hands each
    hop to the Searcher (``-> Searcher``), the Searcher calls ``lookup(entity, relation)``, an Analyst
    states the fact it found, and an Answerer gives ``FINAL ANSWER: <value>``."""

    name = "tools"
    agents = ("Planner", "Router", "Searcher", "Analyst", "Answerer")
    roles = {
        "Planner": "List the lookups to make. Reply exactly:\nPlan:\nStart: <entity>\n1. <relation>\n2. ...",
        "Router": "Hand the next lookup to the Searcher. Reply exactly: Hop <n>: -> Searcher: find the <relation> of <entity>.",
        "Searcher": "Call the lookup tool. Reply exactly: CALL lookup(\"<entity>\", \"<relation>\")",
        "Analyst": "State what the last lookup found. Reply exactly: Fact: the <relation> of <entity> is <value>.",
        "Answerer": "Give the final result. Reply exactly: FINAL ANSWER: <value>",
    }
    faults = {
        "Planner": ("dropped_constraint", "fabricated_fact"),
        "Router": ("wrong_handoff",),
        "Searcher": ("wrong_tool_argument",),
        "Analyst": ("fabricated_fact",),
        "Answerer": ("fabricated_fact",),
    }

    def make_task(self, rng: random.Random, size: int) -> Task:
        hops = max(1, round((size - 2) / 3))
        used: set[str] = set()
        n = max(6, hops // 2 + 5)
        ents = {
            "person": [_name(rng, used, 2) for _ in range(n)],
            "city": [_name(rng, used) for _ in range(n)],
            "country": [_name(rng, used) for _ in range(max(3, n // 2))],
            "company": [_name(rng, used) + " " + rng.choice(("Corp", "Labs", "Group", "Works")) for _ in range(n)],
        }
        kb: dict[str, dict[str, Any]] = {}
        for typ, names in ents.items():
            for e in names:
                rels = {}
                for rel, tgt in _REL[typ].items():
                    if tgt == "int":
                        rels[rel] = rng.randint(1000, 99999) if rel == "population" else rng.randint(1890, 2020)
                    else:
                        rels[rel] = rng.choice(ents[tgt])
                kb[e] = {"type": typ, **rels}
        typ = rng.choice(("person", "city", "company"))
        start = rng.choice(ents[typ])
        cur, path = start, []
        for h in range(hops):
            rels = [r for r, tgt in _REL[kb[cur]["type"]].items() if tgt != "int" or h == hops - 1]
            rel = rng.choice(rels)
            path.append(rel)
            cur = kb[cur][rel]
        answer = str(cur)
        q = (f"Start from {start}. Follow these relations in order, one lookup per relation: {', '.join(path)}. "
             "What do you reach? Use the lookup tool; answer with 'FINAL ANSWER: <value>'.")
        return Task(self.name, task_id_of(self.name, q), q, answer, {"start": start, "path": path, "kb": kb})

    def expected_steps(self, task: Task) -> int:
        return 2 + 3 * len(task.data["path"])

    def size_for(self, rng: random.Random) -> int:
        return rng.randint(5, 17)

    def vocabulary(self, task: Task) -> list[str]:
        return sorted(task.data["kb"])

    def tools(self, task: Task) -> dict[str, Any]:
        kb = task.data["kb"]

        def lookup(entity: Any = None, relation: Any = None, *rest: Any) -> str:
            v = kb.get(str(entity), {}).get(str(relation))
            return "NOT FOUND" if v is None or relation == "type" else str(v)

        return {"lookup": lookup}

    def plan(self, task: Task, transcript: list[Turn]) -> tuple[str, list[str]]:
        t = _first(transcript, "Planner")
        parsed = _tools_plan(t.text) if t is not None else None
        return parsed if parsed is not None else (task.data["start"], list(task.data["path"]))

    def current(self, task: Task, transcript: list[Turn]) -> str:
        for t in reversed(transcript):
            if t.agent == "Analyst":
                m = re.search(r"Fact: the \w+ of .+? is (.+?)\.?$", t.text.strip())
                if m:
                    return m.group(1).strip()
        return self.plan(task, transcript)[0]

    def next_agent(self, task: Task, transcript: list[Turn]) -> str | None:
        if not transcript:
            return "Planner"
        last = transcript[-1]
        if last.agent == "Answerer":
            return None
        if last.agent == "Planner":
            return "Router" if _count(transcript, {"Router"}) < len(self.plan(task, transcript)[1]) else "Answerer"
        if last.agent == "Router":
            m = re.search(r"->\s*([A-Za-z]+)", last.text)
            to = m.group(1) if m else "Searcher"
            return to if to in self.agents and to != "Router" else "Searcher"
        if last.agent == "Searcher":
            return "Analyst"
        if last.agent == "Analyst":
            return "Router" if _count(transcript, {"Router"}) < len(self.plan(task, transcript)[1]) else "Answerer"
        return "Router"

    def act(self, agent: str, task: Task, transcript: list[Turn]) -> str:
        if agent == "Planner":
            return "Plan:\nStart: {}\n{}".format(
                task.data["start"], "\n".join(f"{i + 1}. {r}" for i, r in enumerate(task.data["path"])))
        start, rels = self.plan(task, transcript)
        if agent == "Router":
            i = _count(transcript, {"Router"})
            rel = rels[i] if i < len(rels) else rels[-1]
            return f"Hop {i + 1}: -> Searcher: find the {rel} of {self.current(task, transcript)}."
        if agent == "Searcher":
            last = next((t for t in reversed(transcript) if t.agent == "Router"), None)
            m = re.search(r"find the (\w+) of (.+?)\.?$", last.text.strip()) if last else None
            if not m:
                return "There is nothing to look up."
            return f'CALL lookup({json.dumps(m.group(2))}, {json.dumps(m.group(1))})'
        if agent == "Analyst":
            last = next((t for t in reversed(transcript) if t.agent == "Searcher" and t.tools), None)
            if last is None:
                return f"Fact: the start is {start}."
            call = last.tools[-1]
            ent = call["args"][0] if call["args"] else "?"
            rel = call["args"][1] if len(call["args"]) > 1 else "?"
            res = call["result"]
            return f"Fact: the {rel} of {ent} is {'unknown' if res == 'NOT FOUND' else res}."
        if agent == "Answerer":
            return f"FINAL ANSWER: {self.current(task, transcript)}"
        return "Nothing to add."


DOMAINS: dict[str, Domain] = {d.name: d for d in (MathDomain(), CodeDomain(), ToolsDomain())}


def get_domain(name: str) -> Domain:
    """The domain called ``name`` (``math``, ``code``, ``tools``)."""
    try:
        return DOMAINS[name]
    except KeyError:
        raise ValueError(f"unknown domain {name!r}; expected one of {', '.join(DOMAINS)}") from None
