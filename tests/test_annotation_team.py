"""Orchestrator-led team generators: the web / files / multihop domains, on a plain loop and on AutoGen's
real MagenticOneGroupChat (scripted ledger client), and their labelling by replay or injection."""

from __future__ import annotations

import pytest
from agentracer.annotation.domains.team_domain import run_snippet
from agentracer.annotation.generate import GeneratedSystem, annotate_item

DOMAINS = ("web", "files", "multihop")


@pytest.mark.parametrize("domain", DOMAINS)
def test_fault_free_team_run_succeeds_with_a_long_orchestrated_trace(domain: str) -> None:
    s = GeneratedSystem.create("python", domain, 3, fault_plan={})
    tr = s.record()
    assert tr.outcome == "success", tr.final_answer
    steps = tr.agent_steps()
    assert len(steps) >= 28
    lead = s.domain.agents[0]
    assert steps[0].agent == lead and "Plan:" in steps[0].content  # the task ledger
    assert all((a.agent == lead) != (b.agent == lead) for a, b in zip(steps[1:], steps[2:], strict=False))
    assert any(c.kind == "tool_call" for c in tr.steps)


def test_names_wording_and_team_description_vary_by_seed() -> None:
    systems = [GeneratedSystem.create("python", "web", seed) for seed in range(8)]
    assert len({s.domain.agents for s in systems}) > 1
    assert len({s.domain.team_description(s.spec.task) for s in systems}) > 1
    assert len({s.domain.plan_text(s.spec.task).split("\n")[0] for s in systems}) > 1


def test_tools_return_nothing_errors_and_distractors() -> None:
    s = GeneratedSystem.create("python", "web", 0, fault_plan={})
    t = s.spec.task
    it = t.data["noise"][0]
    res = s.domain.search(t, f"{t.data['items'][0][0]} of {t.data['items'][0][1]}", 1)
    assert len(res.splitlines()) == 3  # the right page among distractors
    assert s.domain.visit(t, "https://nowhere.example/x", 0).startswith("Error 404")
    assert s.domain.choose_url(t, res, t.data["items"][0][1]) == it["main"]


def test_terminal_runs_only_the_values_snippet() -> None:
    assert run_snippet("```python\nvalues = [1, 2, 3]\nprint(sum(values))\n```").endswith("Code output: 6")
    assert run_snippet("import os").startswith("exitcode: 1")


def test_magentic_one_team_runs_and_a_replaced_handoff_reroutes() -> None:
    s = GeneratedSystem.create("autogen", "web", 2, fault_plan={})
    assert not s.uses_plugin  # recorded by the generator on AutoGen's runtime
    tr = s.record()
    assert tr.outcome == "success" and tr.framework == "autogen"
    steps = tr.agent_steps()
    lead, web, coder = s.domain.agents[0], s.domain.agents[1], s.domain.agents[3]
    k = next(i for i, st in enumerate(steps) if st.agent == lead and i > 0)
    new = s.run_with(steps[k].index, f"@{coder} please search the web for \"anything\".")
    assert new.trace.agent_steps()[k + 1].agent == coder  # MagenticOne's ledger followed the new handoff
    assert steps[k + 1].agent == web


def test_team_runs_are_labelled() -> None:
    results = [annotate_item("python", "web", seed) for seed in range(4)]
    labelled = [r for r in results if r.status in ("replay", "injection")]
    assert labelled
    for r in labelled:
        assert r.annotated is not None and r.annotated.gold.agent in r.annotated.trace.agents
