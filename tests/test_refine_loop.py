"""Self-improvement rounds: feedback reaches only the named agent (MaAS, LangGraph), bounded notes,
the regression guard rolls back a harmful round, methods compared on the same tasks and seeds."""

from __future__ import annotations

import asyncio

import agentracer
import pytest
from agentracer import Attribution
from agentracer.refinement import FeedbackMemory, Note, attribution_note, compare, numeric_match, refine
from agentracer.samples import simulated as sim


def _blame(agent: str, reason: str = "it got the total wrong", correction: str = "re-read the units"):
    """A tracer that always blames ``agent`` at its first step."""

    def tracer(trace, ground_truth=None):
        step = next(s.index for s in trace.agent_steps() if s.agent == agent)
        return Attribution(agent, step, reason, 1.0, "fixed", metadata={"correction": correction})

    return tracer


def _prompts_after_round0(system, tasks, **kw):
    """Run one refine round; return the result and the prompts sent during the round-1 evaluation."""
    mark: list[int] = []
    res = refine(system.build, tasks, numeric_match, 1, run=system.run,
                 on_round=lambda r: mark.append(len(system.prompts)), **kw)
    return res, system.prompts[mark[0]:mark[1]]


SYSTEMS = ["maas", "langgraph"]


def _system(name: str, policy: sim.SimPolicy | None = None) -> sim.System:
    if name == "langgraph":
        pytest.importorskip("langgraph")
        from agentracer.hooks import get_plugin_manager

        if get_plugin_manager().get_plugin("langgraph") is None:
            pytest.skip("the LangGraph plugin is not installed")
        return sim.langgraph_system(policy=policy or sim.SimPolicy())
    return sim.maas_system(policy=policy or sim.SimPolicy())


@pytest.mark.parametrize("framework", SYSTEMS)
def test_feedback_reaches_only_the_responsible_agent(framework: str) -> None:
    system = _system(framework)
    target = system.roles["compute"]
    tasks = sim.make_tasks(6, seed=1)
    res, prompts = _prompts_after_round0(system, tasks, tracer=_blame(target), guard=False)
    assert res.rounds[0].accuracy < 1.0, "the round-0 system must fail somewhere for feedback to exist"
    assert list(res.feedback) == [target]
    fb = res.feedback[target]
    assert "Feedback for" in fb and "Reason: it got the total wrong" in fb and "Suggested correction: re-read the units" in fb
    assert prompts and {r for r, _ in prompts} == {"extract", "compute", "finalize"}
    for role, prompt in prompts:
        has = "Reason: it got the total wrong" in prompt
        assert has == (role == "compute"), (role, prompt[:200])
    # the note names the step, the reason and a correction
    note = res.rounds[1].notes[0]
    assert note["agent"] == target and isinstance(note["step"], int)
    assert f"at step {note['step']}" in fb


def test_feedback_only_named_operator_with_workflow_instance() -> None:
    """The one-liner on a MaAS-shaped workflow instance (default runner, no factory), our tests' own package."""
    from maas_shaped import FixedController, MathWorkflow, ScriptedLLM, math_script

    llm = ScriptedLLM(math_script({"cot": lambda v: v + 1}))  # GenerateCoT is wrong; ScEnsemble picks A
    wf = MathWorkflow(llm, FixedController([["GenerateCoT", "Programmer"], ["ScEnsemble"]]))
    tasks = [{"id": f"q{i}", "question": f"Compute {i} * 7 + 2.", "answer": str(i * 7 + 2)} for i in range(3)]
    seen: list[int] = []
    res = agentracer.refine(wf, tasks, "numeric", rounds=1, tracer=_blame("GenerateCoT", "it added one"),
                            guard=False, on_round=lambda r: seen.append(len(llm.prompts)))
    assert res.accuracies[0] == 0.0
    trace = agentracer.recorder_of(wf).last_trace()
    calls = [s for s in trace.steps if s.kind == "llm_call"]
    last_prompts = llm.prompts[-len(calls):]
    assert any(s.agent == "GenerateCoT" for s in calls)
    for s, p in zip(calls, last_prompts, strict=True):
        assert ("Reason: it added one" in p) == (s.agent == "GenerateCoT")


