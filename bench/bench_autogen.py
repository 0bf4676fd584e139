"""Overhead of recording an AutoGen AgentChat team, and cost of a fork, on scripted (offline) clients.

Runs the 3-turn RoundRobinGroupChat of the AutoGen tests (planner → coder with a tool call → reviewer,
4 LLM calls) N times plain and N times instrumented, in one event loop, and reports the median wall
time per run; then times forks at the coder's step (prefix replayed from the recording).

    .venv/bin/python bench/bench_autogen.py [N]
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import _autogen_systems as S  # noqa: E402
import agentracer  # noqa: E402
from agentracer import Recorder  # noqa: E402


async def _time_runs(n: int) -> tuple[list[float], list[float]]:
    """Plain and instrumented runs, interleaved (so that load on the machine hits both alike)."""
    plain: list[float] = []
    traced: list[float] = []
    for i in range(2 * n):
        team = S.round_robin()
        if i % 2:
            agentracer.instrument(team, recorder=Recorder())
        t0 = time.perf_counter()
        await team.run(task=S.TASK)
        (traced if i % 2 else plain).append(time.perf_counter() - t0)
    return plain, traced


def main(n: int = 50) -> None:
    logging.getLogger("autogen_core").setLevel(logging.ERROR)
    asyncio.run(_time_runs(3))  # warm up imports
    plain, traced = asyncio.run(_time_runs(n))
    rec = Recorder()
    team = S.round_robin()
    agentracer.instrument(team, recorder=rec)
    asyncio.run(team.run(task=S.TASK))
    tr = rec.last_trace()
    k = tr.agent_steps()[1].index
    forks = []
    for _ in range(max(5, n // 5)):
        fork = agentracer.fork(lambda: S.round_robin(planner=(), coder=(), reviewer=("ok",)), tr, k, "The result is 51.")
        t0 = time.perf_counter()
        _, ft = fork()
        forks.append(time.perf_counter() - t0)
        assert ft.metadata["fork"]["prefix_live"] == 0
    mp, mt, mf = (statistics.median(x) * 1000 for x in (plain, traced, forks))
    print(f"runs: {n} plain, {n} instrumented (3 agent turns, 4 LLM calls, 1 tool call each)")
    print(f"median plain run        {mp:7.2f} ms")
    print(f"median instrumented run {mt:7.2f} ms  (+{mt - mp:.2f} ms, +{(mt - mp) / 3:.2f} ms per agent turn)")
    print(f"median fork at step {k}    {mf:7.2f} ms  (prefix replayed, 2 fresh teams, save/patch/load state)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
