"""Benchmark of the embedded attributor: accuracy beside the floors, and speed/memory.

Accuracy on Who&When Algorithm-Generated (126 files, ``../shared/data``), K-fold cross-validation by file
repeated over seeds (every model is fitted on the training folds only; its L2 strengths are chosen by an
inner CV inside those folds), w/o G and w/ G, with:

- the floors on the same files (random expectation, first speaker, always step 1);
- an ablation: the same listwise ranker restricted to surface features (position, speaker, length, code
  blocks, execution errors), i.e. roughly the "plain model over hand-made per-step features" floor;
- a design-split check: features were designed while reading the odd-numbered files only; a model trained
  on those is scored once on the even-numbered files.

Speed: median wall time of ``attribute()`` on a 100-step trace (real Who&When step contents, ~100 KB)
with the process pinned to one core, plus the mean Who&When trace; memory: tracemalloc peak of one call,
the process's max RSS, and the size of the shipped parameters.

Usage::

    .venv/bin/python bench/bench_attribution.py [--folds 5] [--seeds 3] [--out bench/results/attribution.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = __import__("agentracer.testing", fromlist=["whowhen_dir"]).whowhen_dir()

SURFACE = [
    "pos0", "pos1", "pos2", "rel_pos", "is_last", "is_tool", "first_speaker", "agent_first_turn", "agent_turn_idx",
    "agent_share", "log_len", "has_code", "n_code", "next_fail", "next_ok", "next_empty", "prev_fail",
]  # fmt: skip


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def accuracy_rows(folds: int, seeds: int) -> list[str]:
    from agentracer.attribution.embedded import EmbeddedAttributor
    from agentracer.evaluation import evaluate, load_items

    items, _ = load_items(DATA)
    rows = []
    floors = None
    for label, factory, with_gt in (
        ("embedded (all features)", EmbeddedAttributor, False),
        ("embedded (all features)", EmbeddedAttributor, True),
        ("ablation: surface features only", lambda: EmbeddedAttributor(features=SURFACE), False),
    ):
        t0 = time.perf_counter()
        rep = evaluate(items, "embedded", with_gt=with_gt, folds=folds, seeds=seeds, factory=factory)
        dt = time.perf_counter() - t0
        floors = floors or rep["floors"]
        rows.append(
            f"| {label} | {'w/ G' if with_gt else 'w/o G'} | {folds}-fold CV x {seeds} seeds | "
            f"**{pct(rep['agent_accuracy'])}** | {pct(rep['agent_accuracy_fold_mean'])} ± "
            f"{pct(rep['agent_accuracy_fold_std'])} | {pct(rep['agent_ci95'][0])}-{pct(rep['agent_ci95'][1])} | "
            f"**{pct(rep['step_accuracy'])}** | {pct(rep['step_accuracy_fold_mean'])} ± "
            f"{pct(rep['step_accuracy_fold_std'])} | {pct(rep['step_ci95'][0])}-{pct(rep['step_ci95'][1])} | "
            f"{pct(rep['step_accuracy_lenient'])} | {dt:.0f} s |"
        )
        print(rows[-1], flush=True)
    # design split: designed on odd-numbered files, scored once on the even-numbered ones
    odd = [e for e in items if int(Path(e.file).stem) % 2 == 1]
    even = [e for e in items if int(Path(e.file).stem) % 2 == 0]
    for with_gt in (False, True):
        rep = evaluate(even, "embedded", with_gt=with_gt, train=odd, factory=EmbeddedAttributor)
        rows.append(
            f"| design split: train on the {len(odd)} odd files, score the {len(even)} even files | "
            f"{'w/ G' if with_gt else 'w/o G'} | trained once | **{pct(rep['agent_accuracy'])}** | - | "
            f"{pct(rep['agent_ci95'][0])}-{pct(rep['agent_ci95'][1])} | **{pct(rep['step_accuracy'])}** | - | "
            f"{pct(rep['step_ci95'][0])}-{pct(rep['step_ci95'][1])} | {pct(rep['step_accuracy_lenient'])} | - |"
        )
        print(rows[-1], flush=True)
    names = {
        "random": "floor: random (expectation)",
        "first-speaker": "floor: first speaker",
        "step-one": "floor: always step 1",
    }
    for key, name in names.items():
        fl = floors[key]
        rows.append(
            f"| {name} | - | same 126 files | {pct(fl['agent_accuracy'])} | - | - | {pct(fl['step_accuracy'])} | - | - "
            f"| {pct(fl['step_accuracy_lenient'])} | - |"
        )
    return rows


def generalisation_rows(generated: Path, folds: int, seeds: int, fresh: Path | None = None) -> list[str]:
    """CV within a generated set, Who&When -> generated, generated -> Who&When, and (with ``fresh``, a set
    generated with another seed) Who&When + generated -> fresh: the shipped framework profile's recipe (w/o G)."""
    from agentracer.attribution.embedded import EmbeddedAttributor
    from agentracer.evaluation import evaluate, load_items

    ww, _ = load_items(DATA)
    gen, _ = load_items(generated)
    settings = [
        (f"CV within the generated set ({len(gen)} traces)", gen, None),
        (f"train Who&When ({len(ww)}) -> score generated", gen, ww),
        (f"train generated ({len(gen)}) -> score Who&When", ww, gen),
    ]
    if fresh is not None:
        from agentracer.evaluation import EvalItem
        from agentracer.training.embedded_fit import simulated_set

        new, _ = load_items(fresh)
        simulated = [EvalItem(it, "simulated") for it in simulated_set()]
        recipe = ww + gen + simulated
        settings += [
            (f"train Who&When ({len(ww)}) -> score a fresh generated set ({len(new)}, another seed)", new, ww),
            (f"train Who&When + generated ({len(ww) + len(gen)}) -> score the fresh set", new, ww + gen),
            (f"train Who&When + generated + simulated pipelines ({len(recipe)}; the framework profile's recipe) -> "
             "score the fresh set", new, recipe),
        ]
    rows = []
    for label, test, train in settings:
        rep = evaluate(test, "embedded", folds=folds, seeds=seeds, train=train, factory=EmbeddedAttributor)
        fl = rep["floors"]
        rows.append(
            f"| {label} | {rep['protocol'].split(';')[0]} | **{pct(rep['agent_accuracy'])}** | "
            f"{pct(rep['agent_ci95'][0])}-{pct(rep['agent_ci95'][1])} | **{pct(rep['step_accuracy'])}** | "
            f"{pct(rep['step_ci95'][0])}-{pct(rep['step_ci95'][1])} | {pct(fl['random']['agent_accuracy'])} / "
            f"{pct(fl['first-speaker']['agent_accuracy'])} / {pct(fl['step-one']['agent_accuracy'])} | "
            f"{pct(fl['random']['step_accuracy'])} / {pct(fl['first-speaker']['step_accuracy'])} / "
            f"{pct(fl['step-one']['step_accuracy'])} |"
        )
        print(rows[-1], flush=True)
    return rows


