"""The simulated agents' behaviour: how each one answers its role's prompt and how feedback changes it.

:class:`SimPolicy` is the whole "model" of a simulated agent (not an LLM): it reads the problem and the
upstream value from its prompt, applies its role's built-in flaw unless a feedback note fixed it, and
mis-adjusts values for words it was confused about (see :mod:`agentracer.samples.simulated` for the
rules and their probabilities). The framework plugins put it behind their own LLM interfaces.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .word_problems import (
    FLAW,
    KEYWORDS,
    extract_total,
    finalize_value,
    flaw_fires,
    fmt,
    keywords_in,
    line_after,
    number_after,
    parse_problem,
)

__all__ = ["SimPolicy"]

# ---------------------------------------------------------------------------------------------- policy
_NOTE = re.compile(r"^\s*- \[(step|critique)([^\]]*)\](.*)$", re.M)
_SEEN = re.compile(r"seen (\d+)x")
_NO_ADJUST = re.compile(r"do not adjust for '?([a-z ]+?)'?(?:[ .,;]|$)")


def _u(*parts: Any) -> float:
    h = hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return int(h[:12], 16) / float(16**12)



@dataclass
class SimPolicy:
    """How the simulated agents answer and how feedback notes change them (see the module docstring)."""

    seed: int = 0
    p_learn: float = 0.8
    p_learn_vague: float = 0.5
    p_confuse: float = 0.15
    p_generic_learn: float = 0.35
    p_generic_confuse: float = 0.2

    def params(self) -> dict[str, Any]:
        """The simulation parameters (written next to every result)."""
        return {"seed": self.seed, "p_learn": self.p_learn, "p_learn_vague": self.p_learn_vague,
                "p_confuse": self.p_confuse, "p_generic_learn": self.p_generic_learn,
                "p_generic_confuse": self.p_generic_confuse}

    def state(self, role: str, prompt: str) -> tuple[set[str], set[str]]:
        """``(fixed, confused)`` trigger words of ``role`` given the feedback notes in ``prompt``."""
        fixed: set[str] = set()
        confused: set[str] = set()
        cured: set[str] = set()
        flaw = FLAW[role]
        for m in _NOTE.finditer(prompt):
            kind, body = m.group(1), m.group(3)
            seen = _SEEN.search(m.group(2))
            count = int(seen.group(1)) if seen else 1
            key = body.strip()
            cured.update(w.strip() for w in _NO_ADJUST.findall(body.lower()))

            def chance(p: float, count: int = count) -> float:  # a note seen n times is n chances
                return 1 - (1 - p) ** count

            if kind == "critique":  # not localised: the agent may still recognise its own flaw
                focus = keywords_in(body)
                if flaw in focus:
                    if _u(self.seed, role, flaw, key) < chance(self.p_generic_learn):
                        fixed.add(flaw)
                elif focus:
                    word = focus[int(_u(self.seed, role, "word", key) * len(focus))]
                    if _u(self.seed, role, word, key) < chance(self.p_generic_confuse):
                        confused.add(word)
                continue
            reason = " ".join(re.findall(r"(?:Reason|Suggested correction):(.*?)(?=Suggested correction:|$)", body))
            precise = keywords_in(reason)
            if flaw in precise:  # the note diagnoses its flaw
                if _u(self.seed, role, flaw, key) < chance(self.p_learn):
                    fixed.add(flaw)
            elif _shows_flaw(role, body):  # the note points at an output of its own where the flaw shows
                if _u(self.seed, role, flaw, key) < chance(self.p_learn_vague):
                    fixed.add(flaw)
            else:  # a note about an output that was not its mistake: it may misread it as a rule
                focus = precise or keywords_in(body)
                if focus:
                    word = focus[int(_u(self.seed, role, "word", key) * len(focus))]
                    if _u(self.seed, role, word, key) < chance(self.p_confuse):
                        confused.add(word)
        return fixed, confused - cured

    def respond(self, role: str, prompt: str) -> str:
        """The simulated agent's reply to ``prompt`` in ``role`` (its flaw and confusions applied)."""
        problem = line_after(prompt, "Problem:")
        p = parse_problem(problem)
        if p is None:
            return "I cannot read this problem. TOTAL: 0" if role == "extract" else "ANSWER: 0"
        fixed, confused = self.state(role, prompt)
        flawed = flaw_fires(role, p) and FLAW[role] not in fixed
        mixups = [kw for kw in sorted(confused) if re.search(KEYWORDS[kw], problem)]
        if role == "extract":
            t = extract_total(p, flawed)
            t = _confuse(t, mixups)
            per = {"dozen": 10 if flawed else 12, "pairs": 2, "plain": 1}[p["unit"]]
            why = f"{p['n']} x {per} = {fmt(extract_total(p, flawed))} items" if per != 1 else f"{p['n']} items"
            note = f" (adjusted for {', '.join(mixups)} as the feedback suggested)" if mixups else ""
            return f"The problem starts with {why}{note}.\nTOTAL: {fmt(t)}"
        if role == "compute":
            total = number_after(prompt, "TOTAL:")
            if total is None:
                total = Fraction(0)
            kind, k = p["op"]
            if kind == "sell":
                expr = f"total - {k}"
            elif kind == "split":
                expr = f"total / {k}"
            else:
                expr = f"total - {k}" if flawed else f"total - total * {k} / 100"
            if mixups:
                expr = f"({expr}) * 1.1  # adjusted for {', '.join(mixups)} as the feedback suggested"
            return f"```python\ndef solve():\n    total = {fmt(total)}\n    return {expr}\n```"
        value = number_after(prompt, "Computed result:")
        if value is None:
            value = Fraction(0)
        final = finalize_value(value, p["round"], flawed)
        final = _confuse(final, mixups)
        how = "rounded to the nearest ten" if p["round"] and not flawed else "as computed"
        note = f" (adjusted for {', '.join(mixups)} as the feedback suggested)" if mixups else ""
        return f"The result {fmt(value)}, {how}{note}.\nANSWER: {fmt(final)}"


def _shows_flaw(role: str, body: str) -> bool:
    """Whether a note quotes an output of ``role`` in which its flaw is visible (on a task that triggers it)."""
    task = re.search(r'failed run of "(.*?)"', body)
    out = re.search(r'your output "(.*?)" at step', body)
    if not task or not out:
        return False
    t, o = task.group(1), out.group(1)
    if role == "extract":
        return bool(re.search(KEYWORDS["dozen"], t)) and " x 10 = " in o
    if role == "compute":
        return bool(re.search(KEYWORDS["percent"], t)) and "return total -" in o and "total - total" not in o
    return bool(re.search(KEYWORDS["nearest ten"], t)) and "as computed" in o


def _confuse(x: Fraction, mixups: list[str]) -> Fraction:
    for _ in mixups:
        x = x + max(1, abs(x) // 10)
    return x

