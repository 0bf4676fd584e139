"""Fault injection: one test per fault type (the mutation itself, and the run now fails), plus the guards."""

from __future__ import annotations

import ast
import random

import pytest
from agentracer import Step, Trace, TraceError
from agentracer.annotation.generate import GeneratedSystem
from agentracer.annotation.inject import FAULTS, InjectionError, MutationContext, applicable_faults, inject, mutate


def _clean_run(domain: str, agent: str, *, need: str | None = None, size: int = 8):
    """A fault-free recorded run of ``domain`` whose ``agent`` step text contains ``need``."""
    for seed in range(40):
        system = GeneratedSystem.create("python", domain, seed, size=size, fault_plan={})
        trace = system.record()
        assert trace.outcome == "success"
        step = next((s for s in trace.agent_steps() if s.agent == agent and (need is None or need in s.content)), None)
        if step is not None:
            return system, trace, step
    raise AssertionError(f"no {domain} run with a {agent} step containing {need!r}")


def _injected(system, trace, step, fault):
    ann = inject(trace, step.index, fault, system=system, seed=1)
    assert ann is not None, f"{fault} at step {step.index} did not make the run fail"
    assert ann.source == "injection" and ann.fault_type == fault
    assert (ann.gold.agent, ann.gold.step) == (step.agent, step.index)
    assert ann.trace.outcome == "failure" and ann.metadata["verified"] is True
    assert ann.trace.steps[step.index].content == ann.metadata["mutated"] != ann.metadata["original"]
    assert ann.counterfactual == step.content
    # the prefix was served by the record/replay layer
    assert ann.metadata["live_calls_before_fork"] == 0
    return ann


def _funcs(code: str) -> ast.Module:
    return ast.parse(code)


def test_wrong_return_value_is_an_ast_mutation_of_the_return() -> None:
    system, trace, step = _clean_run("code", "Integrator", need="sum(")
    ann = _injected(system, trace, step, "wrong_return_value")
    ret = [n for n in ast.walk(_funcs(ann.metadata["mutated"])) if isinstance(n, ast.Return)][0]
    assert ast.unparse(ret.value) == "len(xs)"  # sum -> len


def test_inverted_condition_flips_a_comparison_in_code_and_a_word_in_prose() -> None:
    system, trace, step = _clean_run("code", "Coder", need=" > ")
    ann = _injected(system, trace, step, "inverted_condition")
    cmp_ = [n for n in ast.walk(_funcs(ann.metadata["mutated"])) if isinstance(n, ast.Compare)][0]
    assert isinstance(cmp_.ops[0], ast.LtE)
    system, trace, step = _clean_run("math", "Planner", need="add")
    ann = _injected(system, trace, step, "inverted_condition")
    before, after = step.content.splitlines(), ann.metadata["mutated"].splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=False) if a != b]
    assert len(changed) == 1 and {"add", "subtract"} == {changed[0][0].split()[1], changed[0][1].split()[1]}


def test_off_by_one_changes_a_result_or_a_constant_by_one() -> None:
    system, trace, step = _clean_run("math", "Calculator")
    ann = _injected(system, trace, step, "off_by_one")
    old = int(step.content.rsplit("=", 1)[1])
    new = int(ann.metadata["mutated"].rsplit("=", 1)[1])
    assert abs(new - old) == 1 and ann.metadata["mutated"].rsplit("=", 1)[0] == step.content.rsplit("=", 1)[0]
    code = "def stage_1(xs):\n    return [x for x in xs if x > 3]\n"
    out = mutate("off_by_one", code, rng=0)
    assert ast.unparse(_funcs(out)) in {ast.unparse(_funcs(code.replace("3", "2"))), ast.unparse(_funcs(code.replace("3", "4")))}


def test_wrong_tool_argument_changes_a_lookup_argument() -> None:
    system, trace, step = _clean_run("tools", "Searcher")
    ann = _injected(system, trace, step, "wrong_tool_argument")
    assert ann.metadata["mutated"].startswith("CALL lookup(")
    child = [s for s in ann.trace.steps if s.parent == step.index and s.kind == "tool_call"]
    orig = [s for s in trace.steps if s.parent == step.index and s.kind == "tool_call"]
    assert child and orig and child[0].tool_args != orig[0].tool_args  # the tool really ran with the new argument


def test_dropped_constraint_drops_a_plan_item_and_a_filter_clause() -> None:
    system, trace, step = _clean_run("math", "Planner", size=10)
    ann = _injected(system, trace, step, "dropped_constraint")
    assert len(ann.metadata["mutated"].splitlines()) == len(step.content.splitlines()) - 1
    numbers = [ln.split(".")[0] for ln in ann.metadata["mutated"].splitlines()[2:]]
    assert numbers == [str(i + 1) for i in range(len(numbers))]  # renumbered: the gap is not visible
    system, trace, step = _clean_run("code", "Coder", need=" if ")
    ann = _injected(system, trace, step, "dropped_constraint")
    comp = [n for n in ast.walk(_funcs(ann.metadata["mutated"])) if isinstance(n, ast.comprehension)][0]
    assert comp.ifs == []


