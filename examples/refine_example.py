"""Self-improvement rounds with ``agentracer.refine``: attribution fed back to the responsible agent.

Runs offline on **simulated agents** (agentracer.samples.simulated: small programs standing in for LLMs, whose
behaviour depends on the instructions they receive) in a MaAS-shaped workflow, so the feedback travels
through the real MaAS plugin into the operators' prompts. For real LLM agents see
``agentracer refine --base-url URL --model M`` (docs/refine.md).

    python examples/refine_example.py
"""

from __future__ import annotations

import agentracer
from agentracer.samples import simulated as sim


def main() -> None:
    print(sim.NOTICE, "\n")
    system = sim.maas_system()  # GenerateCoT -> Programmer -> SelfRefine, each with one built-in flaw
    tasks = sim.make_tasks(30, seed=0)
    print(f"{len(tasks)} word problems, e.g. {tasks[0].question!r} (answer {tasks[0].answer})\n")
    for feedback, tracer in [("none", None), ("generic", None), ("attribution", "embedded"),
                             ("attribution", "oracle")]:
        res = agentracer.refine(
            system.build, tasks, "numeric", rounds=3, feedback=feedback, tracer=tracer or "embedded",
            run=system.run, oracle=system.oracle, critic=sim.simulated_critique,
        )
        accs = "  ".join(f"r{r.round} {r.accuracy:6.1%}{'' if r.accepted else ' (rolled back)'}" for r in res.rounds)
        print(f"{res.method:<18} {accs}")
        if feedback == "attribution" and tracer == "oracle":
            final = res.feedback
    print("\nfeedback each agent holds at the end (oracle attribution), bounded per agent:")
    for agent, text in final.items():
        print(f"--- {agent}\n{text}\n")


if __name__ == "__main__":
    main()