def test_guard_rolls_back_a_harmful_round() -> None:
    # agents that never learn and always get confused by notes about words that are not their flaw, and a
    # tracer that always blames the first agent: its round-1 feedback makes things worse
    policy = sim.SimPolicy(seed=0, p_learn=0.0, p_learn_vague=0.0, p_confuse=1.0, p_generic_learn=0.0,
                           p_generic_confuse=1.0)
    tasks = sim.make_tasks(12, seed=2)
    calls = {"n": 0}

    def harmful(trace, ground_truth=None):
        calls["n"] += 1
        reason = "it miscounted the pairs that were sold" if calls["n"] <= 8 else "it read the task too fast"
        return Attribution("GenerateCoT", trace.agent_steps()[0].index, reason, 1.0, "fixed",
                           metadata={"correction": "recount pairs before anything is sold"})

    system = sim.maas_system(policy=policy)
    off = refine(system.build, tasks, numeric_match, 1, guard=False, run=system.run, tracer=harmful, seed=0)
    assert off.accuracies[1] < off.accuracies[0], "the feedback must be harmful for this test to mean anything"

    calls["n"] = 0
    system = sim.maas_system(policy=policy)
    marks: list[int] = []
    on = refine(system.build, tasks, numeric_match, 2, guard=True, run=system.run, tracer=harmful, seed=0,
                on_round=lambda r: marks.append(len(system.prompts)))
    assert on.accuracies[0] == off.accuracies[0]
    r1 = on.rounds[1]
    assert not r1.accepted and r1.candidate_accuracy == off.accuracies[1]
    assert r1.accuracy == on.accuracies[0] and r1.feedback == {}
    assert all(a >= on.accuracies[0] for a in on.accuracies)  # the guard never lets accuracy drop
    # the rejected feedback is gone: round 2's run told GenerateCoT only round 2's note
    round2 = system.prompts[marks[1]:marks[2]]
    assert round2 and not any("miscounted" in p for _, p in round2)
    assert any("read the task too fast" in p for r, p in round2 if r == "extract")


def test_feedback_memory_is_bounded_and_merges() -> None:
    mem = FeedbackMemory(max_items=3, max_chars=600)
    for i in range(10):
        mem.add(Note("A", f"A|reason {i % 5}", f"note {i} " + "x" * 300, step=i, round=i))
    for _ in range(4):
        mem.add(Note("A", "A|reason 4", "dup", step=1, round=11))
    assert len(mem.notes["A"]) == 3 and mem.dropped["A"] > 0
    text = mem.summary("A")
    assert len(text) <= 600 and "older notes dropped" in text
    assert "seen 5x" in text and text.count("\n- [") == 3  # i=9 (i=4 was dropped) + 4 repeats; 3 notes
    assert mem.summary("B") == "" and mem.agents() == ["A"]


def test_attribution_note_names_step_reason_and_correction() -> None:
    system = sim.maas_system()
    wf = agentracer.instrument(system.build(), recorder=agentracer.Recorder())
    task = next(t for t in sim.make_tasks(20, seed=3) if "dozen" in t.keywords)
    system.run(wf, task)
    tr = agentracer.recorder_of(wf).last_trace()
    att = system.oracle(tr, task)
    assert att.agent == "GenerateCoT" and att.step == tr.agent_steps()[0].index and "dozen" in att.reason
    line = attribution_note(att, tr, task, task.id, 2).line()
    assert line.startswith(f"- [step {att.step} · round 2 · seen 1x]")
    assert "Reason: it counted a dozen as 10" in line and "Suggested correction: multiply dozens by 12" in line
    assert task.question[:40] in line


def test_methods_compared_on_same_tasks_and_seeds() -> None:
    system = sim.maas_system()
    tasks = sim.make_tasks(16, seed=4)
    held = sim.make_tasks(16, seed=4, prefix="h")
    # the random control needs a base tracer: here the oracle's notes, aimed at random agents
    results = compare(system.build, tasks, numeric_match, 2, methods=["none", "generic", "random", "tracer:oracle"],
                      random_base="oracle", run=system.run, eval_tasks=held, seed=4, critic=sim.simulated_critique,
                      oracle=system.oracle)
    labels = [r.label for r in results]
    assert labels == ["none", "generic +guard", "generic", "random-agent +guard", "random-agent",
                      "tracer:oracle +guard", "tracer:oracle"]
    assert len({r.accuracies[0] for r in results}) == 1 and len({r.eval_accuracies[0] for r in results}) == 1
    by = {r.label: r for r in results}
    assert by["none"].accuracies == [by["none"].accuracies[0]] * 3
    assert by["tracer:oracle"].accuracies[-1] > by["none"].accuracies[-1]
    assert by["tracer:oracle"].eval_accuracies[-1] > by["none"].eval_accuracies[-1]  # it generalises
    for r in results:
        if r.guard:
            assert all(b >= a for a, b in zip(r.accuracies, r.accuracies[1:], strict=False))  # the guard never lets it drop
    # same seed, same everything: deterministic
    again = refine(system.build, tasks, numeric_match, 2, run=system.run, tracer="oracle", oracle=system.oracle, seed=4)
    assert again.accuracies == by["tracer:oracle +guard"].accuracies


