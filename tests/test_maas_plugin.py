"""MaAS plugin: operator steps + LLM children, architecture, fork, feedback, never breaking the host.

Runs on ``tests/maas_shaped``, our own MaAS-shaped workflow (operators with ``_fill_node`` -> ``llm.aask``,
a seeded stochastic controller); only the LLM is scripted.
"""

from __future__ import annotations

import asyncio

import agentracer
import pytest
from agentracer import Recorder
from agentracer_maas import find_operators, instrumentation_of, is_maas, override_output, uninstrument_workflow
from agentracer_maas import plugin as maas_plugin
from maas_shaped import (
    CodeWorkflow,
    FixedController,
    LayerController,
    MathWorkflow,
    Operator,
    ScriptedLLM,
    kind_of,
    last_int,
    math_script,
)

PROBLEM = "Compute 17 * 3 + 4."


def _math(layers=None, seed=0, bugs=None):
    llm = ScriptedLLM(math_script(bugs))
    ctl = FixedController(layers) if layers is not None else LayerController(seed=seed)
    return MathWorkflow(llm, ctl), llm


def _run(wf, problem=PROBLEM, **kw):
    return asyncio.run(wf(problem, **kw))


def _ops(trace):
    return [(s.index, s.agent) for s in trace.agent_steps()]


def test_records_operators_llm_children_and_architecture(span_exporter) -> None:
    provider, exporter = span_exporter
    wf, llm = _math(seed=3)
    rec = Recorder(tracer_provider=provider, capture_content=True)
    assert agentracer.instrument(wf, recorder=rec) is wf and isinstance(wf, MathWorkflow)
    answer, cost, logprob = _run(wf)
    tr = rec.last_trace()
    assert tr.framework == "maas" and tr.task == PROBLEM and last_int(answer) == "55"
    arch = tr.metadata["maas"]["architecture"]
    assert arch and all(isinstance(layer, list) for layer in arch)
    # operator steps follow the sampled architecture (EarlyStop is not called by the workflow),
    # then the workflow's own final ensemble, which is a distinct agent
    expected = [n for layer in arch for n in layer if n != "EarlyStop" and n != "ScEnsemble"]
    got = [a for _, a in _ops(tr) if a != "ScEnsemble" and a != "ScEnsemble@sc_ensemble"]
    assert got == expected
    for s in tr.agent_steps():
        assert s.replay["operator_call"] == [x.index for x in tr.agent_steps()].index(s.index)
    llm_steps = [s for s in tr.steps if s.kind == "llm_call"]
    assert len(llm_steps) == len(llm.prompts) > 0
    for s, prompt in zip(llm_steps, llm.prompts, strict=True):
        assert tr.steps[s.parent].parent is None and tr.steps[s.parent].agent == s.agent
        assert s.metadata["messages"][-1]["content"] == prompt
        assert s.metadata["model"] == "scripted-llm"
    assert tr.metadata["maas"]["log_prob"] == pytest.approx(logprob)
    assert tr.metadata["maas"]["cost"] == pytest.approx(cost)
    names = {sp.name for sp in exporter.get_finished_spans()}
    assert {"invoke_workflow maas", "chat scripted-llm"} <= names
    assert {f"invoke_agent {a}" for _, a in _ops(tr)} <= names


def test_step_order_and_names_fixed_architecture() -> None:
    wf, llm = _math([["GenerateCoT"], ["Programmer", "SelfRefine"], ["MultiGenerateCoT"]])
    wf.custom = wf.selection_operator_instances["Generate"].__class__(llm)  # a second Generate: name clash
    rec = Recorder()
    agentracer.instrument(wf, recorder=rec)
    _run(wf)
    tr = rec.last_trace()
    assert [a for _, a in _ops(tr)] == [
        "GenerateCoT", "Programmer", "SelfRefine", "MultiGenerateCoT", "ScEnsemble@sc_ensemble"
    ]
    kids = {a: sum(1 for s in tr.steps if s.kind == "llm_call" and s.agent == a) for _, a in _ops(tr)}
    assert kids == {"GenerateCoT": 1, "Programmer": 1, "SelfRefine": 1, "MultiGenerateCoT": 3,
                    "ScEnsemble@sc_ensemble": 1}
    names = find_operators(wf)
    assert names["Generate"] is wf.selection_operator_instances["Generate"]
    assert names["Generate@custom"] is wf.custom
    assert names["ScEnsemble@sc_ensemble"] is wf.sc_ensemble
    prog = tr.steps[_ops(tr)[1][0]]
    assert prog.metadata["output"]["output"] == "55" and "def solve" in prog.metadata["output"]["code"]


