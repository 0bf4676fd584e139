"""`agentracer eval`: floors, JSON, cross-validation without leaks, exact vs lenient, --train, attribute parity."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from agentracer import AnnotatedTrace, Attribution, Step, Trace
from agentracer.attribution.base import FirstSpeaker
from agentracer.cli import app
from agentracer.evaluation import (
    EvalItem,
    cross_validate,
    evaluate,
    fold_assignment,
    lenient_step_match,
    load_items,
    score,
)
from agentracer.formats import write
from typer.testing import CliRunner

runner = CliRunner()


@pytest.fixture()
def small_set(tmp_path: Path, whowhen_dir: Path) -> Path:
    """Twelve Who&When files in a folder of their own."""
    d = tmp_path / "ww"
    d.mkdir()
    for f in sorted(whowhen_dir.glob("*.json"), key=lambda p: int(p.stem))[:12]:
        shutil.copy(f, d / f.name)
    return d


class Spy:
    """A trainable attributor that records what it was trained on and what it attributed."""

    name = "spy"
    log: list[dict[str, set[str]]] = []

    def __init__(self, trained: set[str] | None = None) -> None:
        self.trained = trained or set()

    def fit(self, items: list[AnnotatedTrace]) -> Spy:
        model = Spy({it.trace.run_id for it in items})
        Spy.log.append({"train": model.trained, "test": set()})
        return model

    def attribute(self, trace: Trace, ground_truth: str | None = None) -> Attribution:
        assert trace.run_id not in self.trained, "a test trace was in the training folds"
        Spy.log[-1]["test"].add(trace.run_id)
        s = trace.agent_steps()[0]
        return Attribution(agent=s.agent, step=s.index)


def _items(n: int, files: int | None = None) -> list[EvalItem]:
    out = []
    for k in range(n):
        t = Trace(run_id=f"r{k}")
        t.add_step(Step(index=0, agent="a", content="x"))
        t.add_step(Step(index=0, agent="b", content="y"))
        out.append(EvalItem(AnnotatedTrace(t, Attribution("a", 0)), file=f"f{k % (files or n)}.json"))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cv_never_leaks_test_files_into_training(seed: int) -> None:
    Spy.log.clear()
    items = _items(23, files=11)  # several traces per file: folds must split by file
    preds, fold_of, sizes = cross_validate(Spy, items, folds=5, seed=seed, with_gt=False)
    assert len(preds) == len(items) and len(Spy.log) == 5
    assert all(p.parsed for p in preds), [p.reason for p in preds if not p.parsed]
    file_of = {e.item.trace.run_id: e.file for e in items}
    tested: set[str] = set()
    for rec in Spy.log:
        assert rec["train"].isdisjoint(rec["test"])
        assert {file_of[r] for r in rec["train"]}.isdisjoint({file_of[r] for r in rec["test"]})
        assert rec["train"] | rec["test"] == set(file_of)
        tested |= rec["test"]
    assert tested == set(file_of)
    assert sizes == [len(rec["train"]) for rec in Spy.log]
    # the same file always lands in the same fold
    for e, f in zip(items, fold_of, strict=True):
        assert fold_assignment(items, 5, seed)[e.file] == f


def test_seeds_reshuffle_folds_and_report_spread() -> None:
    Spy.log.clear()
    items = _items(20)
    assert fold_assignment(items, 5, 0) != fold_assignment(items, 5, 1)
    rep = evaluate(items, "spy", factory=Spy, folds=5, seeds=3)
    assert len(Spy.log) == 15 and len(rep["fold_results"]) == 15
    assert rep["agent_accuracy"] == 1.0 and rep["step_accuracy"] == 1.0
    assert rep["step_accuracy_fold_std"] == 0.0 and rep["step_ci95"] == [1.0, 1.0]
    assert rep["protocol"].startswith("5-fold cross-validation by file x 3 seed")


def test_exact_vs_lenient_scoring() -> None:
    assert lenient_step_match(12, 1) and lenient_step_match(12, 2) and lenient_step_match(3, 3)
    assert not lenient_step_match(12, 3) and not lenient_step_match(None, 1) and not lenient_step_match(1, None)
    gold = Attribution("Coder_Expert", 1)
    s = score(Attribution("coder expert", 12), gold)
    assert s == {"agent": True, "step": False, "step_lenient": True}

    class Twelve:
        name = "twelve"

        def attribute(self, trace: Trace, ground_truth: str | None = None) -> Attribution:
            return Attribution(agent="nobody", step=12)

    items = []
    for k, g in enumerate((1, 2, 3)):
        t = Trace(run_id=f"r{k}")
        for _ in range(13):
            t.add_step(Step(index=0, agent="a"))
        items.append(EvalItem(AnnotatedTrace(t, Attribution("a", g)), file=f"{k}.json"))
    rep = evaluate(items, Twelve())
    assert rep["step_accuracy"] == 0.0 and rep["agent_accuracy"] == 0.0
    assert rep["step_accuracy_lenient"] == pytest.approx(2 / 3)
    assert rep["floors"]["random"]["step_accuracy"] == pytest.approx(1 / 13)


def test_eval_cli_prints_floors_and_writes_json(small_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    r = runner.invoke(app, ["eval", str(small_set), "--method", "embedded", "--folds", "3", "--json", str(out)])
    assert r.exit_code == 0, r.output
    for label in ("floor: random", "floor: first speaker", "floor: always step 1", "lenient", "95% CI", "3-fold"):
        assert label in r.output
    rep = json.loads(out.read_text())
    assert rep["n"] == 12 and rep["learns"] is True
    for key in ("agent_accuracy", "step_accuracy"):
        assert 0.0 <= rep[key] <= 1.0
    assert set(rep["floors"]) == {"random", "first-speaker", "step-one"}
    assert len(rep["predictions"]) == 12 and len(rep["fold_results"]) == 3
    p0 = rep["predictions"][0]
    assert {"file", "run_id", "gold", "agent", "step", "agent_correct", "step_correct", "fold"} <= set(p0)
    assert "level" in rep["per_subset"]
    acc = sum(p["step_correct"] for p in rep["predictions"]) / 12
    assert rep["step_accuracy"] == pytest.approx(acc)
    fs = sum(FirstSpeaker().attribute(it.item.trace).matches(it.item.gold)[0] for it in load_items(small_set)[0])
    assert rep["floors"]["first-speaker"]["agent_accuracy"] == pytest.approx(fs / 12)


def test_attribute_agrees_with_eval_for_one_file(small_set: Path, tmp_path: Path) -> None:
    f = sorted(small_set.glob("*.json"))[3]
    for extra in ([], ["--with-gt"]):
        out = tmp_path / "one.json"
        r = runner.invoke(app, ["eval", str(f), "--folds", "0", "--json", str(out), *extra])
        assert r.exit_code == 0, r.output
        pred = json.loads(out.read_text())["predictions"][0]
        r2 = runner.invoke(app, ["attribute", str(f), "--json", *extra])
        assert r2.exit_code == 0, r2.output
        att = json.loads(r2.output)[0]
        assert (att["agent"], att["step"]) == (pred["agent"], pred["step"])


def _synthetic_set(path: Path, n: int, seed: int) -> Path:
    """Annotated traces made here (JSONL): the decisive step is the code whose execution fails."""
    rng = random.Random(seed)
    items = []
    for k in range(n):
        t = Trace(run_id=f"gen-{seed}-{k}", task="Compute.", framework="synthetic", outcome="failure")
        t.add_step(Step(index=0, agent="Planner", content="Plan: code it, then verify."))
        bad = rng.randrange(2)
        gold = None
        for r in range(2):
            ok = r != bad
            c = t.add_step(Step(index=0, agent=rng.choice(["Coder", "Analyst"]), content="```python\nrun()\n```"))
            t.add_step(
                Step(
                    index=0,
                    agent="Computer_terminal",
                    content="exitcode: 0 (execution succeeded)\n7" if ok else "exitcode: 1 (execution failed)",
                )
            )
            if not ok:
                gold = Attribution(c.agent, c.index)
        t.add_step(Step(index=0, agent="Verifier", content="TERMINATE"))
        items.append(AnnotatedTrace(t, gold, source="injection", fault_type=rng.choice(["crash", "typo"])))
    return write(items, path)


def test_train_on_other_sets_both_ways(small_set: Path, tmp_path: Path) -> None:
    gen = _synthetic_set(tmp_path / "gen" / "set.jsonl", 30, 0)
    gen_test = _synthetic_set(tmp_path / "gen2" / "set.jsonl", 12, 1)
    # Who&When split -> Who&When rest, and Who&When -> generated, and generated -> generated
    files = sorted(small_set.glob("*.json"))
    train_dir = tmp_path / "train"
    train_dir.mkdir()
    for f in files[:8]:
        shutil.copy(f, train_dir / f.name)
    test_dir = tmp_path / "test"
    test_dir.mkdir()
    for f in files[8:]:
        shutil.copy(f, test_dir / f.name)
    out = tmp_path / "o.json"
    r = runner.invoke(app, ["eval", str(test_dir), "--train", str(train_dir), "--json", str(out)])
    assert r.exit_code == 0, r.output
    rep = json.loads(out.read_text())
    assert rep["n"] == 4 and rep["protocol"].startswith("trained on 8 traces")
    r = runner.invoke(app, ["eval", str(gen_test.parent), "--train", str(train_dir), "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert "fault_type" in json.loads(out.read_text())["per_subset"]
    r = runner.invoke(app, ["eval", str(gen_test.parent), "--train", str(gen.parent), "--json", str(out)])
    assert r.exit_code == 0, r.output
    rep = json.loads(out.read_text())
    assert rep["step_accuracy"] >= 0.9  # the pattern is learnable and the sets are disjoint
    r = runner.invoke(app, ["eval", str(test_dir), "--train", str(gen.parent), "--json", str(out)])
    assert r.exit_code == 0, r.output


def test_train_removes_overlap_with_scored_set(small_set: Path) -> None:
    items, _ = load_items(small_set)
    rep = evaluate(items[:6], "embedded", train=items)  # the scored files are also in the training set
    assert rep["train_overlap_removed"] == 6 and rep["protocol"].startswith("trained on 6 traces")


def test_eval_errors_are_one_line(tmp_path: Path, small_set: Path) -> None:
    r = runner.invoke(app, ["eval", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "no such file" in r.output
    empty = tmp_path / "empty"
    empty.mkdir()
    r = runner.invoke(app, ["eval", str(empty)])
    assert r.exit_code == 2 and "no annotated trace" in r.output
    r = runner.invoke(app, ["eval", str(small_set), "--method", "first-speaker", "--train", str(small_set)])
    assert r.exit_code == 2 and "does not learn" in r.output
    r = runner.invoke(app, ["eval", str(small_set), "--method", "no-such-method"])
    assert r.exit_code == 2 and "unknown attribution method" in r.output


def test_floor_method_needs_no_cv(small_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "fs.json"
    r = runner.invoke(app, ["eval", str(small_set), "--method", "first-speaker", "--json", str(out)])
    assert r.exit_code == 0, r.output
    rep = json.loads(out.read_text())
    assert rep["learns"] is False and rep["protocol"].startswith("no training")
    assert rep["agent_accuracy"] == pytest.approx(rep["floors"]["first-speaker"]["agent_accuracy"])


def test_one_file_of_many_traces_is_split_by_trace(tmp_path: Path) -> None:
    Spy.log.clear()
    gen = _synthetic_set(tmp_path / "g" / "set.jsonl", 15, 3)
    (tmp_path / "g" / "ledger.jsonl").write_text('{"item_id": "x", "status": "replay"}\n')  # not a trace: skipped
    items, warns = load_items(gen.parent)
    assert len(items) == 15 and any("ledger.jsonl: not a trace file" in w for w in warns)
    rep = evaluate(items, "spy", factory=Spy, folds=5, seeds=1)
    assert rep["protocol"].startswith("5-fold cross-validation by trace")
    assert len(Spy.log) == 5
    for rec in Spy.log:
        assert rec["train"].isdisjoint(rec["test"]) and len(rec["test"]) == 3


def test_method_is_resolved_once(small_set: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`evaluate` and `agentracer eval` resolve a method name once, whatever the folds and seeds."""
    from agentracer.attribution import base

    made: list[Spy] = []

    def spy_method(**_: object) -> Spy:
        made.append(Spy())
        return made[-1]

    monkeypatch.setitem(base._REGISTRY, "spy-once", spy_method)
    Spy.log.clear()
    rep = evaluate(_items(20), "spy-once", folds=5, seeds=2)
    assert len(made) == 1 and len(Spy.log) == 10 and rep["method"] == "spy-once"
    made.clear()
    r = runner.invoke(app, ["eval", str(small_set), "--method", "spy-once", "--folds", "3", "--seeds", "2"])
    assert r.exit_code == 0, r.output
    assert len(made) == 1


