"""The math domain: a chain of arithmetic operations; planner, calculator steps, verifier, reporter."""

from __future__ import annotations

import functools
import random
import re

from .base import Domain, Task, Turn, count_turns, first_turn, task_id_of

__all__ = ["MathDomain"]


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
        t = first_turn(transcript, "Planner")
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
        done = count_turns(transcript, set(self.CALCS))
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
            i = count_turns(transcript, set(self.CALCS))
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


