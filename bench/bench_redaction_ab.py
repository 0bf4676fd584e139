"""A/B of the recording cost before and after a redaction change, in CPU time (steadier than wall time on a
shared machine): the LangGraph demo run, plain and instrumented, in child processes of each source tree.

    .venv/bin/python bench/bench_redaction_ab.py OLD_TREE NEW_TREE [--cycles 8 --runs 40]

Each tree is a checkout (or ``git archive`` export) holding ``agentracer_core`` and ``integrations``. A child
per tree and cycle builds the graph twice (plain, and instrumented with a TracerProvider whose exporter discards
spans), warms both, then alternates plain and instrumented runs; the cycles alternate the trees. Reports the
median CPU ms per run and the added CPU ms per agent step (instrumented − plain) for each tree.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys, time
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
import agentracer
from agentracer.samples.demo import DEMO_SCRIPT
from agentracer_langgraph.demo import build_demo_graph, demo_input

class Null(SpanExporter):
    def export(self, spans): return SpanExportResult.SUCCESS

runs = int(sys.argv[1])
script = {k: list(v) * 100_000 for k, v in DEMO_SCRIPT.items()}
plain, _ = build_demo_graph(script)
inst, _ = build_demo_graph(script)
tp = TracerProvider(); tp.add_span_processor(SimpleSpanProcessor(Null()))
agentracer.instrument(inst, tracer_provider=tp)
for g in (plain, inst, plain, inst):
    g.invoke(demo_input())
out = {"plain": [], "inst": []}
for i in range(runs):
    for name, g in (("plain", plain), ("inst", inst)):
        t0 = time.process_time(); g.invoke(demo_input()); out[name].append(time.process_time() - t0)
out["steps"] = len(agentracer.last_trace().agent_steps())
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--cycles", type=int, default=8)
    ap.add_argument("--runs", type=int, default=40)
    args = ap.parse_args()
    res: dict[str, dict[str, list[float]]] = {"old": {"plain": [], "inst": []}, "new": {"plain": [], "inst": []}}
    steps = 3
    for c in range(args.cycles):
        for name in (("old", "new") if c % 2 == 0 else ("new", "old")):
            tree = getattr(args, name).resolve()
            env = {**os.environ, "PYTHONPATH": f"{tree}/agentracer_core:{tree}/integrations", "PYTHONHASHSEED": str(c)}
            out = json.loads(subprocess.run([sys.executable, "-c", CHILD, str(args.runs)], env=env, check=True,
                                            capture_output=True, text=True).stdout.splitlines()[-1])
            steps = out["steps"]
            for k in ("plain", "inst"):
                res[name][k].append(statistics.median(out[k]))
    report = {}
    for name, r in res.items():
        plain, inst = statistics.median(r["plain"]) * 1e3, statistics.median(r["inst"]) * 1e3
        report[name] = {"plain_cpu_ms": round(plain, 3), "instrumented_cpu_ms": round(inst, 3),
                        "added_cpu_ms_per_step": round((inst - plain) / steps, 3)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