def test_operators_detected_structurally_not_by_list() -> None:
    class Summarize(Operator):  # an operator MaAS does not ship: found by its shape
        async def __call__(self, problem: str) -> dict:
            return await self._fill_node(("response",), f"Answer directly.\n{problem}")

    class Flow:
        def __init__(self, llm):
            self.llm = llm
            self.step_one = Summarize(llm, "Summarize")

        async def __call__(self, problem: str):
            return (await self.step_one(problem=problem))["response"], 0.0, 0.0

    llm = ScriptedLLM(math_script())
    flow = Flow(llm)
    assert is_maas(flow)
    assert not is_maas(object()) and not is_maas(flow.step_one) and not is_maas(Flow)
    assert maas_plugin.agentracer_wrap(system=object(), recorder=Recorder()) is None
    rec = Recorder()
    agentracer.instrument(flow, recorder=rec)
    asyncio.run(flow(PROBLEM))
    tr = rec.last_trace()
    assert [(s.agent, s.kind, s.parent) for s in tr.steps] == [("Summarize", "agent_message", None),
                                                              ("Summarize", "llm_call", 0)]


def test_code_workflow_test_and_custom_code_generate() -> None:
    def script(prompt: str) -> str:
        k = kind_of(prompt)
        if k == "generate":
            return "```python\ndef add(a, b):\n    return a - b\n```"  # buggy draft
        if k == "reflect":
            return "```python\ndef add(a, b):\n    return a * b\n```"  # still wrong
        return "```python\ndef add(a, b):\n    return a + b\n```"

    llm = ScriptedLLM(script)
    wf = CodeWorkflow(llm, LayerController(seed=1), cases={"add": [((2, 3), 5), ((1, 1), 2)]})
    rec = Recorder()
    agentracer.instrument(wf, recorder=rec)
    solution, _, _ = asyncio.run(wf("Add two numbers.", entry_point="add"))
    assert "a + b" in solution
    tr = rec.last_trace()
    assert [a for _, a in _ops(tr)] == ["Generate", "Test", "CustomCodeGenerate"]
    test_step = tr.steps[_ops(tr)[1][0]]
    assert test_step.metadata["output"]["result"] is False
    assert sum(1 for s in tr.steps if s.parent == test_step.index) == 2  # two reflection calls inside Test


def test_fork_replays_prefix_overrides_k_reruns_suffix() -> None:
    wf, llm = _math([["GenerateCoT"], ["Programmer", "SelfRefine"], ["ScEnsemble"]])
    rec = Recorder()
    agentracer.instrument(wf, recorder=rec)
    _run(wf)
    tr = rec.last_trace()
    ops = _ops(tr)
    assert [a for _, a in ops] == ["GenerateCoT", "Programmer", "SelfRefine", "ScEnsemble"]
    k = ops[1][0]  # Programmer
    wf.controller.layers = [["Generate"]]  # the controller would now choose otherwise: the fork must not ask it
    calls_before, ctl_calls = len(llm.prompts), wf.controller.calls
    fork = agentracer.fork(wf, tr, k, "999")
    result, new = fork()
    assert wf.controller.calls == ctl_calls and new.metadata["maas"]["architecture"] == tr.metadata["maas"]["architecture"]
    assert new.metadata["fork"] == {"parent_run": tr.run_id, "step": k, "operator_call": 1}
    assert [a for _, a in _ops(new)] == [a for _, a in ops]
    nk = _ops(new)[1][0]
    # before k: every LLM call was served from the recording, identical to the original
    before = [s for s in new.steps if s.kind == "llm_call" and s.parent < nk]
    assert before and all(s.replay.get("served_from") is not None for s in before)
    assert [s.content for s in before] == [s.content for s in tr.steps if s.kind == "llm_call" and s.parent < k]
    # k: replaced, same schema (code kept, output replaced), no LLM call
    assert new.steps[nk].replay.get("overridden") is True
    assert new.steps[nk].metadata["output"] == {"code": tr.steps[k].metadata["output"]["code"], "output": "999"}
    assert not any(s.parent == nk for s in new.steps)
    # after k: ran again, live, and saw the replaced output
    after = [s for s in new.steps if s.kind == "llm_call" and s.parent > nk]
    assert after and all(s.replay.get("served_from") is None for s in after)
    fresh = llm.prompts[calls_before:]
    assert len(fresh) == len(after) and "Solution: 999" in fresh[0]
    assert fork.replay.served == len(before)
    again, new2 = fork()  # a fork can be run again: the prefix is served afresh
    assert fork.replay.served == len(before) and [s.content for s in new2.steps] == [s.content for s in new.steps]
    assert isinstance(result, tuple) and len(result) == 3