def big_trace(n: int = 100):  # noqa: ANN201
    from agentracer.formats import load_annotated
    from agentracer.trace import Step, Trace

    items = load_annotated(DATA)
    steps = []
    for it in items:
        for s in it.trace.steps:
            if len(steps) < n:
                steps.append(Step(index=len(steps), agent=s.agent, content=s.content, role=s.role))
    return Trace(run_id="bench-100", task=items[0].trace.task, steps=steps), items


def speed_rows(repeats: int = 50) -> list[str]:
    from agentracer.attribution import get_attributor
    from agentracer.attribution.embedded import DEFAULT_PARAMS

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    tr, items = big_trace()
    att = get_attributor("embedded")
    att.attribute(tr)  # load parameters
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.thread_time()
        att.attribute(tr)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    small = []
    for it in items:
        t0 = time.perf_counter()
        att.attribute(it.trace)
        small.append((time.perf_counter() - t0) * 1000)
    tracemalloc.start()
    att.attribute(tr)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    chars = sum(len(s.content) for s in tr.steps)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = [
        f"| 100-step trace ({chars:,} chars of Who&When content), one core | {statistics.median(times):.1f} ms | "
        f"{statistics.median(cpu):.1f} ms | {min(times):.1f} ms | {max(times):.1f} ms | {peak / 1e6:.2f} MB | "
        f"{rss:.0f} MB | {load:.1f} |",
        f"| the 126 Who&When traces (mean {statistics.fmean(len(i.trace.steps) for i in items):.1f} steps), one core | "
        f"{statistics.median(small):.1f} ms | - | {min(small):.1f} ms | {max(small):.1f} ms | - | - | {load:.1f} |",
    ]
    for r in rows:
        print(r, flush=True)
    rows.append(f"\nShipped parameters: `{DEFAULT_PARAMS.name}`, {DEFAULT_PARAMS.stat().st_size / 1024:.1f} KB.")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "attribution.md"))
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--generated", help="a folder of generated annotated traces (agentracer annotate generate)")
    ap.add_argument("--generated-cmd", default="", help="the command that made --generated (for the results)")
    ap.add_argument("--fresh", help="another generated set (another seed), scored by models trained without it")
    ap.add_argument("--fresh-cmd", default="", help="the command that made --fresh (for the results)")
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"Who&When data not found at {DATA}", file=sys.stderr)
        return 2
    cmd = "`.venv/bin/python bench/bench_attribution.py" + (
        f" --folds {args.folds} --seeds {args.seeds}" if (args.folds, args.seeds) != (5, 3) else ""
    )
    cmd += (f" --generated {args.generated}" if args.generated else "") + (
        f" --fresh {args.fresh}" if args.fresh else ""
    ) + (" --skip-accuracy" if args.skip_accuracy else "") + "`"
    out = Path(args.out)
    if (args.skip_accuracy or not args.generated) and out.exists():
        old_text = out.read_text(encoding="utf-8")
        prev = re.search(r"kept from the earlier run of (`[^`]*`)", old_text) or re.search(
            r"^Command: (`[^`]*`)", old_text, re.M)
        if prev:
            cmd += f" (tables of parts it did not run are kept from the earlier run of {prev.group(1)})"
    machine = f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()}-core CPU, no GPU"
    lines = [
        "### Embedded attributor (Who&When Algorithm-Generated, 126 files)",
        "",
        f"Command: {cmd}. Machine: {machine}.",
        "",
    ]
    # Each optional part sits between markers; a part not run now is rendered empty and refilled from the
    # committed page (bench/results_md.py), so a partial run never drops tables it did not recompute.
    lines.append("<!-- part:accuracy -->")
    if not args.skip_accuracy:
        lines += [
            "Exact match (agent: normalised name; step: exact index). Mean ± std over the test folds (folds x seeds); "
            "95% CI: percentile bootstrap over traces (= files here; 2000 resamples) of the per-trace correctness averaged over "
            "seeds. Lenient = Who&When's substring step match, for comparison with published numbers only.",
            "",
            "| method | G | protocol | agent | agent mean ± std | agent 95% CI | step | step mean ± std | "
            "step 95% CI | step (lenient) | time |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *accuracy_rows(args.folds, args.seeds),
            "",
            "Reading the rows: the issue's targets (w/o G, 5-fold CV: agent >= 75%, step >= 50%) are **not reached** "
            "for the agent; the step figure is just under 50% (its 95% interval contains 50%). The ablation row is the "
            "same learner on surface features only (position, speaker, length, code blocks, execution outcome): it "
            "reproduces the ~43% step / ~63% agent of a plain per-step model, so the provenance, unsupported-claim, "
            "'first of its kind' and context features add about 6-7 points of step and 4-5 of agent accuracy. The "
            "design split guards against having tuned the *features* to the data: they were designed while reading "
            "the odd-numbered files (two even files, 2 and 8, were read at the start, and a few aggregate scores on "
            "all 126 files were looked at while designing); trained on the odd files only, the model scores the even "
            "files at the same level as in cross-validation. w/ G adds little: the ground truth appears verbatim in "
            "only ~20% of the traces.",
            "",
        ]
    lines += ["<!-- end:accuracy -->", "<!-- part:generalisation -->"]
    if args.generated:
        lines += [
            "Generalisation across sets (w/o G). The generated set was made with the annotation pipeline's "
            f"offline generator: `{args.generated_cmd or 'agentracer annotate generate ...'}` (fake LLM agents "
            "with replay- and injection-labelled faults; one JSONL file, so CV splits it by trace). Floors are "
            "on the scored set: random / first speaker / always step 1. The generator is repeatable: the same "
            "command gives the same labelled runs. The fresh set"
            + (f" (`{args.fresh_cmd}`)" if args.fresh_cmd else "")
            + " shares no run with the first; its last row is how the shipped framework profile (trained on "
            "Who&When, the seed-1 set and the simulated refinement pipelines' failures of seed 100, "
            "`python -m agentracer.training.embedded_fit --rebuild`) does on generated runs it never saw.",
            "",
            "| setting | protocol | agent | agent 95% CI | step | step 95% CI | agent floors | step floors |",
            "|---|---|---|---|---|---|---|---|",
            *generalisation_rows(Path(args.generated), args.folds, args.seeds, Path(args.fresh) if args.fresh else None),
            "",
        ]
    lines.append("<!-- end:generalisation -->")
    lines += [
        "Speed: wall time per `attribute()` call (median, min, max over 50 calls) and the thread's CPU time (median), "
        "pinned to one core; the load average shows how busy the shared machine was (2 cores): under load the "
        "wall time includes waiting for the CPU, while the CPU time is the cost of the work on one core. The "
        "max RSS is the whole benchmark process (all traces loaded, models trained); one call allocates the "
        "tracemalloc peak.",
        "",
        "| speed | median wall | median CPU | min wall | max wall | tracemalloc peak (one call) | process max RSS "
        "| load average |",
        "|---|---|---|---|---|---|---|---|",
        *speed_rows(),
        "",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from results_md import merge_blocks

    text = "\n".join(lines) + "\n"
    out.write_text(merge_blocks(out.read_text(encoding="utf-8"), text) if out.exists() else text, encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