def test_test_option_is_the_scored_set(small_set: Path, tmp_path: Path) -> None:
    gen = _synthetic_set(tmp_path / "gen" / "set.jsonl", 20, 0)
    out = tmp_path / "o.json"
    r = runner.invoke(app, ["eval", "--train", str(gen.parent), "--test", str(small_set), "--json", str(out)])
    assert r.exit_code == 0, r.output
    rep = json.loads(out.read_text())
    assert rep["n"] == 12 and rep["protocol"].startswith("trained on 20 traces")
    r = runner.invoke(app, ["eval"])
    assert r.exit_code == 2 and "give one set to score" in r.output


def test_leave_one_out_matrix_with_floors_and_calibration(small_set: Path, tmp_path: Path) -> None:
    a = _synthetic_set(tmp_path / "sys_a" / "annotations.jsonl", 24, 0)
    b = _synthetic_set(tmp_path / "sys_b" / "annotations.jsonl", 16, 1)
    out, cal = tmp_path / "loo.json", tmp_path / "cal.json"
    r = runner.invoke(app, ["eval", "--leave-one-out", str(small_set), str(a), str(b), "--json", str(out),
                            "--calibrate-out", str(cal)])
    assert r.exit_code == 0, r.output
    assert "leave one system out" in r.output and "mean over systems" in r.output and "reliability" in r.output
    rep = json.loads(out.read_text())
    names = [c["source"] for c in rep["cells"]]
    assert names == ["ww", "sys_a", "sys_b"]
    for c in rep["cells"]:
        others = sum(x["n"] for x in rep["cells"] if x is not c)
        assert c["train_n"] == others  # trained on every other source, none of its own
        assert set(c["floors"]) == {"random", "first-speaker", "step-one"}
        assert c["best_floor_step"] == max(f["step"] for f in c["floors"].values())
        assert c["top3"] >= c["step"]  # the answer is among its own candidates
        assert 0 <= c["ece_raw"] <= 1 and 0 <= c["ece_calibrated"] <= 1
    # the synthetic systems share one learnable pattern: each is found when trained on the other (+ Who&When)
    assert rep["cells"][1]["step"] >= 0.9 and rep["cells"][2]["step"] >= 0.9
    assert rep["mean_step"] == pytest.approx(sum(c["step"] for c in rep["cells"]) / 3)
    doc = json.loads(cal.read_text())
    assert {"a", "b", "distance_limit"} <= set(doc) and doc["n"] == 12 + 24 + 16
    r = runner.invoke(app, ["eval", "--leave-one-out", str(a)])
    assert r.exit_code == 2 and "at least 2" in r.output