def test_fork_flips_a_failing_run() -> None:
    # GenerateCoT is wrong (+1); SelfRefine trusts the draft it is given; the fork at step 0 repairs the run
    def script(prompt: str) -> str:
        base = math_script({"cot": lambda v: v + 1})
        if kind_of(prompt) == "refine":
            return f"Polished: the answer is {last_int(prompt.split('Solution:')[-1])}."
        return base(prompt)

    llm = ScriptedLLM(script)
    wf = MathWorkflow(llm, FixedController([["GenerateCoT"], ["SelfRefine"]]))
    rec = Recorder()
    agentracer.instrument(wf, recorder=rec)
    answer, _, _ = _run(wf)
    assert last_int(answer) == "56"
    tr = rec.last_trace()
    (result, new) = agentracer.fork(wf, tr, 0, "The answer is 55.")()
    assert last_int(result[0]) == "55" and new.steps[0].content == "The answer is 55."
    with pytest.raises(agentracer.TraceError, match="step 1"):
        agentracer.fork(wf, tr, 1, "x")  # an llm_call child is not an operator step


def test_fork_inside_running_loop() -> None:
    wf, _ = _math([["GenerateCoT"], ["SelfRefine"]])
    rec = Recorder()
    agentracer.instrument(wf, recorder=rec)
    _run(wf)
    tr = rec.last_trace()

    async def main():
        fork = agentracer.fork(wf, tr, 0, "The answer is 1.")
        return await fork.arun(), fork()

    (r1, t1), (r2, t2) = asyncio.run(main())
    assert r1[0] == r2[0] and t1.steps[0].content == t2.steps[0].content == "The answer is 1."


def test_override_output_keeps_schema() -> None:
    multi = {"response": [{"response": "a"}, {"response": "b"}, {"response": "c"}]}
    assert override_output(multi, "X") == {"response": [{"response": "X"}] * 3}
    assert override_output({"result": True, "solution": "old"}, "new") == {"result": True, "solution": "new"}
    assert override_output({"solution_letter": "A"}, "B") == {"solution_letter": "B"}
    assert override_output({"response": "a"}, '{"response": "json"}') == {"response": "json"}
    assert override_output("plain", "new") == "new"


def test_feedback_reaches_only_that_operator() -> None:
    wf, llm = _math([["GenerateCoT", "Programmer"], ["SelfRefine"], ["ScEnsemble"]])
    agentracer.instrument(wf, recorder=Recorder())
    text = "Step 0 was wrong: evaluate multiplication before addition."
    assert agentracer.inject_feedback(wf, "Programmer", text) is wf
    rec = agentracer.recorder_of(wf)
    _run(wf)
    tr = rec.last_trace()
    llm_steps = [s for s in tr.steps if s.kind == "llm_call"]
    assert len(llm_steps) == len(llm.prompts) >= 4
    by_agent = [(s.agent, p) for s, p in zip(llm_steps, llm.prompts, strict=True)]
    assert any(a == "Programmer" for a, _ in by_agent)
    for agent, prompt in by_agent:
        assert (text in prompt) == (agent == "Programmer"), agent
    # replacing and clearing
    agentracer.inject_feedback(wf, "programmer", "")
    n = len(llm.prompts)
    _run(wf)
    assert not any(text in p for p in llm.prompts[n:])
    with pytest.raises(ValueError, match="no operator named 'Planner'"):
        agentracer.inject_feedback(wf, "Planner", "x")


