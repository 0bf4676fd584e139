"""Benchmark: the cross-system matrix (leave one system out), the primary accuracy figure.

Sources, each one system: Who&When Algorithm-Generated (``../shared/data``), each framework's generated,
labelled task runs (``agentracer annotate generate --framework F --domain math,code,tools --n N --seed S``) and
the orchestrator-led MagenticOne team (``--framework autogen --domain web,files,multihop --n N --seed S``),
generated here into a temporary folder unless ``--sources`` names existing sets (e.g. also a LangGraph
supervisor set, ``--framework langgraph --system supervisor --domain web,files,multihop``, where the
generator has it). Each source is scored by a model fitted
on all the others (``agentracer eval --leave-one-out``), beside its floors; then the top-3 rate, the
calibration (reliability, ECE raw and with a Platt map fitted on the other sources' held-out predictions)
and what a user is told (flagged low confidence, confident and wrong).

Usage::

    .venv/bin/python bench/bench_crosssys.py [--n 40] [--seed 7] [--sources PATH ...]
        [--calibrate-out PATH] [--out bench/results/crosssys.md]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("langgraph", "autogen", "camel", "maas")


def pct(x: Any) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def generate(tmp: Path, n: int, seed: int) -> list[Path]:
    out = []
    for name, f, domains in [*((f, f, "math,code,tools") for f in FRAMEWORKS), ("team", "autogen", "web,files,multihop")]:
        d = tmp / name
        subprocess.run([sys.executable, "-m", "agentracer.cli", "annotate", "generate", "--framework", f,
                        "--domain", domains, "--n", str(n), "--seed", str(seed), "--out", str(d)],
                       check=True, capture_output=True)
        out.append(d / "annotations.jsonl")
    return out


def render(rep: dict[str, Any], cmd: str, secs: float) -> str:
    lines = [
        "#### Cross-system: leave one system out (the primary figure)",
        "",
        f"Command: `{cmd}`. Machine: {platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count()}-core CPU, no GPU, shared with other jobs"
        + (f" ({secs:.0f} s wall)." if secs == secs else " (about 5-6 min wall under a load average of 8-15)."),
        "",
        "Each row is one system, scored by a model fitted on **all the other sources only** (its L2 strengths by "
        "an inner CV on them); floors on the scored traces: random (expectation) / first speaker / always step 1. "
        "Exact match, w/o G. The four generated sets come from one offline generator (scripted agents, labels by "
        "replay and injection), so they resemble each other more than any of them resembles Who&When.",
        "",
        "| scored system | n | train n | agent | step | agent floors (rand / 1st / step 1) | step floors | "
        "best floor agent / step | top-3 (gold step among the candidates) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in rep["cells"]:
        f = c["floors"]
        lines.append(
            f"| {c['source']} | {c['n']} | {c['train_n']} | **{pct(c['agent'])}** | **{pct(c['step'])}** | "
            f"{' / '.join(pct(f[k]['agent']) for k in ('random', 'first-speaker', 'step-one'))} | "
            f"{' / '.join(pct(f[k]['step']) for k in ('random', 'first-speaker', 'step-one'))} | "
            f"{pct(c['best_floor_agent'])} / {pct(c['best_floor_step'])} | {pct(c['top3'])} |"
        )
    lines.append(
        f"| **mean over systems** | | | **{pct(rep['mean_agent'])}** | **{pct(rep['mean_step'])}** | | | "
        f"{pct(rep['mean_best_floor_agent'])} / {pct(rep['mean_best_floor_step'])} | {pct(rep['mean_top3'])} |"
    )
    below = [c["source"] for c in rep["cells"]
             if c["agent"] < c["best_floor_agent"] or c["step"] < c["best_floor_step"]]
    lines += [
        "",
        f"Mean minus the mean best floor: agent {100 * (rep['mean_agent'] - rep['mean_best_floor_agent']):+.1f} "
        f"points, step {100 * (rep['mean_step'] - rep['mean_best_floor_step']):+.1f} points. "
        + (f"**Below its best floor: {', '.join(below)}** (the issue's bar is that no system is)."
           if below else "No system is below its best floor."),
        "",
        "Calibration of the step confidence on these held-out predictions (5 bins; *cal* = a Platt map fitted on "
        "the other sources' held-out predictions, so no source calibrates itself) and what a user is told: "
        "*flagged* = low confidence (cross-fitted confidence < 0.4, no known cue at the chosen step, one step, "
        "farther from the cell model's training traces than 99% of them, or a close call: a runner-up candidate at "
        "least half as likely as the chosen step); *confident & wrong* = unflagged answers whose step is wrong, as "
        "a share of all; the last column is the same without the close-call rule.",
        "",
        "| scored system | ECE raw | ECE cal | far from training | flagged | step acc. unflagged | "
        "step acc. all | confident & wrong | flagged / confident & wrong w/o the close-call rule |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in rep["cells"]:
        lines.append(
            f"| {c['source']} | {pct(c.get('ece_raw'))} | {pct(c.get('ece_calibrated'))} | "
            f"{pct(c.get('far_share'))} | {pct(c.get('flagged'))} | {pct(c.get('confident_step_accuracy'))} | "
            f"{pct(c['step'])} | {pct(c.get('confident_wrong'))} | "
            f"{pct(c.get('flagged_without_close_call'))} / {pct(c.get('confident_wrong_without_close_call'))} |"
        )
    cal = rep.get("calibration") or {}
    if cal:
        lines += [
            "",
            "Reliability, all held-out predictions pooled:",
            "",
            "| confidence bin | n raw | mean conf. raw | accuracy raw | n cal | mean conf. cal | accuracy cal |",
            "|---|---|---|---|---|---|---|",
        ]
        for a, b in zip(cal["reliability_raw"], cal["reliability_calibrated"], strict=True):
            lines.append(f"| {a['bin']} | {a['n']} | {pct(a['confidence'])} | {pct(a['accuracy'])} | {b['n']} | "
                         f"{pct(b['confidence'])} | {pct(b['accuracy'])} |")
        lines += [
            "",
            f"Pooled ECE: raw {pct(cal['ece_raw'])}, cross-fitted Platt {pct(cal['ece_calibrated'])}. The map "
            f"fitted on all of them (a={cal['platt']['a']}, b={cal['platt']['b']}) is what "
            "`--calibrate-out` writes.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=40, help="runs per (framework, domain) to generate")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--sources", nargs="*", help="existing labelled sets instead of generating")
    ap.add_argument("--calibrate-out", default=None)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "crosssys.md"))
    ap.add_argument("--from-json", default=None,
                    help="render a report that `agentracer eval --leave-one-out ... --json F` already wrote")
    a = ap.parse_args()
    if a.from_json:
        rep = json.loads(Path(a.from_json).read_text())
        shown = ("agentracer eval --leave-one-out " + " ".join(rep.get("sources", []))
                 + " (how each set was generated: see BENCHMARKS.md); rendered by bench/bench_crosssys.py --from-json")
        Path(a.out).write_text(render(rep, shown, float("nan")))
        print(Path(a.out).read_text())
        return
    from agentracer.testing import whowhen_dir

    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="agentracer-xsys-") as tmp:
        gen = [Path(p) for p in a.sources] if a.sources else generate(Path(tmp), a.n, a.seed)
        js = Path(tmp) / "loo.json"
        cmd = [sys.executable, "-m", "agentracer.cli", "eval", "--leave-one-out", str(whowhen_dir()),
               *map(str, gen), "--json", str(js)]
        if a.calibrate_out:
            cmd += ["--calibrate-out", a.calibrate_out]
        subprocess.run(cmd, check=True, capture_output=True)
        rep = json.loads(js.read_text())
    shown = ("bench/bench_crosssys.py " + (f"--sources {' '.join(a.sources)}" if a.sources else
                                           f"--n {a.n} --seed {a.seed}")
             + " (= `agentracer eval --leave-one-out WHO_AND_WHEN "
             "GEN/{langgraph,autogen,camel,maas,team}/annotations.jsonl`, each set made by "
             f"`agentracer annotate generate --framework F --domain math,code,tools --n {a.n} --seed {a.seed}`, "
             f"the team by `--framework autogen --domain web,files,multihop`)")
    Path(a.out).write_text(render(rep, shown, time.time() - t0))
    print(Path(a.out).read_text())


if __name__ == "__main__":
    main()
