"""Counterfactual replay: each strategy on systems whose decisive step is known by construction."""

from __future__ import annotations

import math

import pytest
from agentracer import Attribution, Step, Trace
from agentracer.annotation.generate import GeneratedSystem
from agentracer.annotation.oracle import LLMOracle, ScriptedOracle, oracle_messages
from agentracer.annotation.replay import (
    ReplayError,
    ReplayOutcome,
    count_live_calls_before,
    find_decisive,
    rank_candidates,
    replay_budget,
)


class ChainSystem:
    """A toy Replayable: n agents each add 1; recorded step i is off by ``errors[i]``; success iff the sum is n.

    The system's own agents repeat their recorded slips (``errors`` is positional), the oracle adds exactly 1.
    """

    def __init__(self, n: int, errors: dict[int, int]) -> None:
        self.n = n
        self.errors = errors
        self.calls: list[tuple[str, int]] = []
        self.trace = Trace(run_id="chain", task=f"add 1, {n} times", outcome="failure")
        for i in range(n):
            self.trace.add_step(Step(index=0, agent=f"A{i % 3}", content=str(1 + errors.get(i, 0))))

    def _outcome(self, outputs: list[int]) -> ReplayOutcome:
        return ReplayOutcome(success=sum(outputs) == self.n, final_answer=str(sum(outputs)))

    def run_with(self, step: int, replacement: str) -> ReplayOutcome:
        self.calls.append(("single", step))
        out = [1 + self.errors.get(i, 0) for i in range(self.n)]
        out[step] = int(replacement)
        return self._outcome(out)

    def run_from(self, step: int, oracle) -> ReplayOutcome:
        self.calls.append(("from", step))
        return self._outcome([1 + self.errors.get(i, 0) if i < step else int(oracle.act(self.trace, i))
                              for i in range(self.n)])


ONE = ScriptedOracle(lambda trace, step, gt: "1", name="adds-one")


class Ranked:
    """A fake attributor that ranks steps in a given order."""

    name = "ranked"

    def __init__(self, order: list[int]) -> None:
        self.order = order

    def rank(self, trace: Trace, ground_truth: str | None = None) -> list[int]:
        return self.order


@pytest.mark.parametrize("decisive", [0, 5, 17, 31])
def test_all_strategies_find_a_single_decisive_step(decisive: int) -> None:
    n = 32
    sysm = ChainSystem(n, {decisive: 2})
    lin = find_decisive(sysm.trace, sysm, ONE, strategy="linear")
    assert (lin.status, lin.step, lin.replays) == ("found", decisive, decisive + 1)
    assert lin.counterfactual == "1" and lin.agent == f"A{decisive % 3}"
    bis = find_decisive(sysm.trace, sysm, ONE, strategy="bisect")
    assert (bis.status, bis.step) == ("found", decisive)
    assert bis.replays <= replay_budget(n, "bisect") == math.ceil(math.log2(n)) + 2
    good = find_decisive(sysm.trace, sysm, ONE, strategy="prior", attributor=Ranked([decisive]))
    assert (good.status, good.step) == ("found", decisive) and good.replays <= 2
    bad = find_decisive(sysm.trace, sysm, ONE, strategy="prior", attributor=Ranked([(decisive + 7) % n, (decisive + 3) % n]))
    assert (bad.status, bad.step) == ("found", decisive)


def test_earliest_of_two_decisive_errors_is_the_answer() -> None:
    # step 4 is decisive; step 9 repeats in every run of the system's own agents, but the oracle fixes both
    sysm = ChainSystem(12, {4: 1, 9: -1, 10: 3})
    lin = find_decisive(sysm.trace, sysm, ONE, strategy="linear")
    # replacing 4 leaves -1+3; replacing 9 leaves +1+3; replacing 10 leaves +1-1 = 0 -> success
    assert (lin.status, lin.step) == ("found", 10)


def test_bisection_says_unsure_when_the_predicate_is_not_monotone() -> None:
    # +1 at 3 and -1 at 6 cancel: P(m) is True for m<=3, False for 4..6, True for 7..9, False after.
    sysm = ChainSystem(12, {3: 1, 6: -1, 9: 5})
    lin = find_decisive(sysm.trace, sysm, ONE, strategy="linear")
    assert (lin.status, lin.step) == ("found", 9)
    bis = find_decisive(sysm.trace, sysm, ONE, strategy="bisect")
    assert bis.status == "unsure" and bis.step is None  # not the wrong boundary at step 3
    assert "monotone" in bis.reason
    probed = find_decisive(sysm.trace, sysm, ONE, strategy="bisect", probes=6)
    assert probed.status == "unsure" and probed.step is None
    # a prior pointing at the right step is confirmed; one pointing at the cancelled error is not accepted
    assert find_decisive(sysm.trace, sysm, ONE, strategy="prior", attributor=Ranked([9])).step == 9
    wrong = find_decisive(sysm.trace, sysm, ONE, strategy="prior", attributor=Ranked([3, 6]))
    assert wrong.step in (9, None) and wrong.step != 3