def test_feedback_works_without_prior_instrumentation() -> None:
    wf, llm = _math([["GenerateCoT"], ["SelfRefine"]])
    agentracer.inject_feedback(wf, "SelfRefine", "Double-check the sum.")
    _run(wf)
    assert [("Double-check the sum." in p) for p in llm.prompts] == [False, True, False]  # CoT, SelfRefine, final ensemble


class RaisingRecorder(Recorder):
    """A recorder whose every entry point raises: the host run must not notice."""

    def start_run(self, *a, **k):
        raise RuntimeError("recorder bug: start_run")

    def begin_step(self, *a, **k):
        raise RuntimeError("recorder bug: begin_step")

    def begin_llm(self, *a, **k):
        raise RuntimeError("recorder bug: begin_llm")

    def end_run(self, *a, **k):
        raise RuntimeError("recorder bug: end_run")


def test_raising_recorder_leaves_host_result_identical() -> None:
    problems = [PROBLEM, "Compute 2 * 3 * 4.", "Compute 100 - 7 * 3."]
    plain, llm_a = _math(seed=11)
    want = [_run(plain, p) for p in problems]
    inst, llm_b = _math(seed=11)
    agentracer.instrument(inst, recorder=RaisingRecorder())
    agentracer.inject_feedback(inst, "GenerateCoT", "")  # feedback machinery on, but empty
    got = [_run(inst, p) for p in problems]
    assert got == want and llm_a.prompts == llm_b.prompts
    # and a recorder whose internals fail (the safe wrappers swallow it)
    safe_rec = Recorder()
    safe_rec._begin_step = safe_rec._begin_llm = lambda *a, **k: 1 / 0  # type: ignore[method-assign]
    again, llm_c = _math(seed=11)
    agentracer.instrument(again, recorder=safe_rec)
    assert [_run(again, p) for p in problems] == want and safe_rec.errors > 0


def test_concurrent_runs_do_not_mix() -> None:
    wf, _ = _math([["GenerateCoT"], ["Programmer"], ["ScEnsemble"]])
    rec = Recorder()
    agentracer.instrument(wf, recorder=rec)
    problems = [f"Compute {i} * 3 + 1." for i in range(4)]

    async def main():
        return await asyncio.gather(*(wf(p) for p in problems))

    results = asyncio.run(main())
    traces = {t.task: t for t in rec.traces}
    assert set(traces) == set(problems)
    for p, (answer, _, _) in zip(problems, results, strict=True):
        t = traces[p]
        assert [a for _, a in _ops(t)] == ["GenerateCoT", "Programmer", "ScEnsemble"]
        i = int(p.split()[1])
        assert all(str(i * 3 + 1) in s.content for s in t.steps if s.kind == "llm_call" and s.agent == "GenerateCoT")
        assert last_int(answer) == str(i * 3 + 1)


def test_uninstrument_and_plugin_listing() -> None:
    wf, llm = _math([["GenerateCoT"]])
    orig_cls = type(wf.selection_operator_instances["GenerateCoT"])
    agentracer.instrument(wf, recorder=Recorder())
    assert type(wf.selection_operator_instances["GenerateCoT"]) is not orig_cls
    uninstrument_workflow(wf)
    assert type(wf.selection_operator_instances["GenerateCoT"]) is orig_cls and type(wf) is MathWorkflow
    assert instrumentation_of(wf) is None and "aask" not in vars(llm)
    from agentracer.hooks import list_plugins

    info = {p["name"]: p for p in list_plugins()}
    assert "maas" in info and "MaAS" in info["maas"]["framework"]
