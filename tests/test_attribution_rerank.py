"""``rerank:BACKEND``: the embedded shortlist decided by an LLM, with a safe fallback to the embedded answer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from agentracer.attribution import get_attributor
from agentracer.attribution.embedded import EmbeddedAttributor
from agentracer.attribution.rerank import Rerank
from agentracer.trace import Attribution, Step, Trace
from test_attribution_backends import GT, Scripted, _nested_trace, _trace


def _shortlist_of(user: str) -> list[int]:
    return [int(n) for n in re.findall(r"^- Step (\d+) \(", user, flags=re.M)]


def test_llm_choice_among_the_shortlist_is_the_answer() -> None:
    base = EmbeddedAttributor().attribute(_trace(9))

    def answer(user: str) -> str:
        last = _shortlist_of(user)[-1]
        return f"Agent Name: whoever\nStep Number: {last}\nReason for Mistake: it checks nothing"

    gen = Scripted(answer)
    att = Rerank(gen).attribute(_trace(9), ground_truth=GT)
    user = gen.calls[0][0][-1]["content"]
    shortlist = _shortlist_of(user)
    assert len(shortlist) == 3 and shortlist[0] == base.step  # the embedded answer first, then its evidence
    assert att.step == shortlist[-1] and att.agent == _trace(9).steps[att.step].agent  # the step decides the agent
    assert att.reason == "it checks nothing" and att.evidence == shortlist
    assert att.metadata["rerank"] == "changed" and att.metadata["calls"] == 1
    assert f"The answer to the problem is: {GT}" in user and "Step 8 - " in user  # w/ G, the whole log


@pytest.mark.parametrize(
    ("reply", "why"),
    [("I cannot tell.", "unreadable"), ("Agent Name: Planner\nStep Number: 99\nReason for Mistake: x", "unreadable")],
)
def test_unreadable_answers_fall_back_to_the_embedded_answer(reply: str, why: str) -> None:
    base = EmbeddedAttributor().attribute(_trace(9))
    att = Rerank(Scripted(lambda user: reply)).attribute(_trace(9))
    assert (att.agent, att.step) == (base.agent, base.step)
    assert att.metadata["rerank"] == "fallback" and att.metadata["why"] == why and att.raw == reply


def test_a_step_off_the_shortlist_falls_back() -> None:
    def answer(user: str) -> str:
        off = next(i for i in range(9) if i not in _shortlist_of(user))
        return f"Agent Name: x\nStep Number: {off}\nReason for Mistake: y"

    gen = Scripted(answer)
    base = EmbeddedAttributor().attribute(_trace(9))
    att = Rerank(gen).attribute(_trace(9))
    assert (att.step, att.metadata["rerank"]) == (base.step, "fallback")
    assert "not on the shortlist" in att.metadata["why"]


def test_log_positions_map_to_trace_indices_with_nested_calls() -> None:
    # top-level steps are trace indices 0, 1, 3, 4 (2 is an LLM call nested in 1): positions 0..3 in the log
    t = _nested_trace()

    class Fixed:
        name = "fixed"

        def attribute(self, trace: Trace, ground_truth: str | None = None) -> Attribution:
            return Attribution(agent="Solver", step=1, method="fixed", evidence=[1, 3, 4])

    gen = Scripted(lambda user: "Agent Name: Verifier\nStep Number: 2\nReason for Mistake: accepted it")
    att = Rerank(gen, k=2, base=Fixed()).attribute(t)
    assert _shortlist_of(gen.calls[0][0][-1]["content"]) == [1, 2]  # positions of trace steps 1 and 3
    assert (att.agent, att.step) == ("Verifier", 3)


def test_single_candidate_and_empty_trace_need_no_call() -> None:
    one = Trace(run_id="one", task="T", outcome="failure")
    one.add_step(Step(index=0, agent="Solver", content="41"))
    gen = Scripted(lambda user: "never asked")
    att = Rerank(gen).attribute(one)
    assert (att.agent, att.step, att.metadata["rerank"], gen.calls) == ("Solver", 0, "single", [])
    empty = Rerank(gen).attribute(Trace(run_id="e", task="T"))
    assert empty.parsed is False and empty.step is None


def test_method_strings_and_bad_options() -> None:
    with pytest.raises(ValueError, match="needs a backend"):
        get_attributor("rerank")
    with pytest.raises(ValueError, match="k must be an integer"):
        get_attributor("rerank:openai:m@http://127.0.0.1:9?k=two")
    with pytest.raises(ValueError, match="k >= 2"):
        get_attributor("rerank:openai:m@http://127.0.0.1:9?k=1")
    att = get_attributor("rerank:openai:m@http://127.0.0.1:9?k=2&temperature=0.2")
    assert isinstance(att, Rerank) and att.k == 2 and att.sampling["temperature"] == 0.2
    assert att.name == "rerank:openai:m@http://127.0.0.1:9"


def test_rerank_end_to_end_on_tiny_qwen3(tiny_qwen3: Path) -> None:
    att_m = get_attributor(f"rerank:transformers:{tiny_qwen3}?max_new_tokens=8&k=3")
    t = _trace(7)
    for gt in (None, GT):
        att = att_m.attribute(t, ground_truth=gt)
        assert isinstance(att, Attribution) and att.method == att_m.name
        assert att.step in att.metadata["candidates"] and att.agent == t.steps[att.step].agent
        assert att.metadata["rerank"] in ("kept", "changed", "fallback")


def test_rerank_is_cross_validated_through_its_base(whowhen_dir: Path) -> None:
    from agentracer.attribution.base import TrainableAttributor
    from agentracer.evaluation import evaluate, load_items

    r = Rerank(Scripted(lambda user: "no answer"))
    assert isinstance(r, TrainableAttributor)
    items = load_items(whowhen_dir)[0][:30]
    fitted = r.fit([e.item for e in items])
    assert fitted is not r and fitted.base is not r.base and fitted.generator is r.generator
    assert fitted.base.params["n_traces"] == 30
    # with an LLM that never answers, the reranker is exactly its cross-validated embedded base
    rep = evaluate(items, r, folds=3)
    base = evaluate(items, EmbeddedAttributor(), folds=3)
    assert rep["learns"] is True and rep["agent_accuracy"] == base["agent_accuracy"]
    assert rep["step_accuracy"] == base["step_accuracy"]
