"""Roles inferred from what agents do (not their names), and action outcomes / where the final value enters
the run, read from tool results nested under the steps — each on a hand-made orchestrator-led trace."""

from __future__ import annotations

from agentracer import Step, Trace
from agentracer.attribution.features import STEP_FEATURES, extract
from agentracer.attribution.features.outcomes import outcome_provenance_columns
from agentracer.attribution.features.provenance import final_value_columns
from agentracer.attribution.features.roles import role_columns, role_scores
from agentracer.attribution.features.view import read_steps


def team_trace() -> Trace:
    """A lead that hands work over by name, a worker that calls tools (one returns nothing, one returns the
    value) and misreads nothing, a checker that only talks of verifying, and the lead's final answer.

    Agent names are neutral on purpose (no "orchestrator", "verifier"): the roles must come from the steps.
    """
    t = Trace(run_id="team", task="What is the population of Quinis? Look it up.", framework="autogen",
              outcome="failure")
    t.add_step(Step(index=0, agent="Alpha", content="Plan: Bravo searches the web for Quinis, Charlie checks."))
    b1 = t.add_step(Step(index=0, agent="Bravo", content="CALL search('Quinis population')"))
    t.add_step(Step(index=0, agent="Bravo", kind="tool_call", role="tool", parent=b1.index, tool_name="search",
                    tool_args={"q": "Quinis population"}, tool_result="No results found."))
    t.add_step(Step(index=0, agent="Alpha", content="Bravo, open the Quinis page instead."))
    b2 = t.add_step(Step(index=0, agent="Bravo", content="CALL open('wiki/Quinis')"))
    t.add_step(Step(index=0, agent="Bravo", kind="tool_call", role="tool", parent=b2.index, tool_name="open",
                    tool_args={"url": "wiki/Quinis"}, tool_result="Quinis is a town. Population: 48213."))
    t.add_step(Step(index=0, agent="Bravo", content="The page shows that the population of Quinis is 48213."))
    t.add_step(Step(index=0, agent="Alpha", content="Charlie, please check that figure."))
    t.add_step(Step(index=0, agent="Charlie", content="I checked it and can confirm: 48213 is correct, verified."))
    t.add_step(Step(index=0, agent="Alpha", content="The population is 48213. Final answer: 48213"))
    t.final_answer = "48213"
    return t


def _col(t: Trace, name: str) -> list[float]:
    """A column of the role or outcome group (computed whether or not the shipped feature set lists it)."""
    v = read_steps(t, t.agent_steps())
    if name == "new_numbers":
        k = STEP_FEATURES.index(name)
        return [r[k] for r in extract(t).step_rows]
    _, _, final_tok = final_value_columns(v)
    cols = {**role_columns(v)[0], **outcome_provenance_columns(v, final_tok)}
    return cols[name]


def test_roles_come_from_what_agents_do() -> None:
    t = team_trace()
    v = read_steps(t, t.agent_steps())
    scores, acts, hands = role_scores(v)
    alpha, bravo, charlie = (v.agents.index(a) for a in ("Alpha", "Bravo", "Charlie"))
    assert scores[alpha][0] == 0.75 and scores[bravo][0] == 0.0  # 3 of Alpha's 4 steps address another agent
    assert scores[bravo][1] == 2 / 3 and scores[alpha][1] == 0.0  # two of Bravo's three steps call a tool
    assert scores[charlie][2] == 1.0 and scores[alpha][2] == 0.0  # Charlie only talks of checking
    assert [s[3] for s in scores] == [1.0, 0.0, 0.0]  # Alpha states the final answer
    assert acts == [False, True, False, True, False, False, False, False]
    # Alpha's plan and its two requests name the agent that speaks next: hand-offs
    assert hands == [True, False, True, False, False, True, False, False]


def test_role_columns_on_steps_and_agents() -> None:
    t = team_trace()
    assert _col(t, "first_action_of_agent") == [0, 1, 0, 0, 0, 0, 0, 0]
    assert _col(t, "reads_result") == [0, 0, 0, 0, 1, 0, 0, 0]  # Bravo reads the page back in words
    assert _col(t, "role_orch")[0] == 0.75 and _col(t, "role_act")[1] == 2 / 3
    _, scores = role_columns(read_steps(t, t.agent_steps()))
    assert [round(s[2], 3) for s in scores] == [0.0, 0.0, 1.0]  # the agent rows' a_role_review


def test_outcomes_and_where_the_final_value_enters() -> None:
    t = team_trace()
    assert _col(t, "own_empty") == [0, 1, 0, 0, 0, 0, 0, 0]  # the search returned nothing
    # 48213 came back from Bravo's open() (step 2 of the candidates), Bravo read it in the next step
    assert _col(t, "final_from_tool") == [0, 0, 0, 1, 0, 0, 0, 0]
    assert _col(t, "final_read_by") == [0, 0, 0, 0, 1, 0, 0, 0]
    assert _col(t, "final_not_from_tool") == [0] * 8
    # read off a tool output, the value is not "unseen"; the plain new_numbers cannot see nested results
    assert _col(t, "unseen_vs_tools")[4] == 0.0 and _col(t, "new_numbers")[4] > 0


def test_a_value_no_tool_returned_is_unseen_and_marked() -> None:
    t = team_trace()
    t.steps[6].content = "The page shows that the population of Quinis is 84213."  # a misreading
    t.steps[8].content = "Confirmed: 84213."
    t.steps[9].content = "Final answer: 84213"
    t.final_answer = "84213"
    assert _col(t, "unseen_vs_tools")[4] > 0 and _col(t, "first_unseen_vs_tools") == [0, 0, 0, 0, 1, 0, 0, 0]
    assert _col(t, "final_from_tool") == [0] * 8
    assert _col(t, "final_not_from_tool") == [0, 0, 0, 0, 1, 0, 0, 0]