def test_no_flip_and_unsolvable_oracle() -> None:
    sysm = ChainSystem(8, {1: 1, 5: 1})  # two independent decisive errors: no single replacement flips
    assert find_decisive(sysm.trace, sysm, ONE, strategy="linear").status == "none"
    assert find_decisive(sysm.trace, sysm, ONE, strategy="bisect").status == "unsure"
    bad_oracle = ScriptedOracle(lambda t, s, g: "2")
    res = find_decisive(ChainSystem(8, {2: 1}).trace, ChainSystem(8, {2: 1}), bad_oracle, strategy="bisect")
    assert res.status == "none" and "oracle" in res.reason


def test_replays_are_cached_and_counted() -> None:
    sysm = ChainSystem(16, {11: 1})
    res = find_decisive(sysm.trace, sysm, ONE, strategy="prior", attributor=Ranked([11, 11, 12]))
    assert res.found and res.replays == len(sysm.calls) == len(set(sysm.calls))


def test_rank_candidates_uses_prediction_then_neighbours() -> None:
    tr = ChainSystem(6, {}).trace

    class Pred:
        name = "pred"

        def attribute(self, trace, ground_truth=None):
            return Attribution(agent="A0", step=3, evidence=[5])

    assert rank_candidates(tr, Pred()) == [3, 5, 2, 4, 1, 0]


def test_rank_candidates_follows_the_embedded_step_distribution() -> None:
    """The embedded attributor ranks by its step probabilities: its first candidate is its own answer (a bug
    once ranked the trace's steps in order instead, so the prior strategy never used the prediction)."""
    from agentracer.annotation.generate import GeneratedSystem
    from agentracer.attribution import get_attributor

    att = get_attributor("embedded")
    checked = 0
    for seed in range(8):
        system = GeneratedSystem.create("python", "math", 10_000 + seed, size=12)
        trace = system.record()
        if trace.outcome != "failure":
            continue
        feats, p_step, _ = att.distributions(trace)
        order = rank_candidates(trace, att)
        assert sorted(order) == [s.index for s in trace.agent_steps()]
        assert order[:3] == att.attribute(trace).evidence
        by_index = {c.index: p for c, p in zip(feats.candidates, p_step, strict=True)}
        assert [by_index[i] for i in order] == sorted(by_index.values(), reverse=True)
        checked += 1
    assert checked >= 2


def test_strict_prefix_check_raises_on_a_live_call_before_the_fork() -> None:
    class Leaky(ChainSystem):
        def run_with(self, step, replacement):
            out = super().run_with(step, replacement)
            out.live_calls_before_fork = 1
            return out

    sysm = Leaky(4, {2: 1})
    with pytest.raises(ReplayError, match="live LLM"):
        find_decisive(sysm.trace, sysm, ONE, strategy="linear")
    assert find_decisive(sysm.trace, sysm, ONE, strategy="linear", strict=False).live_calls_before_fork == 3


@pytest.mark.parametrize("framework", ["python", "langgraph", "autogen", "camel"])
def test_generated_system_known_decisive_step_and_prefix_from_the_replay_layer(framework: str) -> None:
    # turn 4 is the 4th arithmetic step's slip; nothing else is wrong -> the decisive step is agent step 4
    system = GeneratedSystem.create(framework, "math", 7, size=12, fault_plan={4: "off_by_one"})
    trace = system.record()
    assert trace.outcome == "failure" and system.policy.faults == {4: "off_by_one"}
    want = trace.agent_steps()[4]
    results = {s: find_decisive(trace, system, system.oracle(), strategy=s, attributor=Ranked([want.index]))
               for s in ("linear", "bisect", "prior")}
    for s, res in results.items():
        assert (res.status, res.step, res.agent) == ("found", want.index, want.agent), s
        assert res.live_calls_before_fork == 0
    assert results["linear"].replays == 5
    # every replay served the recorded prefix: each LLM call before the fork point came from the recording
    out = system.run_with(want.index, system.oracle().act(trace, want.index))
    assert out.success and out.live_calls_before_fork == 0
    before = [s for s in out.trace.steps if s.kind == "llm_call" and s.parent < want.index]
    assert before and all("served_from" in s.replay for s in before)
    assert count_live_calls_before(out.trace, want.index) == 0
    after = [s for s in out.trace.steps if s.kind == "llm_call" and s.parent > want.index]
    assert after and not any("served_from" in s.replay for s in after)
    assert out.trace.steps[want.index].content == system.oracle().act(trace, want.index)
    assert out.trace.steps[want.index].metadata.get("replaced") is True or out.trace.metadata.get("fork")
    # langgraph and autogen are recorded and forked by their plugins (agentracer_fork); python and camel by
    # the generator itself (camel: on CAMEL's ChatAgent runtime)
    assert system.uses_plugin == (framework in ("langgraph", "autogen"))
    assert out.trace.framework == trace.framework == framework


