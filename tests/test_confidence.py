"""No confident wrong answers: successful and one-step runs, the top-3 candidates, the low-confidence note,
the calibration maths, and the `attribute` exit codes."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import agentracer
import pytest
from agentracer import AnnotatedTrace, Attribution, Step, Trace
from agentracer.attribution.confidence import (
    LOW_CONFIDENCE,
    assess,
    calibrate,
    feature_distance,
    low_confidence_note,
    outcome_guard,
)
from agentracer.attribution.embedded import ONE_STEP_CAP, EmbeddedAttributor
from agentracer.cli import EXIT_SUCCESS_RUN, app
from agentracer.evaluation.calibration import apply_platt, ece, fit_platt, reliability
from agentracer.formats import write
from typer.testing import CliRunner

runner = CliRunner()


def team_trace(outcome: str = "failure") -> Trace:
    t = Trace(run_id=f"team-{outcome}", task="What is 17 * 23?", framework="langgraph", outcome=outcome)
    t.add_step(Step(index=0, agent="planner", content="Plan: the coder multiplies 17 by 23, the verifier checks."))
    t.add_step(Step(index=0, agent="coder", content="```python\nprint(17 * 32)\n```"))
    t.add_step(Step(index=0, agent="executor", content="exitcode: 0 (execution succeeded)\n544"))
    t.add_step(Step(index=0, agent="verifier", content="I agree, the result 544 is correct. Final answer: 544"))
    t.final_answer = "544"
    return t


def test_a_successful_run_is_not_blamed_by_the_api() -> None:
    att = agentracer.attribute(team_trace("success"))
    assert att.agent is None and att.step is None and att.confidence == 0.0
    assert att.metadata["abstained"] == "success" and att.low_confidence
    assert "succeeded" in att.reason
    forced = agentracer.attribute(team_trace("success"), force=True)
    assert forced.agent is not None and forced.step is not None


def test_an_unknown_outcome_warns_in_one_line() -> None:
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        att = agentracer.attribute(team_trace("unknown"))
    msgs = [str(w.message) for w in got if issubclass(w.category, UserWarning)]
    assert len(msgs) == 1 and "outcome unknown" in msgs[0] and "\n" not in msgs[0]
    assert att.agent is not None
    assert outcome_guard(team_trace("failure")) is None


def test_a_one_step_trace_gets_no_confident_blame() -> None:
    t = Trace(run_id="one", task="Say hi.", framework="langgraph", outcome="failure")
    t.add_step(Step(index=0, agent="solo", content="```python\nprint('bye')\n```"))
    att = EmbeddedAttributor().attribute(t)
    assert att.step == 0 and att.confidence is not None and att.confidence <= ONE_STEP_CAP < LOW_CONFIDENCE
    assert att.low_confidence and "one step" in att.metadata["note"]
    assert att.candidates == [{"step": 0, "agent": "solo", "probability": 1.0}]


def test_top3_candidates_with_probabilities_and_round_trip() -> None:
    att = EmbeddedAttributor().attribute(team_trace())
    assert 1 <= len(att.candidates) <= 3
    probs = [c["probability"] for c in att.candidates]
    assert probs == sorted(probs, reverse=True) and all(0 <= p <= 1 for p in probs)
    assert att.candidates[0]["step"] in {s.index for s in team_trace().agent_steps()}
    assert att.step in [c["step"] for c in att.candidates]
    back = Attribution.from_dict(json.loads(json.dumps(att.to_dict())))
    assert back == att
    old = att.to_dict()
    del old["candidates"]  # JSON written before candidates existed still reads
    assert Attribution.from_dict(old).candidates == []


def test_bad_candidates_give_a_clear_error() -> None:
    from agentracer import TraceError

    with pytest.raises(TraceError, match="candidates"):
        Attribution.from_dict({"agent": "a", "step": 1, "candidates": "step 1"})
    with pytest.raises(TraceError, match=r"candidates\[0\]"):
        Attribution.from_dict({"agent": "a", "step": 1, "candidates": [{"step": "x"}]})


def test_low_confidence_says_so_in_plain_words() -> None:
    cands = [{"step": 3, "agent": "coder", "probability": 0.31}, {"step": 5, "agent": "verifier", "probability": 0.2}]
    why = assess(0.2, 6, explained=False, distance=9.0, cal={"distance_limit": 2.0})
    assert len(why) == 3 and any("far from the training data" in w for w in why)
    note = low_confidence_note(cands, why)
    assert note.startswith("low confidence") and "step 3 (coder, 31%)" in note
    assert "--verify" in note and "--method rerank:" in note
    assert assess(0.9, 6, explained=True, distance=1.0, cal={"distance_limit": 2.0}) == []
    close = assess(0.9, 6, explained=True, distance=1.0, cal={}, runner_up_ratio=0.6)
    assert close == ["a close call: another candidate is 60% as likely"]
    assert assess(0.9, 6, explained=True, distance=1.0, cal={}, runner_up_ratio=0.3) == []


def test_calibration_maps_and_errors() -> None:
    assert calibrate(0.3, {}) == 0.3  # no calibration file: the raw probability
    assert calibrate(0.5, {"a": 1.0, "b": 0.0}) == pytest.approx(0.5)
    # over-confident raw probabilities: the fitted map pulls them down, and the ECE falls
    probs = [0.9] * 50 + [0.6] * 50
    correct = [1.0] * 30 + [0.0] * 20 + [1.0] * 15 + [0.0] * 35
    cal = fit_platt(probs, correct)
    fixed = [apply_platt(p, cal) for p in probs]
    assert apply_platt(0.9, cal) == pytest.approx(0.6, abs=0.02)
    assert ece(fixed, correct) < ece(probs, correct)
    rows = reliability(probs, correct)
    assert sum(r["n"] for r in rows) == 100 and math.isnan(rows[0]["accuracy"])
    assert feature_distance([[1.0, 3.0]], [1.0, 1.0], [1.0, 2.0]) == pytest.approx(math.sqrt(0.5))


def test_attribute_cli_exit_code_and_force(tmp_path: Path) -> None:
    ok = write([team_trace("success")], tmp_path / "ok.jsonl")
    r = runner.invoke(app, ["attribute", str(ok)])
    assert r.exit_code == EXIT_SUCCESS_RUN != 2, r.output
    assert "no blame" in r.output and "--force" in r.output
    r = runner.invoke(app, ["attribute", str(ok), "--force"])
    assert r.exit_code == 0 and "top-" in r.output, r.output
    unk = write([team_trace("unknown")], tmp_path / "unk.jsonl")
    r = runner.invoke(app, ["attribute", str(unk)])
    assert r.exit_code == 0 and "outcome unknown" in r.output and "top-" in r.output, r.output
    r = runner.invoke(app, ["attribute", str(unk), "--json"])
    d = json.loads(r.stdout)[0]
    assert d["candidates"] and "raw_probability" in d["metadata"]


def test_show_and_report_list_the_candidates(tmp_path: Path) -> None:
    from agentracer.report import render_report

    path = write([AnnotatedTrace(team_trace(), Attribution("coder", 1))], tmp_path / "t.jsonl")
    r = runner.invoke(app, ["show", str(path), "--attribute"])
    assert r.exit_code == 0, r.output
    assert "top-" in r.output and "step 1 (coder" in r.output.replace("\n", " ")
    page = render_report(team_trace(), EmbeddedAttributor().attribute(team_trace()))
    assert "Top-3 candidates" in page


def test_check_verdict_states_agreement_or_the_disagreement_in_plain_words() -> None:
    att = Attribution("reviewer", 6, confidence=0.54, candidates=[
        {"step": 6, "agent": "reviewer", "probability": 0.54}, {"step": 2, "agent": "coder", "probability": 0.29}])
    from agentracer.attribution.confidence import check_verdict

    assert "agrees with the fork check" in check_verdict(att, 6, "reviewer")
    text = check_verdict(att, 2, "coder")
    assert "DISAGREES" in text and "coder's step 2 is decisive" in text
    assert "step 2 (coder, 29%)" in text and "is among them" in text and "Trust the fork check" in text
    assert "not among them" in check_verdict(att, 4, "web")
    assert "did not blame" in check_verdict(agentracer.attribute(team_trace("success")), 1, "coder")


def _coder_run(k: int) -> AnnotatedTrace:
    t = Trace(run_id=f"s{k}", task="Compute the total.", framework="langgraph", outcome="failure")
    t.add_step(Step(index=0, agent="planner", content="Plan: write code, run it, report."))
    c = t.add_step(Step(index=0, agent="coder", content=f"```python\nprint({k} + 1)\n```"))
    t.add_step(Step(index=0, agent="executor", content="exitcode: 1 (execution failed)\nTraceback (most recent"))
    t.add_step(Step(index=0, agent="reporter", content=f"The total is {k}. TERMINATE"))
    return AnnotatedTrace(t, Attribution("coder", c.index))


def test_a_trace_far_from_the_training_data_is_flagged() -> None:
    pytest.importorskip("numpy")
    model = EmbeddedAttributor().fit([_coder_run(k) for k in range(30)])
    limit = model.params["modes"]["wo_g"]["step"]["distance_limit"]
    assert limit > 0
    near = model.attribute(_coder_run(99).trace)
    assert near.metadata["feature_distance"] <= limit and not near.metadata["far_from_training"]
    odd = Trace(run_id="odd", task="Summarise.", framework="langgraph", outcome="failure")
    for k in range(12):  # nothing like the training runs: long prose, assumptions, no code, no executor
        odd.add_step(Step(index=0, agent=f"agent{k % 4}", content=(
            f"I assume the data is simulated; I cannot access it, so I estimate {k * 37} rows. " * 20)))
    att = model.attribute(odd)
    assert att.metadata["far_from_training"] and att.low_confidence
    assert "far from the training data" in att.metadata["note"]


def test_an_answer_backed_by_position_alone_is_not_explained() -> None:
    """The opening step or the last long message is where faults often are, not evidence of one: an answer whose
    strongest cues are positions only is not "explained" (so it is flagged), one with a content cue is."""
    from agentracer.attribution.features import STEP_FEATURES, TraceFeatures

    att = EmbeddedAttributor()
    names = ["pos0", "last_substantive", "unsourced_value"]
    mode = {"step": {"features": names, "w": [1.0, 1.0, 1.0], "mu": [0.0] * 3, "sd": [1.0] * 3}}
    att._cols[id(mode)] = [STEP_FEATURES.index(n) for n in names]
    row = [0.0] * len(STEP_FEATURES)
    row[STEP_FEATURES.index("pos0")] = 1.0
    feats = TraceFeatures([Step(index=0, agent="planner", content="Plan.")], [row], ["planner"], [0])
    reason, explained = att._reason(feats, 0, mode)
    assert "initial plan" in reason and explained is False
    row[STEP_FEATURES.index("unsourced_value")] = 1.0
    assert att._reason(feats, 0, mode)[1] is True
