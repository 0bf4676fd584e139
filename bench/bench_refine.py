"""Refinement rounds on SIMULATED agents: accuracy per round per method, averaged over seeds.

Runs what ``agentracer refine --demo`` runs (MaAS-shaped and LangGraph pipelines of simulated agents,
every method with and without the regression guard) for several seeds, and writes the mean figures
to ``bench/results/refine.md`` next to the paper's figures, which are labelled *as reported*.

    .venv/bin/python bench/bench_refine.py [--seeds 0 1 2 3 4] [--rounds 3] [--n-tasks 40]
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import sys
import time
from pathlib import Path

from agentracer.refinement import compare, numeric_match
from agentracer.samples import simulated as sim

ROOT = Path(__file__).resolve().parents[1]


def run(seeds: list[int], rounds: int, n_tasks: int, systems: list[str]) -> tuple[dict, float]:
    """``{system: {label: [RefineResult per seed]}}`` and the wall time."""
    logging.getLogger("agentracer").setLevel(logging.ERROR)
    out: dict[str, dict[str, list]] = {}
    t0 = time.perf_counter()
    for seed in seeds:
        policy = sim.SimPolicy(seed=seed)
        train = sim.make_tasks(n_tasks, seed, prefix="t")
        held = sim.make_tasks(n_tasks, seed, prefix="h")
        for name in systems:
            system = sim.maas_system(policy=policy) if name == "maas" else sim.langgraph_system(policy=policy)
            res = compare(system.build, train, numeric_match, rounds,
                          methods=["none", "generic", "random", "tracer:embedded", "tracer:oracle"],
                          run=system.run, eval_tasks=held, seed=seed, critic=sim.simulated_critique,
                          oracle=system.oracle)
            for r in res:
                out.setdefault(name, {}).setdefault(r.label, []).append(r)
    return out, time.perf_counter() - t0


def tracer_agreement(seeds: list[int], n_tasks: int) -> dict[str, tuple[int, int, int]]:
    """Per system: (failed runs, embedded agent == oracle agent, embedded step == oracle step) at round 0."""
    import agentracer
    from agentracer.attribution import get_attributor

    emb = get_attributor("embedded")
    out: dict[str, tuple[int, int, int]] = {}
    for name in ("maas", "langgraph"):
        n = agent_ok = step_ok = 0
        for seed in seeds:
            system = sim.maas_system(policy=sim.SimPolicy(seed=seed)) if name == "maas" else \
                sim.langgraph_system(policy=sim.SimPolicy(seed=seed))
            rec = agentracer.Recorder()
            inst = agentracer.instrument(system.build(), recorder=rec)
            for task in sim.make_tasks(n_tasks, seed, prefix="t"):
                answer = system.run(inst, task)
                if numeric_match(answer, task):
                    continue
                tr = rec.last_trace()
                tr.outcome = "failure"
                gold, got = system.oracle(tr, task), emb.attribute(tr, ground_truth=str(task.answer))
                n += 1
                agent_ok += got.agent == gold.agent
                step_ok += got.step == gold.step
        out[name] = (n, agent_ok, step_ok)
    return out


def _sim_set(seeds: list[int], n_tasks: int) -> str:
    """Which simulated runs the framework profile learnt from, and how many of their questions are scored here."""
    from agentracer.training.embedded_fit import SIMULATED_SET

    lo, hi = SIMULATED_SET["seeds"]
    train = {t.question for s in range(lo, hi) for t in sim.make_tasks(SIMULATED_SET["n_tasks"], s,
                                                                         prefix=SIMULATED_SET["prefix"])}
    shared = sum(t.question in train for s in seeds for t in sim.make_tasks(n_tasks, s, prefix="t"))
    which = f"seed {lo}" if hi == lo + 1 else f"seeds {lo}–{hi - 1}"
    return (f"{which}, {SIMULATED_SET['n_tasks']} tasks named `{SIMULATED_SET['prefix']}…`; "
            f"{shared} of the {len(seeds) * n_tasks} questions scored here are among them")


def _mean(xs: list[float]) -> float:
    return statistics.fmean(xs) if xs else float("nan")


def table(results: dict, rounds: int) -> list[str]:
    head = ["system", "method", *[f"r{i}" for i in range(rounds + 1)], f"Δ r0→r{rounds}",
            f"r{rounds} min–max over seeds", f"held-out r0→r{rounds}", "rounds rolled back"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, by_label in results.items():
        for label, rs in by_label.items():
            accs = [_mean([r.accuracies[i] for r in rs]) for i in range(rounds + 1)]
            h0 = _mean([r.eval_accuracies[0] for r in rs])
            hl = _mean([r.eval_accuracies[-1] for r in rs])
            rb = sum(1 for r in rs for rec in r.rounds[1:] if not rec.accepted)
            last = [r.accuracies[-1] for r in rs]
            cells = [name, label, *[f"{100 * a:.1f}" for a in accs], f"{100 * (accs[-1] - accs[0]):+.1f}",
                     f"{100 * min(last):.0f}–{100 * max(last):.0f}", f"{100 * h0:.1f}→{100 * hl:.1f}",
                     f"{rb}/{len(rs) * rounds}" if "guard" in label else "-"]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n-tasks", type=int, default=40)
    ap.add_argument("--systems", nargs="+", default=["maas", "langgraph"])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "refine.md")
    args = ap.parse_args()
    results, wall = run(args.seeds, args.rounds, args.n_tasks, args.systems)
    agree = tracer_agreement(args.seeds, args.n_tasks)
    cmd = "`.venv/bin/python bench/bench_refine.py " + " ".join(
        [f"--seeds {' '.join(map(str, args.seeds))}", f"--rounds {args.rounds}", f"--n-tasks {args.n_tasks}"]) + "`"
    p = sim.SimPolicy()
    md = [
        "### Self-improvement rounds (`agentracer refine`)",
        "",
        "**Simulated agents** — not LLM results. The demo's agents are small deterministic programs standing in "
        "for LLMs (`agentracer.samples.simulated`): a three-agent word-problem pipeline (extract → compute → finalize) "
        "where each agent has one built-in flaw that fires on about a third of the tasks, and where the feedback "
        "notes that reach an agent's prompt through the real plugin hooks can fix its flaw — probability "
        f"{p.p_learn} for a note aimed at it that names the flaw, {p.p_learn_vague} for one that points at an "
        f"output of its own where the flaw shows, {p.p_generic_learn} for a critique given to every agent — or, "
        f"when the note is not about its own mistake, confuse it ({p.p_confuse}; {p.p_generic_confuse} for a "
        "critique) into mis-adjusting tasks that were right; a note merged n times gets n chances. These "
        "parameters are the simulation's assumptions, so the figures show what the loop does with feedback of "
        "different precision and aim, not how much an LLM system gains.",
        "",
        f"Mean accuracy (%) over seeds {', '.join(map(str, args.seeds))}; {args.n_tasks} refined tasks and "
        f"{args.n_tasks} held-out tasks per seed (held-out tasks are never fed back); at most 8 failures turned "
        "into notes per round; `+guard`: regression guard on (a round whose feedback lowers accuracy on the "
        "refined tasks is rolled back). `tracer:oracle` is the simulation's gold attribution (first step whose "
        "value is wrong, with the cause); `tracer:embedded` is the default offline attributor as it is in this "
        "checkout; `random-agent` aims the embedded tracer's notes at a random agent (control); `generic` gives a "
        "Self-Refine-style critique of the whole trajectory to every agent.",
        "",
        *table(results, args.rounds),
        "",
        "How often the embedded tracer names the oracle's agent / step on the round-0 failures (same seeds, "
        "with the ground truth): " + "; ".join(
            f"{name}: {a}/{n} agents ({100 * a / max(n, 1):.0f}%), {st}/{n} steps ({100 * st / max(n, 1):.0f}%)"
            for name, (n, a, st) in agree.items()) + ". Where the tracer names the wrong agent, its notes reach an "
        "agent whose output was not the mistake, which the simulated agents can misread; the gap between "
        "`tracer:embedded` and `tracer:oracle` is the attribution accuracy at work.",
        "",
        "**Read the `tracer:embedded` rows for what they are.** The embedded tracer answers these traces with "
        "its `framework` profile, which is trained, among other data, on labelled failures of these same "
        f"simulated pipelines ({_sim_set(args.seeds, args.n_tasks)}), and "
        "three of its consistency checks (a unit converted with the wrong factor, a percentage used as a plain "
        "number, a final answer that ignores the task's rounding) catch exactly the kinds of slip the simulated "
        "agents' flaws make. Trained without those runs it named the oracle's agent in 19% of these failures "
        "(below a random agent's 33%), and with the runs but without the three checks in 57% "
        "(`docs/evaluation.md`). So these rows show that the loop turns accurate attributions into gains; they "
        "say nothing about the tracer's accuracy on LLM agents, for which Who&When is the measure.",
        "",
        f"Command: {cmd} ({wall:.0f} s wall). Machine: 2-core x86_64 CPU, no GPU, Python "
        f"{platform.python_version()}. `agentracer refine --demo --out DIR` writes the same figures for one seed "
        "(JSON per round and method, a PNG plot).",
        "",
        "**As reported** in the AgenTracer paper (arXiv 2509.03312; not reproduced here, no GPU or API access "
        "in this environment): feedback from AgenTracer-8B's attributions gave off-the-shelf multi-agent systems "
        "4.8–14.2% gains — MaAS +14.2% on MATH-500 after three rounds and OWL Workforce +4.8% — while a "
        "generic Self-Refine-style reflection driven by GPT-4.1 sometimes made them worse. How to reproduce those "
        "setups on a GPU machine: docs/refine.md.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(md), encoding="utf-8")
    print("\n".join(md))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