def _recorded_item(k: int) -> AnnotatedTrace:
    """A recorded run: the searcher's call nests a tool result, the writer misreads it (gold: step 3)."""
    t = Trace(run_id=f"rec-{k}", task="How tall is Mount Quinis?", framework="langgraph", outcome="failure")
    t.add_step(Step(index=0, agent="lead", content="Plan: the searcher looks it up, the writer answers."))
    s = t.add_step(Step(index=0, agent="searcher", content="Searching."))
    t.add_step(Step(index=0, agent="searcher", kind="tool_call", role="tool", parent=s.index, tool_name="search",
                    tool_args={"q": "Mount Quinis"}, tool_result="Mount Quinis: 4,812 m"))
    t.add_step(Step(index=0, agent="writer", content="The page says Mount Quinis is 4,218 m tall."))
    t.metadata["agentracer.generated"] = {"domain": "web", "system": "pair"}
    return AnnotatedTrace(t, Attribution("writer", 3, reason="misread"), source="injection",
                          fault_type="fabricated_fact")


def test_as_transcript_folds_tool_results_and_moves_the_gold_step() -> None:
    from agentracer.attribution.listwise import source_of
    from agentracer.formats.whowhen import as_transcript, profile_is_transcript

    item = _recorded_item(0)
    seen = as_transcript(item)
    t = seen.trace
    assert profile_is_transcript(t) and t.metadata["transcript_of"] == "langgraph"
    assert [s.agent for s in t.steps] == ["lead", "searcher", "writer"]  # one message per agent step
    assert "4,812 m" in t.steps[1].content and t.steps[1].content.startswith("Searching.")
    assert seen.gold.agent == "writer" and seen.gold.step == 2  # step 3 of the recording is message 2
    assert (seen.source, seen.fault_type, seen.gold.reason) == ("injection", "fabricated_fact", "misread")
    assert source_of(seen) == source_of(item) == "generated:langgraph:pair"  # still its own source
    assert t.outcome == "failure" and t.task == item.trace.task
    assert as_transcript(seen) is seen  # a transcript is left as it is
    assert item.trace.steps[2].parent == 1  # the recording is not changed


