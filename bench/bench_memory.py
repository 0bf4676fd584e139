"""Memory of recording long runs (10,000 and 100,000 agent steps, each with one LLM call): bytes per agent
step, with and without ``max_steps_in_memory`` (spilling to the JSONL sink).

Two prompt patterns: ``same`` (every LLM call sends the same prompt, so one call key) and ``distinct`` (each
call's prompt is new, so each call has its own key, and the redactor's bounded result cache fills up).

Run: .venv/bin/python bench/bench_memory.py [--agent-steps 10000 100000] [--prompts same distinct]
(writes rows to bench/results/trust-memory.md)
"""

from __future__ import annotations

import argparse
import gc
import os
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


def _redactor_cache_clear() -> None:
    """Empty the redactor's result cache (a bounded LRU of the process; see agentracer.recording.redact)."""
    from agentracer.recording import redact as red

    for eng in red._current:
        eng.cached.cache_clear()


def run(n: int, spill: int | None, tmp: Path, distinct: bool = False) -> tuple[float, float, float]:
    """Record ``n`` steps (n/2 agent steps, each with one LLM call); (peak MB, retained MB, retained MB once
    the redactor's cache is emptied)."""
    _redactor_cache_clear()
    tp = tracer_provider(NullExporter(), interval=0.05)
    sink = tmp / f"run-{n}-{spill}-{distinct}.jsonl"
    rec = Recorder(tracer_provider=tp, sink=sink, max_steps_in_memory=spill, capture_content=True)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    with rec.run("long task"):
        for i in range(n // 2):
            with rec.step(f"agent{i % 5}", input="x" * 50) as h:
                prompt = f"{i} " + "p" * 200 if distinct else "p" * 200
                rec.begin_llm("m", messages=[{"role": "user", "content": prompt}]).end("r" * 200)
                h.set(content="c" * 200)
    tp.agentracer_processor.force_flush(10000)
    gc.collect()
    cur, peak = tracemalloc.get_traced_memory()
    _redactor_cache_clear()
    gc.collect()
    nocache = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    rec.sink.close()
    back = read(sink)[0]
    assert len(back.steps) == n and back.steps[-1].content == "r" * 200
    tp.shutdown()
    assert len(rec.last_trace().steps) == n
    return (peak - base) / 1e6, (cur - base) / 1e6, (nocache - base) / 1e6


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--agent-steps", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--spill", type=int, default=200, help="max_steps_in_memory of the bounded rows")
    ap.add_argument("--prompts", nargs="+", choices=["same", "distinct"], default=["same", "distinct"])
    args = ap.parse_args()
    load0 = _load()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        run(400, None, Path(d))  # warm-up: first-use imports and compiled patterns are not per-step costs
        for agent_steps in args.agent_steps:
            for prompts in args.prompts:
                for spill in (None, args.spill):
                    peak, kept, nocache = run(2 * agent_steps, spill, Path(d), prompts == "distinct")
                    per, per_nc = kept * 1e6 / agent_steps, nocache * 1e6 / agent_steps
                    rows.append((agent_steps, prompts, spill, peak, kept, per, per_nc))
                    print(f"agent steps {agent_steps} prompts={prompts} spill={spill}: peak {peak:.1f} MB, retained "
                          f"{kept:.1f} MB -> {per:.0f} bytes per agent step ({per_nc:.0f} without the redactor's "
                          "cache)", flush=True)
    load = f"{load0} at the start, {_load()} at the end"
    machine = f"{platform.machine()} {platform.processor() or ''} Python {sys.version.split()[0]}, 2-core CPU, no GPU"
    out = Path(__file__).parent / "results" / "trust-memory.md"
    out.parent.mkdir(exist_ok=True)
    lines = ["| agent steps | prompts | setting | peak traced MB | retained MB | retained bytes per agent step "
             "| the same without the redactor's cache |", "|---|---|---|---|---|---|---|"]
    for agent_steps, prompts, spill, peak, kept, per, per_nc in rows:
        label = "whole trace in memory" if spill is None else f"max_steps_in_memory={spill} (JSONL sink)"
        lines.append(f"| {agent_steps:,} | {prompts} | {label} | {peak:.1f} | {kept:.1f} | {per:.0f} | {per_nc:.0f} |")
    text = (
        "Memory while recording long runs (each agent step has one LLM call inside it: 2 steps per agent step; "
        "~200-char contents; content capture on; spans through the bounded batch processor to a discarding "
        "exporter). Prompts `same`: every call sends one prompt (one call key); `distinct`: a new prompt per call "
        "(a call key each; the redactor's result cache, bounded at 4,096 entries, fills up). A 400-step warm-up "
        "run comes first (first-use imports are not counted). Retained: traced "
        "memory still held after the run (the finished trace, the recorder's bookkeeping, the caches), divided "
        f"by all agent steps. Command: `.venv/bin/python bench/bench_memory.py`. Machine: {machine}; "
        f"load average (1/5/15 min) {load}.\n\n"
        + "\n".join(lines) + "\n"
    )
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
