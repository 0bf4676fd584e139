"""Annotation at scale: resume after a kill (no duplicates, nothing lost) and replays as local Ray tasks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from agentracer.annotation.scale import Ledger, plan_items, run_items
from agentracer.formats import read


def _lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for ln in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(ln))
        except ValueError:
            pass
    return out


def test_resume_after_kill_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [sys.executable, "-m", "agentracer.annotation.scale", str(out), "python", "math,tools", "30", "30"]
    planned = {i.item_id for i in plan_items(["python"], ["math", "tools"], 30, size=30)}
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 60
    while time.time() < deadline and len(_lines(out / "ledger.jsonl")) < 5 and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = _lines(out / "ledger.jsonl")
    assert 5 <= len(first) < len(planned), "the run should have been killed part-way"
    # a crash in the middle of a write: a torn last line in both files
    with (out / "annotations.jsonl").open("a") as f:
        f.write('{"type": "trace", "run_id": "torn", "steps": [')
    with (out / "ledger.jsonl").open("a") as f:
        f.write('{"item_id": "python:math:9')
    done_before = Ledger(out).done()
    assert {e["item_id"] for e in first} <= done_before
    # restart: the same command finishes the rest
    res = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["skipped_done"] == len(done_before) and summary["ran"] == len(planned) - len(done_before)
    ledger = _lines(out / "ledger.jsonl")
    ids = Counter(e["item_id"] for e in ledger)
    assert set(ids) == planned and max(ids.values()) == 1  # every item once
    anns = read(out / "annotations.jsonl")  # valid JSONL: the torn line was cut before appending
    ann_ids = Counter(a.metadata["item_id"] for a in anns)
    assert max(ann_ids.values()) == 1
    assert set(ann_ids) == {e["item_id"] for e in ledger if e["labelled"]}
    assert len(anns) >= 0.7 * len(planned)


def test_serial_and_local_ray_give_the_same_labels(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    import ray
    from agentracer.annotation.generate import GeneratedSystem
    from agentracer.annotation.replay import find_decisive
    from agentracer.annotation.scale import linear_parallel

    items = plan_items(["python", "langgraph"], ["math", "code"], 2, size=8)
    serial = run_items(items, tmp_path / "serial")
    try:
        on_ray = run_items(items, tmp_path / "ray", ray=True, num_cpus=2)
        assert on_ray["ran"] == serial["ran"] == len(items)

        def labels(p: Path) -> dict:
            return {a.metadata["item_id"]: (a.source, a.gold.agent, a.gold.step, a.fault_type)
                    for a in Ledger(p).read_annotations()}

        assert labels(tmp_path / "ray") == labels(tmp_path / "serial") and labels(tmp_path / "serial")
        # one trace's linear scan, its replays spread over Ray tasks: the same step as the serial scan
        system = GeneratedSystem.create("python", "math", 5, size=16, fault_plan={6: "off_by_one"})
        trace = system.record()
        want = find_decisive(trace, system, system.oracle(), strategy="linear")
        got = linear_parallel(trace, num_cpus=2)
        assert got["step"] == want.step and got["replays"] >= want.replays
    finally:
        ray.shutdown()


def test_restart_heals_a_ledger_line_lost_after_its_annotation(tmp_path: Path) -> None:
    """A crash between the annotation append and the ledger append: the restart writes the ledger line."""
    items = plan_items(["python"], ["math"], 3, size=8)
    out = tmp_path / "run"
    run_items(items, out)
    lines = (out / "ledger.jsonl").read_text().splitlines(keepends=True)
    labelled = [json.loads(x) for x in lines if json.loads(x)["labelled"]]
    assert labelled, "need a labelled item to lose"
    lost = labelled[-1]["item_id"]
    (out / "ledger.jsonl").write_text("".join(x for x in lines if json.loads(x)["item_id"] != lost))
    summary = run_items(items, out)
    assert summary["ran"] == 0
    ids = Counter(e["item_id"] for e in _lines(out / "ledger.jsonl"))
    assert set(ids) == {i.item_id for i in items} and max(ids.values()) == 1
    healed = [e for e in _lines(out / "ledger.jsonl") if e.get("healed")]
    assert [e["item_id"] for e in healed] == [lost] and healed[0]["labelled"] is True