def test_leave_one_out_matched_views_train_transcript_cells_on_transcripts(small_set: Path) -> None:
    """With views matched, the cell that scores Who&When (transcripts) is trained on the recorded source seen as
    transcripts; the cell that scores the recorded source is trained on Who&When as it is. With views as-is,
    every cell is trained on the sources as loaded."""
    from agentracer.evaluation.crosssys import leave_one_out

    ww, _ = load_items(small_set)
    rec = [EvalItem(_recorded_item(k), file=f"rec{k}.json") for k in range(6)]
    seen: list[set[str]] = []

    class Frameworks(Spy):
        def fit(self, items: list[AnnotatedTrace]) -> Spy:
            seen.append({it.trace.framework for it in items})
            return Spy()

    leave_one_out([("ww", ww), ("rec", rec)], "spy", factory=Frameworks)
    assert seen == [{"whowhen"}, {"whowhen"}]  # ww's cell: rec as transcripts; rec's cell: ww as it is
    seen.clear()
    leave_one_out([("ww", ww), ("rec", rec)], "spy", factory=Frameworks, views="as-is")
    assert seen == [{"langgraph"}, {"whowhen"}]
    with pytest.raises(ValueError, match="views"):
        leave_one_out([("ww", ww), ("rec", rec)], "spy", factory=Frameworks, views="both")
