"""Run every benchmark (``make bench``) and assemble BENCHMARKS.md from ``bench/results/*.md``.

    .venv/bin/python bench/run_all.py              # run them all (about an hour on 2 cores), then assemble
    .venv/bin/python bench/run_all.py --assemble   # only rebuild BENCHMARKS.md from the existing results
    .venv/bin/python bench/run_all.py --only attribution overhead

Each benchmark writes its own Markdown (with its command and machine) under bench/results/; nothing is
asserted here and nothing in the test suite times anything.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

# (name, command, results files in the order they appear in BENCHMARKS.md, section title)
BENCHES: list[tuple[str, list[str], list[str], str]] = [
    ("crosssys", ["bench/bench_crosssys.py"], ["crosssys.md"],
     "Attribution across systems (embedded, leave one system out: the primary figure)"),
    ("attribution", ["bench/bench_attribution.py"], ["attribution.md"],
     "Attribution accuracy and speed (embedded; within-set CV is the optimistic figure)"),
    ("llm-path", ["bench/bench_llm_path.py", "--files", "10"], ["attribution-llm.md", "attribution-llm-vllm.md"],
     "LLM tracer path (tiny local model: the path works, accuracy is not the point)"),
    ("annotation", ["bench/bench_annotation.py", "all"], ["annotation.md"], "Annotation pipeline"),
    ("training", ["bench/bench_grpo_learning.py"], ["training.md"], "Training (GRPO learning curve on CPU)"),
    ("refine", ["bench/bench_refine.py"], ["refine.md"], "Self-refinement (simulated agents)"),
    ("overhead", ["bench/bench_overhead.py"], ["trust-overhead.md"], "Overhead vs OpenInference"),
    ("memory", ["bench/bench_memory.py"], ["trust-memory.md"], "Memory per 1,000 steps"),
    ("fuzz", ["bench/bench_fuzz.py", "100000"], ["trust-fuzz.md"], "Fuzzing the importers"),
    ("langgraph", ["bench/bench_langgraph.py", "--out", "bench/results/langgraph.md"], ["langgraph.md"],
     "LangGraph plugin costs"),
    ("autogen", ["bench/bench_autogen.py", "200"], ["autogen.md"], "AutoGen plugin costs"),
    ("camel", ["bench/bench_camel.py"], ["camel.md"], "CAMEL plugin costs"),
]

HEADER = """# Benchmarks

Every figure here was produced by a command in `bench/` (named beside each table, with the machine it ran
on); `make bench` re-runs them all and rebuilds this file (`.venv/bin/python bench/run_all.py --assemble`
only rebuilds it). Accuracy is always shown beside the trivial floors computed on the same files, scored by
exact match; anything that learns is cross-validated. Speed is measured only here, never asserted in tests.
The machine was a shared 2-core x86_64 CPU with no GPU; several figures were taken while other jobs ran, and
their tables say so. No GPU was lent to this project's sessions, so nothing here ran on a GPU.
"""


def _embed(text: str) -> str:
    """A results file as a part of BENCHMARKS.md: its headings one level below the section title, and its
    relative image links pointing into bench/results/."""
    lines = []
    for line in text.splitlines():
        if line.startswith("#"):
            line = "##" + line if line.startswith("# ") else "#" + line
        lines.append(re.sub(r"\]\((?![a-z]+:|/|bench/)([^)]+\.(?:png|svg|jpg))\)", r"](bench/results/\1)", line))
    return "\n".join(lines)


def assemble() -> Path:
    parts = [HEADER]
    seen: set[str] = set()
    for _, _, files, title in BENCHES:
        present = [f for f in files if (RESULTS / f).exists()]
        if not present:
            continue
        parts.append(f"\n## {title}\n")
        for f in present:
            seen.add(f)
            text = (RESULTS / f).read_text().strip()
            parts.append(_embed(text) + "\n")
    for f in sorted(p.name for p in RESULTS.glob("*.md")):
        if f not in seen:
            parts.append(f"\n## {f[:-3]}\n\n" + _embed((RESULTS / f).read_text().strip()) + "\n")
    out = ROOT / "BENCHMARKS.md"
    out.write_text("\n".join(parts))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--assemble", action="store_true", help="only rebuild BENCHMARKS.md")
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    if not args.assemble:
        for name, cmd, _, _ in BENCHES:
            if args.only and name not in args.only:
                continue
            print(f"== {name}: {' '.join(cmd)}", flush=True)
            res = subprocess.run([sys.executable, *cmd], cwd=ROOT)
            if res.returncode != 0:
                print(f"   {name} exited with {res.returncode}", flush=True)
    print(f"wrote {assemble()}")


if __name__ == "__main__":
    main()
