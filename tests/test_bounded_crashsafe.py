"""Bounded memory per step, and a process killed mid-run leaves a readable partial trace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

from agentracer import Recorder
from agentracer.formats import read


def test_memory_per_step_is_small_and_spill_keeps_sink_complete(tmp_path: Path) -> None:
    sink = tmp_path / "run.jsonl"
    rec = Recorder(sink=sink, max_steps_in_memory=50)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    with rec.run("t"):
        for i in range(1000):
            with rec.step(f"a{i % 4}") as h:
                rec.begin_llm("m", messages=["p" * 500]).end("r" * 2000)
                h.set(content="c" * 2000)
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    tr = rec.last_trace()
    assert len(tr.steps) == 2000
    assert sum(len(s.content) for s in tr.steps) <= 50 * 2000  # only the last 50 steps keep content
    assert used < 4 * 2_000_000  # < 2 MB per 1,000 steps although 4 MB of content went through
    (back,) = read(sink)
    assert len(back.steps) == 2000 and all(len(s.content) == 2000 for s in back.steps)


CHILD = r"""
import sys, time
from agentracer import Recorder
rec = Recorder(sink=sys.argv[1])
with rec.run("long task", run_id="killed"):
    for i in range(100000):
        with rec.step(f"agent{i % 3}") as h:
            h.set(content=f"step {i}")
        if i == 20:
            print("ready", flush=True)
        time.sleep(0.001)
"""


def test_killed_process_leaves_readable_partial_trace(tmp_path: Path) -> None:
    sink = tmp_path / "partial.jsonl"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(sink)], stdout=subprocess.PIPE, text=True, env=env)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    with open(sink, "a") as fh:  # and as if it died in the middle of a line
        fh.write('{"type": "step", "run_id": "killed", "st')
    (tr,) = read(sink)
    assert tr.run_id == "killed" and tr.metadata.get("partial") is True
    assert len(tr.steps) > 20
    assert [s.index for s in tr.steps] == list(range(len(tr.steps)))
    assert all(s.content == f"step {s.index}" for s in tr.steps)
