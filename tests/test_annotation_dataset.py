"""TracerTraj-style dataset: rows, dedup, split by task, save/load round trip, the card; replay verification."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from agentracer import AnnotatedTrace, Attribution
from agentracer.annotation.dataset import (
    annotated_from_row,
    build_dataset,
    dedup,
    load_dataset,
    split_by_task,
    to_row,
)
from agentracer.annotation.generate import GeneratedSystem, annotate_item
from agentracer.annotation.scale import plan_items
from agentracer.annotation.verify import verify_attribution


@pytest.fixture(scope="module")
def items() -> list[AnnotatedTrace]:
    out = []
    for it in plan_items(["python", "langgraph", "maas"], ["math", "code", "tools"], 4, size=8):
        res = annotate_item(it.framework, it.domain, it.seed, size=it.size, item_id=it.item_id)
        if res.annotated is not None:
            out.append(res.annotated)
    assert {a.source for a in out} == {"replay", "injection"}
    return out


def test_row_has_the_tracertraj_columns(items: list[AnnotatedTrace]) -> None:
    it = next(a for a in items if a.source == "injection")
    row = to_row(it)
    assert row["prompt"][0]["role"] == "system" and "Step " in row["prompt"][1]["content"]
    assert it.trace.ground_truth not in row["prompt"][1]["content"].split("## Agents")[0].split("## Task")[0]
    assert (row["agent"], row["step"], row["source"], row["fault_type"]) == (it.gold.agent, it.gold.step, "injection", it.fault_type)
    assert row["domain"] in ("math", "code", "tools") and row["framework"] == it.trace.framework
    assert row["task_id"] == it.trace.metadata["task_id"] and row["n_steps"] == len(it.trace.steps)
    assert annotated_from_row(row).to_dict() == it.to_dict()  # lossless


def test_dedup_and_split_by_task(items: list[AnnotatedTrace]) -> None:
    doubled = items + [copy.deepcopy(x) for x in items[:5]]
    assert len(dedup(doubled)) == len(items)
    sides = split_by_task([f"t{i}" for i in range(200)], 0.25)
    assert set(sides.values()) == {"train", "test"} and 25 <= sum(v == "test" for v in sides.values()) <= 75
    assert split_by_task(["t1"], 0.25) == split_by_task(["t1"], 0.25)


def test_save_load_round_trip_and_card(tmp_path: Path, items: list[AnnotatedTrace]) -> None:
    out = tmp_path / "ds"
    info = build_dataset(items + items[:3], out, test_fraction=0.3, notes="built by the test")
    assert info["rows"] == len(items) and info["duplicates_dropped"] == 3
    ds = load_dataset(out)
    assert set(ds) == set(info["splits"]) and sum(len(ds[k]) for k in ds) == len(items)
    train_tasks = set(ds["train"]["task_id"])
    test_tasks = set(ds["test"]["task_id"]) if "test" in ds else set()
    assert not train_tasks & test_tasks  # the same task never on both sides
    back = sorted((annotated_from_row(r) for k in ds for r in ds[k]), key=lambda a: a.trace.run_id)
    want = sorted(items, key=lambda a: a.trace.run_id)
    assert [b.to_dict() for b in back] == [w.to_dict() for w in want]
    # parquet copies load on their own, and the card counts what is there
    import datasets

    pq = datasets.load_dataset("parquet", data_files={"train": str(out / "data" / "train.parquet")})["train"]
    assert len(pq) == len(ds["train"]) and pq[0]["prompt"] == ds["train"][0]["prompt"]
    card = (out / "README.md").read_text()
    assert card.startswith("---\nconfigs:") and f"Rows: **{len(items)}**" in card
    for fw in ("python", "langgraph", "maas"):
        n = sum(1 for a in items if a.trace.framework == fw)
        assert f"| {fw} | {n} |" in card
    assert "## By domain" in card and "## By source" in card and "built by the test" in card
    # what `agentracer train` reads: a saved DatasetDict folder
    from agentracer.training.data import load_source

    assert len(load_source(str(out))) == len(ds["train"])


def test_verify_confirms_a_right_prediction_and_refutes_a_wrong_one() -> None:
    system = GeneratedSystem.create("python", "tools", 11, size=11, fault_plan={4: "wrong_handoff"})
    trace = system.record()
    assert trace.outcome == "failure"
    right = trace.agent_steps()[4]
    assert right.agent == "Router"
    ok = verify_attribution(trace, Attribution(agent=right.agent, step=right.index))
    assert ok.metadata["verified"] is True and ok.metadata["verification"]["status"] == "confirmed"
    # a nested step is lifted to its agent step
    child = next(s for s in trace.steps if s.parent == right.index)
    assert verify_attribution(trace, Attribution(agent="Router", step=child.index)).metadata["verified"] is True
    wrong = trace.agent_steps()[1]
    bad = verify_attribution(trace, Attribution(agent=wrong.agent, step=wrong.index))
    assert bad.metadata["verified"] is False and bad.metadata["verification"]["decisive_step"] == right.index
    later = trace.agent_steps()[-1]
    late = verify_attribution(trace, Attribution(agent=later.agent, step=later.index))
    assert late.metadata["verified"] is False
    # not runnable: said so, never guessed
    foreign = copy.deepcopy(trace)
    foreign.metadata.clear()
    un = verify_attribution(foreign, Attribution(agent="Router", step=right.index))
    assert un.metadata["verified"] is None and un.metadata["verification"]["status"] == "unverifiable"