def test_fabricated_fact_replaces_a_stated_entity_with_another_of_the_run() -> None:
    system, trace, step = _clean_run("tools", "Analyst", size=11)
    ann = _injected(system, trace, step, "fabricated_fact")
    said = step.content.rsplit(" is ", 1)[1].rstrip(".")
    now = ann.metadata["mutated"].rsplit(" is ", 1)[1].rstrip(".")
    assert now != said and now[:1].isupper() and now not in trace.agents


def test_wrong_handoff_reroutes_the_run() -> None:
    system, trace, step = _clean_run("tools", "Router")
    ann = _injected(system, trace, step, "wrong_handoff")
    assert "-> Searcher" in step.content and "-> Searcher" not in ann.metadata["mutated"]
    nxt = ann.trace.agent_steps()[[s.index for s in ann.trace.agent_steps()].index(step.index) + 1]
    assert nxt.agent != "Searcher" and nxt.agent in ann.metadata["mutated"]  # the recipient really spoke next


def test_every_fault_has_a_test_above() -> None:
    assert set(FAULTS) == {"wrong_return_value", "inverted_condition", "off_by_one", "wrong_tool_argument",
                           "dropped_constraint", "fabricated_fact", "wrong_handoff"}


def test_a_harmless_injection_is_not_kept() -> None:
    # a slip in the operation just before the Verifier is caught and corrected: the run still succeeds
    for seed in range(40):
        system = GeneratedSystem.create("python", "math", seed, size=10, fault_plan={})
        trace = system.record()
        steps = trace.agent_steps()
        pos = next((i for i, s in enumerate(steps) if s.agent == "Verifier"), None)
        if pos:
            break
    before = steps[pos - 1]
    assert before.agent in ("Calculator", "Solver")
    ann = inject(trace, before.index, "off_by_one", system=system, seed=2)
    assert ann is None
    kept = inject(trace, before.index, "off_by_one", system=system, seed=2, require_failure=False)
    assert kept is not None and kept.trace.outcome == "success" and "Correction" in kept.trace.steps[steps[pos].index].content


def test_injection_without_a_runnable_system_is_marked_unverified() -> None:
    tr = Trace(run_id="r", task="t", outcome="success")
    tr.add_step(Step(index=0, agent="Planner", content="Plan: keep the numbers greater than 3"))
    tr.add_step(Step(index=0, agent="Coder", content="def f(xs):\n    return [x for x in xs if x > 3]\n"))
    ann = inject(tr, 1, "inverted_condition", seed=0)
    assert ann.metadata["verified"] is False and ann.trace.outcome == "unknown"
    assert "x <= 3" in ann.trace.steps[1].content and tr.steps[1].content.endswith("x > 3]\n")  # original untouched


def test_guards() -> None:
    with pytest.raises(InjectionError, match="unknown fault"):
        mutate("nope", "x")
    with pytest.raises(InjectionError, match="does not apply"):
        mutate("wrong_handoff", "no agent is named here", ctx=MutationContext(agents=["A", "B"]))
    tr = Trace(run_id="r", outcome="success")
    tr.add_step(Step(index=0, agent="A", content="x = 1"))
    with pytest.raises(TraceError, match="no step 5"):
        inject(tr, 5, "off_by_one")
    assert "off_by_one" in applicable_faults("the value is 41")
    assert applicable_faults("") == []
    # mutators never raise on odd input
    rng = random.Random(0)
    for text in ("", "(((", "def f(:", "->", "CALL x(", "```python\nbroken(\n```", "1.2.3", "é" * 10):
        for f in FAULTS.values():
            f.mutate(text, rng, MutationContext(agents=["A", "B"], vocabulary=["X"]))


@pytest.mark.parametrize("framework", ["langgraph", "autogen", "maas"])
def test_injected_samples_from_plugin_forks_do_not_give_the_label_away(framework: str) -> None:
    for seed in range(4, 20):  # a seed where the wrong argument matters (in a small KB it can hit the same fact)
        system = GeneratedSystem.create(framework, "tools", seed, size=8, fault_plan={})
        trace = system.record()
        step = next(s for s in trace.agent_steps() if s.agent == "Searcher")
        if inject(trace, step.index, "wrong_tool_argument", system=system, seed=1) is not None:
            break
    ann = _injected(system, trace, step, "wrong_tool_argument")
    tr = ann.trace
    assert "fork" not in tr.metadata
    for s in tr.steps:
        assert not {"overridden", "served_from", "source"} & set(s.replay), (s.index, s.replay)
        assert not {"replaced", "injected", "replaced_output"} & set(s.metadata)
    kids = [s for s in tr.steps if s.parent == step.index]
    llm = [s for s in kids if s.kind == "llm_call"]
    tool = [s for s in kids if s.kind == "tool_call"]
    assert llm and all(c.content == ann.metadata["mutated"] for c in llm)  # the model "said" the faulty call
    # the tool ran with the faulty arguments (AutoGen patches the output after the call; the trace is resynced)
    from agentracer.annotation.domains import parse_tool_calls

    (name, args), = parse_tool_calls(ann.metadata["mutated"])
    assert tool and tool[0].tool_args == list(args)