def test_generated_maas_system_replays_through_the_plugin_fork() -> None:
    system = GeneratedSystem.create("maas", "tools", 3, size=8, fault_plan={2: "wrong_tool_argument"})
    trace = system.record()
    assert trace.outcome == "failure" and trace.framework == "maas"
    want = trace.agent_steps()[2]
    assert want.agent == "Searcher" and any(c.parent == want.index and c.kind == "tool_call" for c in trace.steps)
    for s in ("linear", "bisect"):
        res = find_decisive(trace, system, system.oracle(), strategy=s)
        assert (res.status, res.step) == ("found", want.index), s
        assert res.live_calls_before_fork == 0


def test_llm_oracle_sees_only_the_prefix_and_the_ground_truth_when_asked() -> None:
    system = GeneratedSystem.create("python", "math", 1, size=6, fault_plan={})
    trace = system.record()
    idx = trace.agent_steps()[2].index
    seen = []
    oracle = LLMOracle(lambda msgs: seen.append(msgs) or "Step 2: 1 + 1 = 2")
    assert oracle.act(trace, idx) == "Step 2: 1 + 1 = 2"
    text = seen[0][1]["content"]
    assert trace.agent_steps()[1].content in text and trace.agent_steps()[3].content not in text
    assert "Ground truth" not in text
    assert "Ground truth" in oracle_messages(trace, idx, ground_truth="42")[1]["content"]


def test_fork_replayable_drives_the_langgraph_plugin_fork_on_a_user_system() -> None:
    """Any system a plugin can fork is Replayable: a planner -> solver -> checker pipeline of fake LLMs."""
    import re

    import agentracer
    from agentracer.annotation.replay import ForkReplayable

    fakes = pytest.importorskip("agentracer_langgraph.fakes")
    graphs = pytest.importorskip("agentracer_langgraph.sample_graphs")

    def last_number(messages) -> int:
        for m in reversed(messages):
            found = re.findall(r"-?\d+", str(m.content))
            if found and m.type != "system":
                return int(found[-1])
        return 0

    planner = fakes.scripted(respond=lambda msgs: "PLAN: start from 41")  # the decisive slip: 42 was asked
    solver = fakes.scripted(respond=lambda msgs: f"VALUE: {last_number(msgs) * 2}")
    checker = fakes.scripted(respond=lambda msgs: f"ANSWER: {last_number(msgs)}")
    app = agentracer.instrument(graphs.pipeline_graph({"planner": planner, "solver": solver, "checker": checker}))
    from langchain_core.messages import HumanMessage

    app.invoke({"messages": [HumanMessage(content="Double 42.")]})
    trace = agentracer.recorder_of(app).last_trace()
    steps = trace.agent_steps()
    assert [s.agent for s in steps] == ["planner", "solver", "checker"]

    def fix(trace: Trace, step: int, gt) -> str:
        agent = trace.steps[step].agent
        prior = [s.content for s in trace.agent_steps() if s.index < step]
        if agent == "planner":
            return "PLAN: start from 42"
        n = int(re.findall(r"-?\d+", prior[-1])[-1])
        return f"VALUE: {n * 2}" if agent == "solver" else f"ANSWER: {n}"

    oracle = ScriptedOracle(fix)

    def ok(result, new) -> bool:
        return new is not None and "ANSWER: 84" in (new.final_answer or "")

    system = ForkReplayable(app, trace, ok)
    lin = find_decisive(trace, system, oracle, strategy="linear")
    assert (lin.status, lin.step, lin.agent) == ("found", steps[0].index, "planner")
    assert lin.live_calls_before_fork == 0
    bis = find_decisive(trace, system, oracle, strategy="bisect")
    assert (bis.status, bis.step) == ("found", steps[0].index)
    assert bis.executions > bis.replays  # run_from chains one fork per remaining step
    # a later step alone does not fix it: replacing the solver keeps the planner's 41
    out = system.run_with(steps[1].index, fix(trace, steps[1].index, None))
    assert not out.success and out.live_calls_before_fork == 0
