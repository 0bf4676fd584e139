"""Gold attribution and the generic critic for the simulated pipelines (the simulation knows the truth).

:func:`oracle_attribution` names the first agent step whose value differs from the correct value of its
stage, with a reason that names the cause (the agent's flaw, or a confusion planted by feedback about
another step); :func:`simulated_critique` is a Self-Refine-style critique that does not locate the error.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from ..trace import Attribution, Trace
from .word_problems import (
    FLAW,
    SimTask,
    apply_operation,
    extract_total,
    finalize_value,
    flaw_fires,
    fmt,
    keywords_in,
    number_after,
    parse_problem,
)

__all__ = ["oracle_attribution", "simulated_critique"]

_MARKERS = {"extract": "TOTAL:", "compute": "output:", "finalize": "ANSWER:"}


def _step_value(role: str, content: str) -> Fraction | None:
    for marker in (_MARKERS[role], "RESULT:"):
        v = number_after(content, marker)
        if v is not None:
            return v
    nums = re.findall(r"-?\d+(?:\.\d+)?", content)
    return Fraction(nums[-1]) if nums else None


def oracle_attribution(trace: Trace, task: SimTask, roles: dict[str, str]) -> Attribution:
    """Gold attribution of a failed run of the pipeline: the first agent step whose value differs from
    the correct value of its stage (the simulation knows them), with a reason naming the cause."""
    p = parse_problem(task.question) or {}
    by_agent = {agent: role for role, agent in roles.items()}
    for s in trace.agent_steps():
        role = by_agent.get(s.agent)
        if role is None:
            continue
        got = _step_value(role, s.content or "")
        want = Fraction(task.stages[role])
        if got == want:
            continue
        kw = FLAW[role]
        if p and flaw_fires(role, p) and got is not None and got == _pipeline_stage(p, role, s, trace, roles):
            reason = {
                "extract": f"it counted a dozen as 10 ({fmt(got)} instead of {fmt(want)}); a dozen is 12",
                "compute": f"it subtracted the percentage as a plain number ({fmt(got)} instead of {fmt(want)}); "
                           f"p percent of x is x*p/100",
                "finalize": f"it did not round to the nearest ten ({fmt(got)} instead of {fmt(want)})",
            }[role]
            fix = {"extract": "multiply dozens by 12", "compute": "subtract total * p / 100 for 'p percent'",
                   "finalize": "round the result to the nearest ten when asked"}[role]
        else:
            others = [k for k in keywords_in(task.question) if k != kw]
            reason = f"its value is {fmt(got) if got is not None else 'missing'} instead of {fmt(want)}"
            if others:
                reason += f"; it adjusted for {' and '.join(others)} although that is another step's job"
                fix = "; ".join(f"do not adjust for '{o}' in this step" for o in others)
            else:
                fix = "recompute this step exactly as the instructions say"
        return Attribution(agent=s.agent, step=s.index, reason=reason, confidence=1.0, method="oracle",
                           metadata={"correction": fix})
    last = trace.agent_steps()[-1] if trace.agent_steps() else None
    return Attribution(agent=last.agent if last else None, step=last.index if last else None,
                       reason="no stage value differs; the final answer is malformed", method="oracle",
                       parsed=last is not None)


def _pipeline_stage(p: dict[str, Any], role: str, step: Any, trace: Trace, roles: dict[str, str]) -> Fraction | None:
    """The value ``role`` produces with its flaw, from the upstream value actually recorded."""
    if role == "extract":
        return extract_total(p, True)
    upstream_role = "extract" if role == "compute" else "compute"
    up = None
    for s in trace.agent_steps():
        if s.index >= step.index:
            break
        if s.agent == roles[upstream_role]:
            up = _step_value(upstream_role, s.content or "")
    if up is None:
        return None
    if role == "compute":
        return apply_operation(up, p["op"], True)
    return finalize_value(up, p["round"], True)


def simulated_critique(trace: Trace, task: Any) -> str:
    """A Self-Refine-style critique of the whole trajectory that does not locate the error (simulated critic)."""
    question = task.question if hasattr(task, "question") else str(task)
    agents = [s.agent for s in trace.agent_steps()]
    return (
        f"The final answer {trace.final_answer!r} to \"{question}\" was judged wrong. Reviewing the whole "
        f"trajectory ({' -> '.join(agents)}): the reasoning may have gone wrong anywhere; each step should "
        f"re-read the problem carefully and double-check its own numbers before passing them on."
    )

