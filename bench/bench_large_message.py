"""Time a run pays for one very large message (issue 19): a run of one agent step whose LLM call gets a
prompt of SIZE bytes and answers SIZE bytes, recorded with the default redaction and a JSONL sink, against the
same run with a 100-byte message. Reports the median added time and which part of it is redaction.

    .venv/bin/python bench/bench_large_message.py [--mb 5] [--repeat 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from agentracer import Recorder
from agentracer.recording.redact import redact


def text(n: int) -> str:
    """``n`` characters of prose-like text with an e-mail address and a number every ~1 KB (redaction work)."""
    chunk = ("The planner asked the solver to check the invoice totals for march and april. " * 12)[:950]
    chunk += " contact bob@example.com, card 4111 1111 1111 1111. "
    return (chunk * (n // len(chunk) + 1))[:n]


def one_run(rec: Recorder, body: str) -> float:
    t0 = time.perf_counter()
    with rec.run("task"), rec.step("agent", input=body) as h:
        rec.begin_llm("m", messages=[{"role": "user", "content": body}]).end(body)
        h.set(content=body)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    big, small = text(int(args.mb * 1_000_000)), text(100)
    with tempfile.TemporaryDirectory() as d:
        rec = Recorder(sink=Path(d) / "s.jsonl")
        one_run(rec, small)
        t_small = statistics.median(one_run(rec, small) for _ in range(args.repeat))
        t_big = statistics.median(one_run(rec, big) for _ in range(args.repeat))
    t_red = statistics.median(_time(redact, big) for _ in range(args.repeat))
    machine = f"{platform.machine()} Python {sys.version.split()[0]}, 2-core shared CPU"
    print(f"{args.mb:g} MB message (input, prompt, output and content: 4 copies of it) on {machine}:")
    print(f"  run with a 100-byte message: {t_small * 1000:.2f} ms; with the {args.mb:g} MB message: "
          f"{t_big * 1000:.1f} ms; added {1000 * (t_big - t_small):.1f} ms")
    print(f"  one redact() of the message: {t_red * 1000:.1f} ms (x4 per run)")


def _time(fn, arg) -> float:
    t0 = time.perf_counter()
    fn(arg)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