def test_refine_validates_arguments() -> None:
    system = sim.maas_system()
    with pytest.raises(ValueError, match="feedback must be one of"):
        refine(system.build, ["x"], feedback="everyone")
    with pytest.raises(ValueError, match="needs oracle"):
        refine(system.build, ["x"], tracer="oracle", run=system.run)
    with pytest.raises(ValueError, match="at least one task"):
        refine(system.build, [])
    with pytest.raises(TypeError, match="no installed plugin recognises"):
        refine(lambda: object(), [{"question": "q", "answer": "1"}], feedback="none", rounds=0)


def test_crashing_task_is_a_failure_not_a_crash() -> None:
    system = sim.maas_system()
    tasks = sim.make_tasks(3, seed=5)

    def run(sys_, task):
        if task.id == tasks[1].id:
            raise RuntimeError("boom")
        return system.run(sys_, task)

    res = refine(system.build, tasks, numeric_match, 0, run=run, feedback="none")
    assert res.rounds[0].total == 3 and tasks[1].id in res.rounds[0].failures


def test_default_runner_runs_a_maas_workflow() -> None:
    from agentracer.refinement import default_runner

    system = sim.maas_system()
    task = next(t for t in sim.make_tasks(10, seed=6) if not {"dozen", "percent", "nearest ten"} & set(t.keywords))
    answer = default_runner(system.build(), task)
    assert "ANSWER:" in answer and numeric_match(answer, task)


def test_guard_rollback_on_a_workflow_instance_clears_the_operator_prompt() -> None:
    """Instance mode (no factory): the rollback re-tells the plugin the previous, empty, feedback."""
    from agentracer_maas import instrumentation_of
    from maas_shaped import FixedController, MathWorkflow, ScriptedLLM, kind_of, math_script

    base = math_script({"program": lambda v: v + 1 if v % 2 else v})  # wrong on odd answers

    def script(prompt: str) -> str:
        if "### Feedback for" in prompt and kind_of(prompt) == "program":
            return "```python\ndef solve():\n    return -1\n```"  # feedback that breaks everything
        return base(prompt)

    llm = ScriptedLLM(script)
    wf = MathWorkflow(llm, FixedController([["Programmer"]]))
    tasks = [{"id": f"q{i}", "question": f"Compute {i} * 3 + 1.", "answer": str(i * 3 + 1)} for i in range(4)]
    res = agentracer.refine(wf, tasks, "numeric", rounds=1, tracer=_blame("Programmer", "it added one"))
    assert res.accuracies == [0.5, 0.5] and res.rounds[1].candidate_accuracy == 0.0 and not res.rounds[1].accepted
    assert instrumentation_of(wf).feedback == {}
    n = len(llm.prompts)
    asyncio.run(wf("Compute 2 * 3 + 1."))
    assert llm.prompts[n:] and not any("### Feedback for" in p for p in llm.prompts[n:])


def test_default_runner_runs_a_langgraph_graph_through_its_plugin() -> None:
    """``default_runner`` is the ``agentracer_run`` hook: the LangGraph plugin answers with the last message."""
    pytest.importorskip("langgraph")
    from agentracer.refinement import default_runner
    from agentracer_langgraph.fakes import scripted
    from agentracer_langgraph.sample_graphs import pipeline_graph

    graph = pipeline_graph({"a": scripted(["thinking"]), "b": scripted(["ANSWER: 7"])})
    assert default_runner(graph, {"question": "What is 3 + 4?", "answer": "7"}) == "ANSWER: 7"


def test_default_runner_says_when_no_plugin_runs_the_system() -> None:
    from agentracer.refinement import default_runner

    with pytest.raises(TypeError, match="no installed plugin knows how to run a object; pass run="):
        default_runner(object(), "q")
