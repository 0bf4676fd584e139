"""Recording overhead of the CAMEL plugin: a RolePlaying run on CAMEL's StubModel, with and without it.

Each run is 3 rounds = 6 agent steps + 6 LLM calls (plus snapshots of both agents' memories per round).
We time ``run_society`` on a fresh society per repetition, uninstrumented vs instrumented (spans to a
no-op exporter through the SDK), with ``step_timeout=None`` (no thread) and ``step_timeout=30`` (CAMEL's
thread per step), and report the median run time and the added time per agent step. Also times a fork.

Run: .venv/bin/python bench/bench_camel.py   (writes rows to bench/results/camel.md)
"""

from __future__ import annotations

import logging
import platform
import statistics
import sys
import time
from pathlib import Path

import agentracer
import agentracer_camel
from agentracer_camel.testing import arithmetic_society
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

REPS = 60
STEPS_PER_RUN = 6


class NullExporter(SpanExporter):
    def export(self, spans):  # noqa: D102
        return SpanExportResult.SUCCESS


def one_run(step_timeout: float | None, instrumented: bool, provider: TracerProvider) -> float:
    society, _, _ = arithmetic_society(step_timeout=step_timeout)
    if instrumented:
        agentracer.instrument(society, tracer_provider=provider)
    t0 = time.process_time()
    agentracer_camel.run_society(society, round_limit=6)
    return time.process_time() - t0


def timed(step_timeout: float | None, provider: TracerProvider) -> tuple[list[float], list[float]]:
    """Interleaved repetitions (plain, instrumented, plain, ...) so machine drift hits both alike."""
    plain, inst = [], []
    for _ in range(REPS):
        plain.append(one_run(step_timeout, False, provider))
        inst.append(one_run(step_timeout, True, provider))
    return plain, inst


def fork_times(provider: TracerProvider) -> list[float]:
    out = []
    for _ in range(REPS // 2):
        society, _, _ = arithmetic_society(step_timeout=None)
        agentracer.instrument(society, tracer_provider=provider)
        agentracer_camel.run_society(society, round_limit=6)
        trace = agentracer.last_trace()
        runnable = agentracer.fork(society, trace, 2, "Solution: 6 * 7 = 42")
        t0 = time.process_time()
        runnable()
        out.append(time.process_time() - t0)
    return out


def main() -> None:
    logging.getLogger("camel").setLevel(logging.CRITICAL)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(NullExporter()))
    for _ in range(5):  # warm up imports and caches, before any class is patched
        one_run(None, False, provider)
    pristine = {st: statistics.median(one_run(st, False, provider) for _ in range(REPS)) for st in (None, 30.0)}
    rows = []
    for st in (None, 30.0):
        plain, instr = timed(st, provider)  # patched classes from here on
        base, inst = statistics.median(plain), statistics.median(instr)
        rows.append((f"step_timeout={st}", pristine[st] * 1e3, base * 1e3, inst * 1e3,
                     (inst - pristine[st]) / STEPS_PER_RUN * 1e6))
    fk = statistics.median(fork_times(provider)) * 1e3
    machine = f"{platform.machine()} Python {sys.version.split()[0]}, 2-core CPU, no GPU"
    lines = [
        "Recording overhead of the CAMEL plugin on a RolePlaying run (3 rounds = 6 agent steps + 6 LLM calls, "
        f"CAMEL StubModel, spans through the SDK to a no-op exporter), CPU time (`time.process_time`, this process, all threads), median of {REPS} runs each (plain and instrumented interleaved). "
        f"Command: `.venv/bin/python bench/bench_camel.py`. Machine: {machine}.",
        "",
        "| setting | CAMEL alone ms/run | plugin loaded, system not instrumented | instrumented ms/run "
        "| added µs per agent step |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {name} | {p:.2f} | {b:.2f} | {i:.2f} | {d:.0f} |" for name, p, b, i, d in rows]
    lines += ["", f"Fork at step 2 of that run (restore round 0, serve 1 recorded LLM call, rerun 2 rounds): "
              f"median {fk:.2f} ms (of {REPS // 2})."]
    out = Path(__file__).parent / "results" / "camel.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
