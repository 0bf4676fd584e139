"""Named generated systems on the real frameworks: a langgraph-supervisor team of ReAct agents (LangGraph) and
a Workforce with a planner, workers and quality checks (CAMEL), on the orchestrator-led domains; labelled by
replay or injection, each label checked by a fork with the oracle."""

from __future__ import annotations

from pathlib import Path

import pytest
from agentracer.annotation.generate import GeneratedSystem, annotate_item
from agentracer.annotation.generate.engine import Engine
from agentracer.annotation.scale import Ledger
from agentracer.cli import app
from agentracer.formats import read
from agentracer.recording import Recorder
from typer.testing import CliRunner

SYSTEMS = (("langgraph", "supervisor"), ("camel", "workforce"))


def _engine(system: GeneratedSystem) -> Engine:
    rec = Recorder(framework=system.spec.framework)
    return Engine(system, rec, rec.start_run(system.spec.task.question), None)


@pytest.mark.parametrize(("framework", "shape"), SYSTEMS)
@pytest.mark.parametrize("domain", ("web", "files", "multihop"))
def test_fault_free_run_succeeds_led_by_its_lead_with_tool_calls(framework: str, shape: str, domain: str) -> None:
    s = GeneratedSystem.create(framework, domain, 5, fault_plan={}, system=shape)
    assert not s.uses_plugin  # recorded by the generator on the framework's runtime
    tr = s.record()
    assert tr.outcome == "success", tr.final_answer
    assert tr.framework == framework and tr.metadata["agentracer.generated"]["system"] == shape
    steps = tr.agent_steps()
    lead = s.domain.agents[0]
    assert 15 <= len(steps) <= 80
    assert steps[0].agent == lead and "Plan:" in steps[0].content
    assert all((a.agent == lead) != (b.agent == lead) for a, b in zip(steps[1:], steps[2:], strict=False))
    assert any(c.kind == "tool_call" for c in tr.steps)


def test_supervisor_hands_over_with_its_tools_and_workers_hand_back() -> None:
    from agentracer_langgraph.supervisor_gen import supervisor_app

    s = GeneratedSystem.create("langgraph", "files", 1, fault_plan={}, system="supervisor")
    engine = _engine(s)
    app_, act = supervisor_app(engine)
    out = app_.invoke({"messages": []}, {"recursion_limit": 1000})
    calls = [c["name"] for m in out["messages"] for c in (getattr(m, "tool_calls", None) or [])]
    lead, files = s.domain.agents[0], s.domain.agents[2]
    assert calls[0] == "write_plan" and f"transfer_to_{files}" in calls
    assert f"transfer_back_to_{lead}" in calls  # langgraph-supervisor's handoff back
    assert "open_file" in act.served  # the worker's tool call, run by its ReAct agent's ToolNode
    assert act.results == {} and act.pending == {}  # every tool result was served by a tool
    assert s.domain.check(s.spec.task, s.domain.final_answer(s.spec.task, engine.transcript))


def test_workforce_decomposes_checks_quality_and_reassigns() -> None:
    from agentracer_camel.workforce_gen import WorkforceRun
    from camel.tasks import Task

    s = GeneratedSystem.create("camel", "web", 5, fault_plan={}, system="workforce")
    engine = _engine(s)
    run = WorkforceRun(engine)
    import asyncio
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        root = asyncio.run(run.wf.process_task_async(Task(content=s.spec.task.question, id="0")))
    assert len(root.subtasks) == len(run.subtasks) >= 4  # one subtask per plan item, plus the aggregation
    coder, term = s.domain.agents[3], s.domain.agents[4]
    last = root.subtasks[-1]
    assert run.assignee[last.id] == term  # the coder's subtask was reassigned to the terminal by a check
    assert any(t.agent == coder for t in engine.transcript)
    assert s.domain.check(s.spec.task, s.domain.final_answer(s.spec.task, engine.transcript))


@pytest.mark.parametrize(("framework", "shape"), SYSTEMS)
def test_a_replaced_handoff_reroutes_the_team(framework: str, shape: str) -> None:
    s = GeneratedSystem.create(framework, "web", 2, fault_plan={}, system=shape)
    tr = s.record()
    steps = tr.agent_steps()
    lead, web, coder = s.domain.agents[0], s.domain.agents[1], s.domain.agents[3]
    k = next(i for i, st in enumerate(steps) if st.agent == lead and i > 0)
    assert steps[k + 1].agent == web
    new = s.run_with(steps[k].index, f"@{coder} please search the web for \"anything\".")
    assert new.trace.agent_steps()[k + 1].agent == coder


