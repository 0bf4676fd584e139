"""The word problems of the simulated refinement pipelines: their text, their exact answers and stages.

A problem has three stages, one per agent role (``extract`` the starting total, ``compute`` the
operation, ``finalize`` the rounding); :func:`make_tasks` generates seeded problems whose every stage
value is known, and each role has one built-in flaw (:data:`FLAW`) with a trigger word in the text.
The helpers here parse a problem and compute a stage with or without its flaw; they are shared by the
simulated agents (:mod:`.sim_policy`) and the gold attribution (:mod:`.sim_oracle`).
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

__all__ = [
    "FLAW",
    "KEYWORDS",
    "ROLES",
    "ROLE_PROMPTS",
    "SimTask",
    "make_tasks",
    "parse_problem",
    "role_of",
]

KEYWORDS: dict[str, str] = {
    # trigger words of the three flaws ...
    "dozen": r"\bdozens?\b", "percent": r"\bpercent\b", "nearest ten": r"nearest ten",
    # ... and neutral words of the other task kinds (an agent confused about one breaks tasks that were right)
    "pairs": r"\bpairs?\b", "sells": r"\b(?:sells?|sold)\b", "equally": r"\bequally\b",
}
ROLES = ("extract", "compute", "finalize")
FLAW = {"extract": "dozen", "compute": "percent", "finalize": "nearest ten"}

ROLE_PROMPTS = {
    "extract": (
        "You read word problems and work out the starting TOTAL number of items, converting units "
        "(a dozen is 12, a pair is 2). Give one sentence of reasoning, then a last line 'TOTAL: <number>'."
    ),
    "compute": (
        "You write a Python function solve() that starts from the given TOTAL and applies the problem's "
        "operation (selling, giving away a percentage, splitting equally), returning the resulting number "
        "without rounding. Reply with the code in a ```python block."
    ),
    "finalize": (
        "You produce the final ANSWER: take the computed result and apply the final instruction of the "
        "problem (for example rounding to the nearest ten). Give one sentence, then a last line "
        "'ANSWER: <number>'."
    ),
}


def role_of(text: str) -> str | None:
    """Which role's instructions ``text`` contains (searched anywhere: feedback may come first)."""
    for role, prompt in ROLE_PROMPTS.items():
        if prompt.split(",", 1)[0] in text:
            return role
    return None

# ---------------------------------------------------------------------------------------------- tasks
@dataclass
class SimTask:
    """A generated word problem with its exact answer and the correct value after each stage."""

    id: str
    question: str
    answer: int
    stages: dict[str, Any]
    keywords: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (for the per-round JSON files)."""
        return {"id": self.id, "question": self.question, "answer": self.answer, "keywords": self.keywords}


_NAMES = ["Ava", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivo", "Jun", "Kofi", "Lena"]


def _round10(x: Fraction) -> Fraction:
    return Fraction(math.floor(x / 10 + Fraction(1, 2)) * 10)


def parse_problem(text: str) -> dict[str, Any] | None:
    """The problem's count, unit, operation and rounding, or None if ``text`` holds no problem."""
    q = re.search(r"has (\d+) (dozen \w+|pairs of \w+|\w+)\.", text)
    if not q:
        return None
    n = int(q.group(1))
    unit = "dozen" if q.group(2).startswith("dozen") else "pairs" if q.group(2).startswith("pairs") else "plain"
    op: tuple[str, int] | None = None
    if m := re.search(r"sells (\d+) of them", text):
        op = ("sell", int(m.group(1)))
    elif m := re.search(r"gives away (\d+) percent of them", text):
        op = ("percent", int(m.group(1)))
    elif m := re.search(r"equally into (\d+) bags", text):
        op = ("split", int(m.group(1)))
    if op is None:
        return None
    return {"n": n, "unit": unit, "op": op, "round": bool(re.search(KEYWORDS["nearest ten"], text))}


def extract_total(p: dict[str, Any], flawed: bool) -> Fraction:
    """Stage ``extract``: the starting total (``flawed``: a dozen counted as 10)."""
    per = {"dozen": 10 if flawed else 12, "pairs": 2, "plain": 1}[p["unit"]]
    return Fraction(p["n"] * per)


def apply_operation(total: Fraction, op: tuple[str, int], flawed: bool) -> Fraction:
    """Stage ``compute``: the operation applied to ``total`` (``flawed``: p percent subtracted as p)."""
    kind, k = op
    if kind == "sell":
        return total - k
    if kind == "split":
        return total / k
    return total - k if flawed else total - total * k / 100


