"""CAMEL RolePlaying, traced offline: a two-agent society gets a unit conversion wrong; who caused it?

Runs without network or API keys: both agents use CAMEL's StubModel (``ScriptedModel`` answers from a
script). It records the run, prints every step and AgenTracer's attribution, then checks the blame
with a counterfactual fork (replace the blamed step, rerun only what follows) and tells the agent.

    python examples/camel_example.py
"""

from __future__ import annotations

import logging
import re

import agentracer
import agentracer_camel
from agentracer.attribution.confidence import candidates_text, check_verdict
from agentracer_camel.testing import ScriptedModel
from camel.societies import RolePlaying

TASK = "A cake needs 250 g of flour. How many kilograms of flour do 12 cakes need?"
CORRECT = "3"


def _turn(messages: list[dict]) -> int:
    return sum(1 for m in messages if m["role"] == "assistant" and m.get("content"))


def baker(messages: list[dict]) -> str:
    """The user agent (the 'Baker') gives instructions, then says CAMEL_TASK_DONE."""
    return ["Instruction: compute the grams of flour for 12 cakes.",
            "Instruction: convert that amount to kilograms.",
            "CAMEL_TASK_DONE"][min(_turn(messages), 2)]


def assistant(messages: list[dict]) -> str:
    """The assistant (the 'Math Tutor'): right product, wrong conversion (divides by 100, not 1000)."""
    t = _turn(messages)
    if t == 0:
        return "Solution: 12 * 250 g = 3000 g"
    said = [m["content"] for m in messages if m["role"] == "assistant" and m.get("content")]
    if t == 1:
        grams = re.findall(r"= (\d+) g", said[-1])[-1]
        return f"Solution: {grams} g / 100 = {int(grams) // 100} kg"
    kilos = re.findall(r"= (\d+) kg", said[-1])[-1]
    return f"Final answer: {kilos} kg"


def build() -> tuple[RolePlaying, ScriptedModel, ScriptedModel]:
    user_model, tutor_model = ScriptedModel(baker, name="baker"), ScriptedModel(assistant, name="tutor")
    society = RolePlaying(
        assistant_role_name="Math Tutor",
        user_role_name="Baker",
        task_prompt=TASK,
        with_task_specify=False,
        assistant_agent_kwargs={"model": tutor_model, "step_timeout": 30},
        user_agent_kwargs={"model": user_model, "step_timeout": 30},
    )
    return society, user_model, tutor_model


def show(trace: agentracer.Trace) -> None:
    print(f"run {trace.run_id[:8]}  outcome={trace.outcome}  final answer={trace.final_answer!r}")
    for s in trace.steps:
        if s.parent is None:
            print(f"  [{s.index:2}] {s.agent:<11} {s.content.splitlines()[0][:70]}")
        else:
            print(f"       └ {s.kind} {s.tool_name or s.metadata.get('model', '')}")


def main() -> None:
    logging.getLogger("camel").setLevel(logging.ERROR)
    society, _, tutor_model = build()
    agentracer.instrument(society)
    answer, _, _ = agentracer_camel.run_society(society, round_limit=5, check=lambda a: f" {CORRECT} kg" in a)
    trace = agentracer.last_trace()
    print("== the recorded run")
    show(trace)

    att = agentracer.attribute(trace, ground_truth=f"{CORRECT} kg")
    print(f"\n== Attribution ({att.method}): agent={att.agent!r} step={att.step}\n   reason: {att.reason}")
    print(f"   confidence {att.confidence:.2f}; top-3: {candidates_text(att.candidates)}")
    if att.low_confidence:
        print(f"   {att.metadata['note']}")

    # Counterfactual check: replace the Math Tutor's conversion with a correct one and rerun what follows.
    mistake = next(s.index for s in trace.agent_steps() if "/ 100" in s.content)
    calls = len(tutor_model.calls)
    (answer2, _, _), forked = agentracer.fork(society, trace, mistake, "Solution: 3000 g / 1000 = 3 kg")()
    fixed = f" {CORRECT} kg" in answer2
    print(f"\n== Fork at step {mistake}: final answer {answer2!r} "
          f"(steps 0..{mistake - 1} reused from the recording; new tutor model calls: {len(tutor_model.calls) - calls})")
    show(forked)
    if fixed:
        print(f"Correcting step {mistake} fixes the run, so it is the decisive step.")
        print(f"Attribution vs fork: {check_verdict(att, mistake, 'Math Tutor', 'the fork check')}")
    else:
        print("The fork did not fix the run, so it confirms no step; the attribution stands unchecked.")

    agentracer.inject_feedback(society, "Math Tutor", "Remember: 1 kg = 1000 g.")
    print("\n== Feedback given to 'Math Tutor' for its next runs.")


if __name__ == "__main__":
    main()
