"""Memory of recording a 10,000-step run: MB per 1,000 steps, with and without spilling to the JSONL sink.

Run: .venv/bin/python bench/bench_memory.py   (writes rows to bench/results/trust-memory.md)
"""

from __future__ import annotations

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


def run(n: int, spill: int | None, tmp: Path) -> tuple[float, int]:
    tp = tracer_provider(NullExporter(), interval=0.05)
    sink = tmp / f"run-{spill}.jsonl"
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
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    back = read(sink)[0]
    assert len(back.steps) == n and back.steps[-1].content == "r" * 200
    tp.shutdown()
    return peak / 1e6, len(rec.last_trace().steps)


def main() -> None:
    n = 10_000
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for spill in (None, 200):
            mb, steps = run(n, spill, Path(d))
            rows.append((spill, mb, steps))
            print(f"spill={spill}: peak {mb:.1f} MB for {steps} steps -> {mb / (steps / 1000):.2f} MB per 1,000 steps")
    machine = f"{platform.machine()} {platform.processor() or ''} Python {sys.version.split()[0]}, 2-core CPU, no GPU"
    out = Path(__file__).parent / "results" / "trust-memory.md"
    out.parent.mkdir(exist_ok=True)
    lines = ["| setting | steps | peak traced MB | MB per 1,000 steps |", "|---|---|---|---|"]
    for spill, mb, steps in rows:
        label = "whole trace in memory" if spill is None else f"max_steps_in_memory={spill} (JSONL sink)"
        lines.append(f"| {label} | {steps} | {mb:.1f} | {mb / (steps / 1000):.2f} |")
    text = (
        "Memory while recording a 10,000-step run (5,000 agent steps + 5,000 LLM calls, ~200-char contents, spans "
        f"through the bounded batch processor). Command: `.venv/bin/python bench/bench_memory.py`. Machine: {machine}.\n\n"
        + "\n".join(lines) + "\n"
    )
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
