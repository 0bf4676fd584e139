"""Memory of recording long runs (10,000 and 100,000 agent steps, each with one LLM call): bytes per agent
step, with and without ``max_steps_in_memory`` (spilling to the JSONL sink).

Run: .venv/bin/python bench/bench_memory.py [--agent-steps 10000 100000]
(writes rows to bench/results/trust-memory.md)
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
import tempfile
import tracemalloc
from pathlib import Path

from agentracer import Recorder
from agentracer.formats import read
from agentracer.recording.export import tracer_provider


class NullExporter:
    def export(self, spans):
        return None

    def shutdown(self):
        return None


def run(n: int, spill: int | None, tmp: Path) -> tuple[float, float, int]:
    """Record ``n`` steps (n/2 agent steps, each with one LLM call); (peak MB, retained MB, steps)."""
    tp = tracer_provider(NullExporter(), interval=0.05)
    sink = tmp / f"run-{n}-{spill}.jsonl"
    rec = Recorder(tracer_provider=tp, sink=sink, max_steps_in_memory=spill, capture_content=True)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    with rec.run("long task"):
        for i in range(n // 2):
            with rec.step(f"agent{i % 5}", input="x" * 50) as h:
                rec.begin_llm("m", messages=[{"role": "user", "content": "p" * 200}]).end("r" * 200)
                h.set(content="c" * 200)
    tp.agentracer_processor.force_flush(10000)
    gc.collect()
    cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rec.sink.close()
    back = read(sink)[0]
    assert len(back.steps) == n and back.steps[-1].content == "r" * 200
    tp.shutdown()
    return (peak - base) / 1e6, (cur - base) / 1e6, len(rec.last_trace().steps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--agent-steps", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--spill", type=int, default=200, help="max_steps_in_memory of the bounded rows")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for agent_steps in args.agent_steps:
            for spill in (None, args.spill):
                peak, kept, steps = run(2 * agent_steps, spill, Path(d))
                per = kept * 1e6 / agent_steps
                rows.append((agent_steps, spill, peak, kept, per))
                print(f"agent steps {agent_steps} spill={spill}: peak {peak:.1f} MB, retained {kept:.1f} MB "
                      f"-> {per:.0f} bytes per agent step", flush=True)
    machine = f"{platform.machine()} {platform.processor() or ''} Python {sys.version.split()[0]}, 2-core CPU, no GPU"
    out = Path(__file__).parent / "results" / "trust-memory.md"
    out.parent.mkdir(exist_ok=True)
    lines = ["| agent steps | setting | peak traced MB | retained MB | retained bytes per agent step |",
             "|---|---|---|---|---|"]
    for agent_steps, spill, peak, kept, per in rows:
        label = "whole trace in memory" if spill is None else f"max_steps_in_memory={spill} (JSONL sink)"
        lines.append(f"| {agent_steps:,} | {label} | {peak:.1f} | {kept:.1f} | {per:.0f} |")
    text = (
        "Memory while recording long runs (each agent step has one LLM call inside it: 2 steps per agent step; "
        "~200-char contents; content capture on; spans through the bounded batch processor to a discarding "
        "exporter). Retained: traced memory still held after the run (the finished trace, the recorder's "
        f"bookkeeping). Command: `.venv/bin/python bench/bench_memory.py`. Machine: {machine}.\n\n"
        + "\n".join(lines) + "\n"
    )
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