def finalize_value(value: Fraction, rounding: bool, flawed: bool) -> Fraction:
    """Stage ``finalize``: the final answer (``flawed``: no rounding to the nearest ten)."""
    return _round10(value) if rounding and not flawed else value


def fmt(x: Fraction) -> str:
    """A stage value as the agents write it (an integer, else at most two decimals)."""
    if x.denominator == 1:
        return str(x.numerator)
    return f"{float(x):.2f}".rstrip("0").rstrip(".")


def stage_values(p: dict[str, Any], flaws: frozenset[str] = frozenset()) -> dict[str, Fraction]:
    """Each stage's value of problem ``p``, with the flaws of the roles in ``flaws``."""
    t = extract_total(p, "extract" in flaws)
    r = apply_operation(t, p["op"], "compute" in flaws)
    a = finalize_value(r, p["round"], "finalize" in flaws)
    return {"extract": t, "compute": r, "finalize": a}


def make_tasks(n: int, seed: int = 0, *, prefix: str = "t") -> list[SimTask]:
    """``n`` word problems (seeded). Each trigger word appears in about a third of them, and each
    flaw, when it fires, changes the final answer (so a fixed flaw is visible in accuracy)."""
    rng = random.Random(f"tasks:{seed}:{prefix}")
    tasks: list[SimTask] = []
    while len(tasks) < n:
        unit = rng.choices(["dozen", "pairs", "plain"], weights=[0.35, 0.3, 0.35])[0]
        kind = rng.choices(["percent", "sell", "split"], weights=[0.35, 0.35, 0.3])[0]
        rounding = rng.random() < 0.35
        q = rng.randint(3, 40)
        if kind == "percent":
            k = rng.choice([10, 20, 25, 50])
        elif kind == "sell":
            k = rng.randint(2, 15)
        else:
            k = rng.choice([2, 3, 4, 6])
        name = rng.choice(_NAMES)
        noun = {"dozen": "dozen eggs", "pairs": "pairs of socks", "plain": rng.choice(["marbles", "stamps", "shells"])}
        sentence_op = {
            "percent": f"{name} gives away {k} percent of them.",
            "sell": f"{name} sells {k} of them.",
            "split": f"{name} splits them equally into {k} bags and keeps one bag.",
        }[kind]
        ask = "How many are left, rounded to the nearest ten?" if rounding else "How many are left? Give the exact number."
        question = f"{name} has {q} {noun[unit]}. {sentence_op} {ask}"
        p = parse_problem(question)
        if p is None:  # pragma: no cover - the templates always parse
            continue
        good = stage_values(p)
        if any(v.denominator != 1 or v <= 0 for v in good.values()):
            continue
        if rounding and good["compute"] % 10 == 0:
            continue
        active = [r for r in ROLES if flaw_fires(r, p)]
        if any(stage_values(p, frozenset([r]))["finalize"] == good["finalize"] for r in active):
            continue  # a flaw that would not show in the answer
        kws = [kw for kw, pat in KEYWORDS.items() if re.search(pat, question)]
        tasks.append(SimTask(id=f"{prefix}{len(tasks):03d}", question=question, answer=int(good["finalize"]),
                             stages={r: int(v) for r, v in good.items()}, keywords=kws))
    return tasks


def flaw_fires(role: str, p: dict[str, Any]) -> bool:
    """Whether ``role``'s flaw applies to problem ``p`` (its trigger word is in it)."""
    return {"extract": p["unit"] == "dozen", "compute": p["op"][0] == "percent", "finalize": p["round"]}[role]



def keywords_in(text: str) -> list[str]:
    """The trigger words (:data:`KEYWORDS`) that occur in ``text``."""
    return [kw for kw, pat in KEYWORDS.items() if re.search(pat, text, flags=re.I)]



def line_after(text: str, marker: str) -> str:
    """The rest of the line after the last ``marker`` in ``text`` (all of ``text`` without one)."""
    i = text.rfind(marker)
    if i < 0:
        return text
    return text[i + len(marker):].split("\n", 1)[0].strip()


def number_after(text: str, marker: str) -> Fraction | None:
    """The first number after the last ``marker`` in ``text``, or None."""
    i = text.rfind(marker)
    if i < 0:
        return None
    m = re.search(r"-?\d+(?:\.\d+)?", text[i + len(marker):])
    return Fraction(m.group(0)) if m else None

