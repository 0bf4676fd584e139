"""Per-step overhead of agentracer versus the OpenInference instrumentors, on LangGraph and AutoGen.

The same run three ways — no instrumentation, the OpenInference instrumentor, agentracer — each mode in a
fresh subprocess (instrumentors patch classes globally), on offline fake LLMs so the time is all framework
+ instrumentation. Both instrumented modes export to the same kind of provider: a TracerProvider with a
batch processor and an exporter that discards spans. Reports the median run time, the per-agent-step
overhead, and the ratio (agentracer − none) / (OpenInference − none); target ≤ 0.5.

    .venv/bin/python bench/bench_overhead.py [--runs 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class NullExporter:
    def export(self, spans):  # noqa: D401 - the SpanExporter interface
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self):
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _provider():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(NullExporter(), max_queue_size=100_000))
    return tp


def _langgraph(mode: str, runs: int) -> dict:
    from agentracer.demo import DEMO_SCRIPT, build_demo_graph, demo_input

    script = {k: list(v) * (runs + 20) for k, v in DEMO_SCRIPT.items()}
    tp = _provider()
    if mode == "openinference":
        from openinference.instrumentation.langchain import LangChainInstrumentor

        LangChainInstrumentor().instrument(tracer_provider=tp)
    graph, _ = build_demo_graph(script)
    if mode == "agentracer":
        import agentracer

        agentracer.instrument(graph, tracer_provider=tp)
    for _ in range(10):
        graph.invoke(demo_input())
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        graph.invoke(demo_input())
        times.append(time.perf_counter() - t0)
    steps = 0
    if mode == "agentracer":
        import agentracer

        steps = len(agentracer.last_trace().agent_steps())
    tp.shutdown()
    return {"median_ms": statistics.median(times) * 1e3, "agent_steps": steps}


def _autogen(mode: str, runs: int) -> dict:
    import asyncio

    sys.path.insert(0, str(ROOT / "tests"))
    import _autogen_systems as S

    tp = _provider()
    if mode == "openinference":
        from openinference.instrumentation.autogen_agentchat import AutogenAgentChatInstrumentor

        AutogenAgentChatInstrumentor().instrument(tracer_provider=tp)
    steps = 0

    async def go() -> list[float]:
        nonlocal steps
        times = []
        for i in range(runs + 10):
            team = S.round_robin()
            if mode == "agentracer":
                import agentracer

                agentracer.instrument(team, tracer_provider=tp)
            t0 = time.perf_counter()
            await team.run(task=S.TASK)
            if i >= 10:
                times.append(time.perf_counter() - t0)
        if mode == "agentracer":
            import agentracer

            steps = len(agentracer.last_trace().agent_steps())
        return times

    times = asyncio.run(go())
    tp.shutdown()
    return {"median_ms": statistics.median(times) * 1e3, "agent_steps": steps}


def child(framework: str, mode: str, runs: int) -> None:
    import logging

    logging.disable(logging.WARNING)
    fn = _langgraph if framework == "langgraph" else _autogen
    print(json.dumps(fn(mode, runs)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", nargs=2)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.runs)
        return
    rows = []
    for fw in ("langgraph", "autogen"):
        res: dict[str, list[float]] = {"none": [], "openinference": [], "agentracer": []}
        steps = 0
        for _ in range(args.repeats):
            for mode in res:  # interleave modes so machine load hits all alike
                out = subprocess.run(
                    [sys.executable, __file__, "--runs", str(args.runs), "--child", fw, mode],
                    capture_output=True, text=True, check=True, cwd=ROOT,
                )
                r = json.loads(out.stdout.strip().splitlines()[-1])
                res[mode].append(r["median_ms"])
                steps = max(steps, r["agent_steps"])
        med = {m: statistics.median(v) for m, v in res.items()}
        oi = (med["openinference"] - med["none"]) / steps
        ours = (med["agentracer"] - med["none"]) / steps
        ratio = ours / oi if oi > 0 else float("nan")
        rows.append((fw, steps, med, oi, ours, ratio, res))
        print(fw, json.dumps(res), f"ratio={ratio:.2f}")
    machine = f"{platform.machine()}, Python {sys.version.split()[0]}, 2-core CPU, no GPU"
    cmd = f".venv/bin/python bench/bench_overhead.py --runs {args.runs} --repeats {args.repeats}"
    lines = [
        f"Overhead per agent step, agentracer vs OpenInference (median of {args.repeats} subprocesses × {args.runs} "
        f"runs each, offline fake LLMs; both export to a batch processor with a discarding exporter). "
        f"Command: `{cmd}`. Machine: {machine}.",
        "",
        "| framework / run | agent steps | none (ms/run) | OpenInference (ms/run) | agentracer (ms/run) | "
        "OpenInference overhead per step | agentracer overhead per step | (agentracer − none) / (OpenInference − none) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for fw, steps, med, oi, ours, ratio, _ in rows:
        name = "LangGraph planner→solver→verifier (fake chat model)" if fw == "langgraph" else \
            "AutoGen RoundRobinGroupChat, 3 agents + tool (ReplayChatCompletionClient)"
        lines.append(
            f"| {name} | {steps} | {med['none']:.2f} | {med['openinference']:.2f} | {med['agentracer']:.2f} | "
            f"{oi:.3f} ms | {ours:.3f} ms | **{ratio:.2f}** |"
        )
    out = ROOT / "bench" / "results" / "trust-overhead.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