@pytest.mark.parametrize(("framework", "shape"), SYSTEMS)
def test_names_prompts_and_descriptions_vary_by_seed(framework: str, shape: str) -> None:
    systems = [GeneratedSystem.create(framework, "web", seed, system=shape) for seed in range(8)]
    assert len({s.domain.agents for s in systems}) > 2
    assert len({s.domain.roles[s.domain.agents[0]] for s in systems}) > 1
    assert len({s.domain.team_description(s.spec.task) for s in systems}) > 1
    autogen = {a for seed in range(8) for a in GeneratedSystem.create("autogen", "web", seed).domain.agents}
    assert not autogen & {a for s in systems for a in s.domain.agents}  # not the Magentic-One names


# (domain, seed) items whose runs label quickly (one bisection or one injection each)
_ITEMS = {"supervisor": (("web", 1), ("files", 1), ("multihop", 1)), "workforce": (("files", 1), ("files", 3), ("multihop", 1))}


@pytest.mark.parametrize(("framework", "shape"), SYSTEMS)
def test_labels_flip_when_the_labelled_step_is_forked_with_the_oracle(framework: str, shape: str) -> None:
    results = [annotate_item(framework, d, seed, system=shape) for d, seed in _ITEMS[shape]]
    labelled = [r for r in results if r.annotated is not None]
    assert len(labelled) >= 2 and {r.status for r in labelled} <= {"replay", "injection"}
    for r in labelled:
        ann = r.annotated
        assert ann is not None and ann.trace.outcome == "failure" and ann.metadata["system"] == shape
        assert ann.gold.agent in ann.trace.agents and 15 <= len(ann.trace.agent_steps()) <= 80
        g = GeneratedSystem.from_trace(ann.trace)
        assert g.spec.system == shape
        assert g.run_from(ann.gold.step, g.oracle()).success  # the fork at the label flips the run


def test_cli_system_option(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "sup"
    res = runner.invoke(app, ["annotate", "generate", "--framework", "langgraph", "--system", "supervisor",
                              "--domain", "web", "--n", "2", "--seed", "0", "--out", str(out)])
    assert res.exit_code == 0, res.output
    ids = {e["item_id"] for e in Ledger(out).entries()}
    assert len(ids) == 2 and all(i.startswith("langgraph/supervisor:web:") for i in ids)
    anns = read(out / "annotations.jsonl")
    assert anns and all(a.metadata["system"] == "supervisor" for a in anns)
    bad = runner.invoke(app, ["annotate", "generate", "--framework", "langgraph", "--system", "workforce",
                              "--domain", "web", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "no system 'workforce' on langgraph" in bad.output
    bad = runner.invoke(app, ["annotate", "generate", "--framework", "camel", "--system", "workforce",
                              "--domain", "math", "--out", str(tmp_path / "y")])
    assert bad.exit_code == 2 and "orchestrator-led" in bad.output


@pytest.mark.parametrize(("framework", "shape"), SYSTEMS)
def test_a_quality_check_that_passes_an_archived_figure_is_the_decisive_step(framework: str, shape: str) -> None:
    from agentracer.annotation.replay import find_decisive

    found = None
    for seed in range(12):  # the first task where passing an archived figure changes the answer
        clean = GeneratedSystem.create(framework, "web", seed, fault_plan={}, system=shape).record()
        k = next((i for i, st in enumerate(clean.agent_steps()) if st.content.startswith("Quality check failed")), None)
        if k is None:
            continue
        assert any("archived copy" in str(c.content) for c in clean.steps if c.kind == "tool_call")
        s = GeneratedSystem.create(framework, "web", seed, fault_plan={k: "inverted_condition"}, system=shape)
        tr = s.record()
        if tr.outcome == "failure":
            found = (s, tr, k)
            break
    assert found is not None
    s, tr, k = found
    check = tr.agent_steps()[k]
    assert check.content.startswith("Quality check passed")
    res = find_decisive(tr, s, s.oracle(), strategy="bisect")
    assert (res.step, res.agent) == (check.index, s.domain.agents[0])  # the check, not the faithful worker


def test_injection_places_cover_plan_handoffs_actions_readings_and_code() -> None:
    import random

    from agentracer.annotation.domains.team_styles import injection_order, place_of, restyle
    from agentracer.annotation.generate import SystemSpec

    restyled = restyle(GeneratedSystem.create("python", "web", 0).spec.task, "supervisor")
    tr = GeneratedSystem(SystemSpec("python", "web", restyled, 0, 0.0, {}, system="supervisor")).record()
    kids = {c.parent for c in tr.steps if c.kind == "tool_call"}
    steps = [(st.index, st.agent, st.content, st.index in kids) for st in tr.agent_steps()]
    places = {place_of(restyled, a, t, pos, k) for pos, (_, a, t, k) in enumerate(steps)}
    assert {"plan", "handoff", "action", "reading", "code"} <= places
    order = injection_order(restyled, steps, random.Random(1))
    assert len(order) == len(set(order)) and {i for i, _ in order} <= {st[0] for st in steps}
    assert order != injection_order(restyled, steps, random.Random(2))  # per-run weights and draws
