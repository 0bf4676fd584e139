"""Long traces: time and peak memory (max RSS) of `import`, `show`, `attribute` and `report` (and the report's
size) on one streamed run of 1k / 10k / 100k steps (the JSONL a JsonlSink writes live: run_start, one line per
step, run_end).

    python bench/bench_long_traces.py [--sizes 1000,10000,100000] [--out bench/out/long] [--repeat 1]

Each command runs in a fresh process (the `agentracer` CLI through `python -m agentracer.cli`, so every figure
includes the interpreter's start and the CLI's imports); CPU is that process's user + system time, and peak
memory its max RSS (both from os.wait4). CPU time varies much less with the machine's load than wall time.
With --repeat N each command runs N times and the fastest run is kept. The 1-minute load average is printed
beside every row: figures are noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

AGENTS = ("planner", "researcher", "coder", "reviewer")


def write_streamed_run(path: Path, n_steps: int) -> Path:
    """One failed run of ``n_steps`` steps: agent steps, each followed by an LLM call child (and every
    third by a tool call), with ~300 characters of content each."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rid = f"long-{n_steps}"
    filler = "lorem ipsum dolor sit amet " * 10
    with path.open("w", encoding="utf-8") as f:
        f.write(json.dumps({"type": "run_start", "run_id": rid, "task": "a long task", "framework": "langgraph",
                            "agents": list(AGENTS)}) + "\n")
        i = 0
        parent = None
        while i < n_steps:
            r = i % 5
            if r == 0 or parent is None:
                step = {"index": i, "agent": AGENTS[(i // 5) % len(AGENTS)], "kind": "agent_message",
                        "content": f"step {i}: {filler}"}
                parent = i
            elif r == 3:
                step = {"index": i, "agent": AGENTS[(parent // 5) % len(AGENTS)], "kind": "tool_call", "role": "tool",
                        "tool_name": "lookup", "tool_args": {"q": i}, "content": f"result {i}", "parent": parent}
            else:
                step = {"index": i, "agent": AGENTS[(parent // 5) % len(AGENTS)], "kind": "llm_call",
                        "content": f"llm {i}: {filler}", "parent": parent}
            f.write(json.dumps({"type": "step", "run_id": rid, "step": step}) + "\n")
            i += 1
        f.write(json.dumps({"type": "run_end", "run_id": rid, "outcome": "failure", "final_answer": "41"}) + "\n")
    return path


def measure(args: list[str]) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds (user + system), peak MB, exit code) of one CLI run in a fresh process."""
    env = dict(os.environ)
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "agentracer.cli", *args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    return dt, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--out", type=Path, default=Path("bench/out/long"))
    ap.add_argument("--repeat", type=int, default=1, help="Runs per command; the fastest is kept.")
    a = ap.parse_args()
    rows = []
    for n in (int(x) for x in a.sizes.split(",")):
        src = write_streamed_run(a.out / f"run-{n}.jsonl", n)
        mb = src.stat().st_size / 1e6
        for name, cmd in (
            ("import", ["import", str(src), "-o", str(a.out / f"imported-{n}.jsonl")]),
            ("show (first page)", ["show", str(src)]),
            ("attribute", ["attribute", str(src), "--method", "embedded"]),
            ("report", ["report", str(src), "-o", str(a.out / f"report-{n}.html")]),
        ):
            load = os.getloadavg()[0]
            dt, cpu, peak, rc = min(measure(cmd) for _ in range(a.repeat))
            extra = ""
            if name == "report" and rc == 0:
                extra = f"{(a.out / f'report-{n}.html').stat().st_size / 1e6:.2f} MB html"
            rows.append((n, f"{mb:.1f}", name, f"{dt:.2f}", f"{cpu:.2f}", f"{peak:.0f}", rc, f"{load:.1f}", extra))
            print(*rows[-1], sep=" | ", flush=True)
    print("\n| steps | file MB | command | wall s | CPU s | peak MB | exit | load (1 min) | note |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(x) for x in r) + " |")


if __name__ == "__main__":
    main()
