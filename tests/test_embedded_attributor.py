"""The embedded CPU attributor: any framework's trace, odd traces, learning, shipped parameters, no numpy."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from agentracer import AnnotatedTrace, Attribution, Step, Trace
from agentracer.attribution import TrainableAttributor, get_attributor
from agentracer.attribution.embedded import DEFAULT_PARAMS, EmbeddedAttributor
from agentracer.attribution.features import (
    AGENT_FEATURES,
    STEP_FEATURES,
    answer_span,
    extract,
    noop_code,
    percent_slip,
    rounding_slip,
    unit_slips,
    wrong_equations,
)
from agentracer.formats import load_annotated
from agentracer.samples.simulated import labelled_failures, make_tasks
from agentracer.training.embedded_fit import SIMULATED_SET, rebuild, simulated_set


def handmade_trace() -> Trace:
    """A LangGraph-like run: planner -> coder (LLM call + tool call that fails) -> verifier, with children."""
    t = Trace(run_id="handmade", task="What is 17 * 23? Give the number.", framework="langgraph", outcome="failure")
    p = t.add_step(Step(index=0, agent="planner", content="Plan: the coder multiplies 17 by 23, the verifier checks."))
    t.add_step(Step(index=0, agent="planner", kind="llm_call", parent=p.index, content="Plan: ..."))
    c = t.add_step(Step(index=0, agent="coder", content="```python\nprint(17 * 32)\n```\nThe answer is 544."))
    t.add_step(Step(index=0, agent="coder", kind="llm_call", parent=c.index, content="print(17*32)"))
    t.add_step(
        Step(
            index=0,
            agent="coder",
            kind="tool_call",
            role="tool",
            parent=c.index,
            tool_name="python",
            tool_args={"code": "print(17*32)"},
            tool_result="544",
        )
    )
    v = t.add_step(Step(index=0, agent="verifier", content="I agree, the result 544 is correct. Final answer: 544"))
    t.add_step(Step(index=0, agent="verifier", kind="llm_call", parent=v.index, content="agree"))
    t.final_answer = "544"
    return t


def test_embedded_is_default_and_trainable() -> None:
    att = get_attributor("embedded")
    assert isinstance(att, EmbeddedAttributor)
    assert isinstance(att, TrainableAttributor)


@pytest.mark.parametrize("with_gt", [False, True])
def test_handmade_trace_with_llm_children(with_gt: bool) -> None:
    t = handmade_trace()
    att = get_attributor("embedded").attribute(t, ground_truth="391" if with_gt else None)
    assert att.parsed and att.method == "embedded"
    top = {s.index: s for s in t.agent_steps()}
    assert att.step in top, "the attribution must point at a top-level agent step"
    assert att.agent == top[att.step].agent
    assert att.agent in ("planner", "coder", "verifier")
    assert 0.0 < att.confidence <= 1.0
    assert att.reason.startswith(f"Step {att.step} by {att.agent}:")
    assert set(att.evidence) <= set(top)
    assert att.metadata["with_gt"] is with_gt
    # the coder introduces the wrong value that the final answer repeats
    feats = extract(t)
    row = feats.step_rows[[s.index for s in feats.candidates].index(2)]
    assert row[STEP_FEATURES.index("origin_final")] == 1.0 or row[STEP_FEATURES.index("ans_origin_author")] == 1.0


def _odd_traces() -> list[Trace]:
    out = [Trace(run_id="empty")]
    out.append(Trace(run_id="one", steps=[Step(index=0, agent="solo", content="")]))
    t = Trace(run_id="tools-only")
    for _ in range(3):
        t.add_step(Step(index=0, agent="Computer_terminal", content="exitcode: 1 (execution failed)\nTraceback"))
    out.append(t)
    t = Trace(run_id="noname", task="?")
    t.add_step(Step(index=0, agent="", content="TERMINATE"))
    t.add_step(Step(index=0, agent="", content="**"))
    out.append(t)
    t = Trace(run_id="huge-unicode", task="Ünïcødé ✓ 問題")
    t.add_step(Step(index=0, agent="A", content=("数字 12 345 " * 20000) + "```" + "x" * 5000))
    t.add_step(Step(index=0, agent="B", content="\\boxed{}" + "**" * 300 + '"' * 99))
    t.add_step(Step(index=0, agent="B", kind="tool_call", role="tool", parent=1, tool_result={"a": [1, None]}))
    out.append(t)
    t = Trace(run_id="children-only-root")
    root = t.add_step(Step(index=0, agent="A", content="answer is 1e309 and -0"))
    for _ in range(5):
        t.add_step(Step(index=0, agent="A", kind="llm_call", parent=root.index, content="..."))
    out.append(t)
    return out


@pytest.mark.parametrize("trace", _odd_traces(), ids=lambda t: t.run_id)
def test_odd_traces_do_not_crash(trace: Trace) -> None:
    att = get_attributor("embedded")
    for gt in (None, "12", ""):
        a = att.attribute(trace, ground_truth=gt)
        assert isinstance(a, Attribution)
        if not trace.agent_steps():
            assert not a.parsed and a.step is None and a.agent is None
        else:
            assert a.parsed and a.step in {s.index for s in trace.agent_steps()}
    feats = extract(trace)
    assert all(len(r) == len(STEP_FEATURES) for r in feats.step_rows)
    assert all(len(r) == len(AGENT_FEATURES) for r in feats.agent_rows)


def test_answer_span_forms() -> None:
    assert answer_span(r"so the result is \boxed{1.445} .") == "1.445"
    assert answer_span("Final answer: 42\nthanks") == "42"
    assert "4" in answer_span("The number of clients is **4**. Agreed?")
    assert answer_span("no answer in here") is None


def synthetic_item(rng: random.Random, k: int) -> AnnotatedTrace:
    """A generated team run whose decisive step is the code whose execution first fails (or that assumes data)."""
    t = Trace(run_id=f"syn-{k}", task=f"Compute item {k}.", framework="synthetic", outcome="failure")
    t.add_step(Step(index=0, agent="Manager", content=f"Plan for solving the task {k}: research, code, verify."))
    gold = None
    n_rounds = rng.randint(2, 4)
    bad_round = rng.randrange(n_rounds)
    for r in range(n_rounds):
        talk = t.add_step(Step(index=0, agent=rng.choice(["Researcher", "Analyst"]), content="Let me look into it."))
        coder = rng.choice(["Coder", "Engineer"])
        if r == bad_round:
            body = "We assume sample data.\n```python\nprint(undefined)\n```"
            code = t.add_step(Step(index=0, agent=coder, content=body))
            t.add_step(Step(index=0, agent="Computer_terminal", content="exitcode: 1 (execution failed)\nNameError"))
            gold = Attribution(agent=coder, step=code.index, reason="bad code")
        else:
            t.add_step(Step(index=0, agent=coder, content="```python\nprint(2)\n```"))
            t.add_step(Step(index=0, agent="Computer_terminal", content=f"exitcode: 0 (execution succeeded)\n{r + 10}"))
        del talk
    t.add_step(Step(index=0, agent="Verifier", content="Looks good to me. TERMINATE"))
    assert gold is not None
    return AnnotatedTrace(t, gold, source="injection", fault_type="bad_code")


def test_fit_learns_from_annotated_traces() -> None:
    rng = random.Random(0)
    train = [synthetic_item(rng, k) for k in range(40)]
    test = [synthetic_item(rng, 100 + k) for k in range(20)]
    model = EmbeddedAttributor().fit(train)
    assert isinstance(model, EmbeddedAttributor) and model.params["n_traces"] == 40
    hits = sum(model.attribute(it.trace).step == it.gold.step for it in test)
    agent_hits = sum(model.attribute(it.trace).agent == it.gold.agent for it in test)
    assert hits >= 18 and agent_hits >= 18, (hits, agent_hits)


def test_shipped_params_are_small_and_current() -> None:
    assert DEFAULT_PARAMS.is_file(), "run: python -m agentracer.training.embedded_fit --rebuild"
    assert DEFAULT_PARAMS.stat().st_size < 5 * 1024 * 1024
    p = json.loads(DEFAULT_PARAMS.read_text())
    framework = p["profiles"]["framework"]
    for prof in (p, framework):
        for mode in ("wo_g", "w_g"):
            assert prof["modes"][mode]["step"]["features"] == list(STEP_FEATURES)
            assert prof["modes"][mode]["agent"]["features"] == list(AGENT_FEATURES)
    assert any("who_and_when" in s for s in p["trained_on"])
    assert any("who_and_when" in s for s in framework["trained_on"])
    assert any(s.startswith("generated: agentracer annotate generate") for s in framework["trained_on"])
    assert any(s.startswith("simulated: agentracer.samples.simulated.labelled_failures") for s in framework["trained_on"])
    assert framework["n_traces"] > p["n_traces"]


def test_the_trace_source_picks_the_profile(whowhen_dir: Path) -> None:
    att = get_attributor("embedded")
    assert att.attribute(handmade_trace()).metadata["profile"] == "framework"  # recorded from LangGraph
    item = load_annotated(sorted(whowhen_dir.glob("*.json"))[0])[0]
    assert att.attribute(item.trace).metadata["profile"] == "default"  # a chat transcript
    # a parameter file without a framework profile answers framework traces with its default profile
    one = EmbeddedAttributor(params=EmbeddedAttributor().params | {"profiles": {}})
    assert one.attribute(handmade_trace()).metadata["profile"] == "default"


def _generated(out: Path, *args: str) -> Path:
    """Generate and label runs with ``agentracer annotate generate ARGS --out OUT``; their annotations file."""
    from agentracer.cli import app
    from typer.testing import CliRunner

    r = CliRunner().invoke(app, ["annotate", "generate", *args, "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out / "annotations.jsonl"


def _whowhen_subset(tmp_path: Path, whowhen_dir: Path, k: int = 16) -> Path:
    """A folder with the first ``k`` Who&When files."""
    data = tmp_path / "data"
    data.mkdir()
    for f in sorted(whowhen_dir.glob("*.json"))[:k]:
        shutil.copy(f, data / f.name)
    return data


def test_the_framework_profile_reads_runs_it_never_saw(tmp_path: Path) -> None:
    """Fresh runs (seeds far from the training set's, on the plain-Python engine, which the profile was not
    trained on) are attributed well above the floors."""
    from agentracer.evaluation import evaluate, load_items

    ann = _generated(tmp_path / "fresh", "--framework", "python", "--domain", "math,code,tools", "--n", "10", "--seed", "5000")
    items, _ = load_items(ann)
    rep = evaluate(items, "embedded", folds=0)
    floors = rep["floors"]
    assert len(items) >= 20
    assert rep["step_accuracy"] >= 0.5 and rep["step_accuracy"] >= floors["step-one"]["step_accuracy"] + 0.25, rep
    assert rep["agent_accuracy"] >= 0.5 and rep["agent_accuracy"] >= floors["step-one"]["agent_accuracy"] + 0.2, rep


def test_wrong_equations() -> None:
    assert wrong_equations("Step 1: 13 * 3 = 38") == 1
    assert wrong_equations("10 - 4 = 7, then 3+3=6 and 8 × 2 = 15") == 2
    assert wrong_equations("Cost = 4 x $3 = $15. Change = $20 - $15 = $5.") == 1  # currency, "x" as times
    assert wrong_equations("1,200 + 300 = 1,600 but 1,200 + 300 = 1,500 and 50 / 200 = 25%") == 1
    assert wrong_equations("13 * 3 = 39; 7 / 2 = 3.5; 7/2 = 3; 1.5 + 1.25 = 2.75; 22/7 = 3.14") == 0
    assert wrong_equations("2 + 3 * 4 = 14 and 14 = 2 + 3 * 4") == 0  # chained: not read as 3 * 4 = 14
    assert wrong_equations("the 1990-2000 = 10 years; 2x + 3 = 7; x = 5; 5 / 0 = 1") == 0


def _column(trace: Trace, name: str) -> list[float]:
    j = STEP_FEATURES.index(name)
    return [row[j] for row in extract(trace).step_rows]


def _chat(framework: str, task: str, *turns: tuple[str, str]) -> Trace:
    """A run of plain agent messages: (agent, content) per turn."""
    t = Trace(run_id=f"{framework}-chat", task=task, framework=framework)
    for agent, content in turns:
        t.add_step(Step(index=0, agent=agent, content=content))
    return t


def test_consistency_features_point_at_the_slip() -> None:
    t = _chat(
        "langgraph",
        "Start with 13. Then multiply by 3, then subtract 16, then add 5. What is the final number?",
        ("Planner", "Plan:\nStart: 13\n1. multiply by 3\n2. subtract 16"),
        ("Calculator", "Step 1: 13 * 3 = 38"),
        ("Solver", "Step 2: 38 - 16 = 22"),
        ("Reporter", "FINAL ANSWER: 21"),
    )
    assert _column(t, "restate_drops") == [1, 0, 0, 0]  # the plan leaves "add 5" out
    assert _column(t, "first_wrong_equation") == [0, 1, 0, 0]
    assert _column(t, "answer_mismatch") == [0, 0, 0, 1]  # 21 is not what step 2 computed


def test_a_condition_turned_the_other_way() -> None:
    t = _chat(
        "camel",
        "Write solve(xs): 1) keep the numbers greater than -6; 2) keep the numbers less than 15.",
        ("Architect", "Spec:\n1. keep numbers greater than -6\n2. keep less than 15"),
        ("Coder", "def stage_1(xs):\n    return [x for x in xs if x <= -6]\n"),
        ("Engineer", "def stage_2(xs):\n    return [x for x in xs if 15 > x]\n"),
        ("Reviewer", "Stage 2 keeps values below 15, as asked."),
    )
    assert _column(t, "contradicts_task") == [0, 1, 0, 0]  # "15 > x" and "below 15" agree with the task
    assert _column(t, "first_contradicts_task") == [0, 1, 0, 0]


def test_noop_code() -> None:
    assert noop_code("def stage_2(xs):\n    return [x for x in xs]\n")
    assert noop_code("def stage_2(xs):\n    return xs\n")
    assert noop_code("```python\ndef parse(data: str) -> dict:\n    # TODO\n    pass\n```")
    assert noop_code("def load(path):\n    raise NotImplementedError('later')\n")
    assert not noop_code("def stage_2(xs):\n    return [x * 3 - 1 for x in xs]\n")
    assert not noop_code("def keep(xs):\n    return [x for x in xs if x > 1]\n")
    assert not noop_code("def total(xs):\n    return sum(xs)\n")
    assert not noop_code("We pass the list xs to the next stage.")


def test_unit_percent_and_rounding_slips() -> None:
    assert unit_slips("Jun has 23 dozen eggs.", "The problem starts with 23 x 10 = 230 items.") == 1
    assert unit_slips("Jun has 23 dozen eggs.", "That is 12 * 23 = 276 eggs; 23 x 12 = 276.") == 0
    assert unit_slips("", "Remember that a dozen is 10.") == 1 and unit_slips("", "a dozen is 12") == 0
    assert unit_slips("Four score and 7 years", "4 * 20 + 7 = 87") == 0
    assert unit_slips("He has 5 dozen pens and 3 boxes.", "5 boxes x 3 = 15") == 0  # 5 is not multiplied here
    assert percent_slip("Ana gives away 20 percent of them.", "```python\nreturn total - 20\n```")
    assert percent_slip("a 5% raise on $300", "300 + 5 = 305")
    for ok in ("return total - total * 20 / 100", "total * 0.8", "total - 20% of total", "(100 - 20) * total / 100",
               "20 * total / 100", "0.20 * total", "total * 20 * 0.01"):
        assert not percent_slip("Ana gives away 20 percent of them.", ok), ok
    assert not percent_slip("Ana gives away 20 percent of them.", "She had 20 marbles")  # 20 is no operand here
    assert not percent_slip("a 5% raise", "salary * 1.05")
    assert rounding_slip("How many are left, rounded to the nearest ten?", "ANSWER: 115")
    assert not rounding_slip("How many are left, rounded to the nearest ten?", "ANSWER: 120")
    assert rounding_slip("Give it to two decimal places.", "3.14159") and not rounding_slip("to two decimal places", "3.14")
    assert rounding_slip("Round to the nearest integer.", "12.5") and not rounding_slip("nearest whole number", "13")
    assert not rounding_slip("Round to the nearest thousand.", "17,000") and not rounding_slip("How many?", "115")


def test_slip_features_mark_the_step_that_slips() -> None:
    t = _chat(
        "maas",
        "Jun has 23 dozen eggs. Jun gives away 25 percent of them. How many are left, rounded to the nearest ten?",
        ("GenerateCoT", "The problem starts with 23 x 12 = 276 items.\nTOTAL: 276"),
        ("Programmer", "```python\ndef solve():\n    total = 276\n    return total - 25\n```"),
        ("SelfRefine", "The result 251, as computed.\nANSWER: 251"),
    )
    assert _column(t, "unit_slip") == [0, 0, 0]
    assert _column(t, "percent_slip") == [0, 1, 0]
    assert _column(t, "rounding_slip") == [0, 0, 1]


def test_simulated_failures_are_labelled_by_the_oracle() -> None:
    runs = labelled_failures([7], n_tasks=12, systems=("maas",), prefix="x")
    assert runs and all(r.source == "simulation" and r.trace.outcome == "failure" for r in runs)
    assert {r.trace.framework for r in runs} == {"maas"}
    assert {r.metadata["task"][:1] for r in runs} == {"x"}
    for r in runs:
        steps = {s.index: s for s in r.trace.agent_steps()}
        assert r.gold.step in steps and steps[r.gold.step].agent == r.gold.agent and r.gold.reason
    with pytest.raises(ValueError, match="unknown simulated system"):
        labelled_failures([0], systems=("crewai",))
    # the framework profile learns from seeds and task names that the refinement benchmark (seeds 0-4,
    # tasks "t...") never uses
    lo, hi = SIMULATED_SET["seeds"]
    train = {t.question for s in range(lo, hi) for t in make_tasks(SIMULATED_SET["n_tasks"], s,
                                                                   prefix=SIMULATED_SET["prefix"])}
    assert lo > 4 and not train & {t.question for s in range(5) for t in make_tasks(40, s, prefix="t")}


def test_the_shipped_tracer_finds_the_simulated_pipelines_slips() -> None:
    """Fresh simulated failures (the refinement benchmark's own seeds, never trained on): the framework
    profile names the oracle's agent and step; before it learnt from such runs, it named the agent in ~19%."""
    runs = labelled_failures([0, 1], n_tasks=20)
    att = get_attributor("embedded")
    got = [att.attribute(r.trace) for r in runs]
    assert len(runs) >= 20 and {g.metadata["profile"] for g in got} == {"framework"}
    hits = sum(g.agent == r.gold.agent and g.step == r.gold.step for g, r in zip(got, runs, strict=True))
    assert hits >= 0.9 * len(runs), (hits, len(runs))


def test_unsupported_tool_arguments() -> None:
    t = Trace(run_id="tools", task="Start from Acme Corp. Look up its headquarters.", framework="autogen")
    ok = t.add_step(Step(index=0, agent="Searcher", content='CALL lookup("Acme Corp", "headquarters")'))
    t.add_step(Step(index=0, agent="Searcher", kind="tool_call", role="tool", parent=ok.index, tool_name="lookup",
                    tool_args=["Acme Corp", "headquarters"], tool_result="Quinis"))
    bad = t.add_step(Step(index=0, agent="Searcher", content='CALL lookup("Zorba Inc", "mayor")'))
    t.add_step(Step(index=0, agent="Searcher", kind="tool_call", role="tool", parent=bad.index, tool_name="lookup",
                    tool_args={"entity": "Zorba Inc", "relation": "mayor"}, tool_result="NOT FOUND"))
    follow = t.add_step(Step(index=0, agent="Searcher", content='CALL lookup("Quinis", "mayor")'))
    t.add_step(Step(index=0, agent="Searcher", kind="tool_call", role="tool", parent=follow.index,
                    tool_name="lookup", tool_args=["Quinis", "mayor"], tool_result="Ada"))
    code = t.add_step(Step(index=0, agent="Coder", content="```python\nprint(17 * 32)\n```"))
    t.add_step(Step(index=0, agent="Coder", kind="tool_call", role="tool", parent=code.index, tool_name="python",
                    tool_args={"code": "print(17*32)"}, tool_result="544"))
    # "Zorba Inc" (and "mayor") first appear in the second call; "Quinis" came back from the first call,
    # and code is not an entity-like argument
    assert _column(t, "tool_arg_unseen") == [0, 1, 0, 0]


def test_rebuild_writes_params_from_a_folder(tmp_path: Path, whowhen_dir: Path) -> None:
    data = _whowhen_subset(tmp_path, whowhen_dir)
    out = rebuild([data], tmp_path / "params.json", framework_profile=False)
    p = json.loads(out.read_text())
    assert p["n_traces"] == 16 and p["modes"]["wo_g"]["step"]["l2"] > 0 and "profiles" not in p
    att = get_attributor(f"embedded:{out}")
    item = load_annotated(data)[0]
    a = att.attribute(item.trace)
    assert a.parsed and a.metadata["params"] == "params.json"


def test_rebuild_adds_a_framework_profile_from_generated_runs(tmp_path: Path, whowhen_dir: Path) -> None:
    gen = _generated(tmp_path / "gen", "--framework", "python", "--domain", "math,tools", "--n", "6", "--seed", "3")
    n_gen = len(load_annotated(gen))
    data = _whowhen_subset(tmp_path, whowhen_dir)
    out = rebuild([data], tmp_path / "params.json", framework_data=[gen], simulated=False)
    p = json.loads(out.read_text())
    prof = p["profiles"]["framework"]
    assert p["n_traces"] == 16 and prof["n_traces"] == 16 + n_gen and len(prof["trained_on"]) == 2
    # each trace is weighted by the size of its source, so that no source dominates
    assert prof["modes"]["wo_g"]["source_weighting"]["traces_per_source"] == {"generated:python:tasks": n_gen,
                                                                              "whowhen": 16}
    # --union: the default profile learns from the union too, the generated runs seen as transcripts (the form of
    # the traces it answers), each source still its own in the weighting
    u = json.loads(rebuild([data], tmp_path / "u.json", framework_data=[gen], simulated=False, union=True).read_text())
    assert u["n_traces"] == 16 + n_gen
    assert u["trained_on"] == [prof["trained_on"][0], prof["trained_on"][1] + " (as transcripts)"]
    assert u["modes"]["wo_g"]["source_weighting"]["traces_per_source"] == {"generated:python:tasks": n_gen,
                                                                           "whowhen": 16}
    # --keep-framework-profile: the default profile retrained, the framework profile copied as it was
    k = json.loads(rebuild([data], tmp_path / "k.json", framework_data=[gen], union=True,
                           keep_framework_profile=out).read_text())
    assert k["profiles"]["framework"] == prof and k["modes"] == u["modes"]
    a = get_attributor(f"embedded:{out}").attribute(handmade_trace())
    assert a.parsed and a.metadata["profile"] == "framework"
    # by default the simulated refinement pipelines' labelled failures are learnt from too
    n_sim = len(simulated_set())
    prof = json.loads(rebuild([data], tmp_path / "p2.json", framework_data=[gen]).read_text())["profiles"]["framework"]
    assert n_sim >= 20 and prof["n_traces"] == 16 + n_gen + n_sim
    assert prof["trained_on"][-1].startswith("simulated: ")


def test_rebuild_says_what_to_do_when_it_cannot_generate(
    tmp_path: Path, whowhen_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = _generated(tmp_path / "gen", "--framework", "python", "--domain", "math", "--n", "4", "--seed", "3")
    one = load_annotated(sorted(whowhen_dir.glob("*.json"))[0])
    with pytest.raises(ValueError, match="at least 2 annotated traces"):
        EmbeddedAttributor().fit(one)
    monkeypatch.setattr("agentracer.annotation.generate.available_frameworks", lambda: {})  # no framework extras
    with pytest.raises(ValueError, match="--no-framework-profile"):
        rebuild([whowhen_dir], tmp_path / "params.json")
    assert not (tmp_path / "params.json").exists()

    def no_langgraph(*args: object, **kwargs: object) -> None:
        raise ImportError("No module named 'langgraph'")

    monkeypatch.setattr("agentracer.samples.simulated.labelled_failures", no_langgraph)
    data = _whowhen_subset(tmp_path, whowhen_dir)
    with pytest.raises(ValueError, match="--no-simulated"):
        rebuild([data], tmp_path / "params.json", framework_data=[gen])
    assert not (tmp_path / "params.json").exists()
    assert rebuild([data], tmp_path / "params.json", framework_data=[gen], simulated=False).is_file()


def test_missing_params_fall_back_to_documented_prior(tmp_path: Path) -> None:
    att = EmbeddedAttributor(params_path=tmp_path / "absent.json")
    a = att.attribute(handmade_trace())
    assert a.parsed and a.metadata.get("fallback_prior") is True


def test_inference_needs_no_numpy(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(handmade_trace().to_json())
    expected = get_attributor("embedded").attribute(handmade_trace())
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "import agentracer\n"
        "a = agentracer.attribute(sys.argv[1])\n"
        "assert a.parsed, a\n"
        "print(a.agent, a.step)\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [expected.agent, str(expected.step)]


def test_bad_parameter_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not found"):
        get_attributor(f"embedded:{tmp_path / 'absent.json'}")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read embedded parameters"):
        get_attributor(f"embedded:{bad}")
    other = tmp_path / "other.json"
    other.write_text(
        '{"modes": {"wo_g": {"step": {"features": ["nope"], "mu": [0], "sd": [1], "w": [1]},'
        ' "agent": {"features": [], "mu": [], "sd": [], "w": []}}}}'
    )
    with pytest.raises(ValueError, match="rebuild"):
        get_attributor(f"embedded:{other}")
    with pytest.raises(ValueError, match="rebuild"):
        EmbeddedAttributor(params_path=other).attribute(handmade_trace())


def test_the_person_who_asked_is_never_a_candidate(whowhen_dir: Path) -> None:
    """A transcript that opens with the user's request (role "human", as many exports do) is read as the same run
    without it: same features, the same answer one index later; a "user" agent that does work stays a candidate."""
    from agentracer.attribution.features.steps import candidate_steps
    from agentracer.formats.whowhen import from_whowhen, to_whowhen

    item = load_annotated(sorted(whowhen_dir.glob("*.json"))[0])[0]
    d = to_whowhen(item)
    d2 = dict(d, history=[{"content": item.trace.task, "role": "human"}] + d["history"],
              mistake_step=str(int(d["mistake_step"]) + 1))
    asked = from_whowhen(d2).trace
    assert asked.steps[0].agent == "human" and candidate_steps(asked) == asked.steps[1:]
    a, b = EmbeddedAttributor().attribute(item.trace), EmbeddedAttributor().attribute(asked)
    assert (b.agent, b.step) == (a.agent, a.step + 1) and b.confidence == a.confidence
    assert [c["step"] for c in b.candidates] == [c["step"] + 1 for c in a.candidates]
    # a "user" message that repeats the task is the request; an AI user's instruction is work
    t = Trace(run_id="u", task="Plan a trip to Oulo.", framework="camel", outcome="failure")
    t.add_step(Step(index=0, agent="user", content="Plan a trip to Oulo."))
    t.add_step(Step(index=0, agent="user", content="Instruction: book the train for Monday."))
    t.add_step(Step(index=0, agent="assistant", content="Booked the Monday train."))
    assert [s.index for s in candidate_steps(t)] == [1, 2]
