"""Quoted boilerplate (a plan that repeats the team's description, a message that repeats the system prompt
or an earlier message) does not fire the content cues; the step that really writes code still does."""

from __future__ import annotations

import pytest
from agentracer import Step, Trace
from agentracer.attribution.features import STEP_FEATURES, extract, quoted
from agentracer.attribution.features.quoted import mask_quoted

TEAM = (
    "Terminal: a computer terminal that runs the Python scripts it is given in ```python code blocks``` "
    "and reports their output.\n"
    "Researcher: a helpful assistant who can assume nothing and must simulate no data at all."
)


def orchestrated_trace() -> Trace:
    """An orchestrator whose plan quotes the team description, then a coder who really writes code."""
    t = Trace(run_id="orch", task="How many rows does table.csv have?", framework="autogen", outcome="failure",
              metadata={"team_description": TEAM})
    t.add_step(Step(index=0, agent="system", role="system", content="You are the orchestrator of this team."))
    t.add_step(Step(index=0, agent="orchestrator", content=(
        "Here is the plan. Our team:\n" + TEAM + "\nFirst the researcher reads the file, then the terminal counts."
    )))
    t.add_step(Step(index=0, agent="researcher", content="I will read the file table.csv and count its rows now."))
    t.add_step(Step(index=0, agent="coder", content="```python\nimport csv\nprint(sum(1 for _ in open('table.csv')))\n```"))
    t.add_step(Step(index=0, agent="Terminal", content="exitcode: 0 (execution succeeded)\n41"))
    t.add_step(Step(index=0, agent="orchestrator", content=(
        "Recap. " + TEAM.splitlines()[0] + "\nThe answer is 41. TERMINATE"
    )))
    return t


def _col(rows: list[list[float]], name: str) -> list[float]:
    k = STEP_FEATURES.index(name)
    return [r[k] for r in rows]


@pytest.fixture(autouse=True)
def _masking_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quoted, "MASK_QUOTED", True)  # as shipped (see its module doc), whatever an earlier test set


def test_quoted_team_description_fires_no_code_or_assumption_cue() -> None:
    f = extract(orchestrated_trace())
    names = [s.agent for s in f.candidates]
    plan, coder = names.index("orchestrator"), names.index("coder")
    assert _col(f.step_rows, "has_code")[plan] == 0.0  # the plan only quotes the description of code blocks
    assert _col(f.step_rows, "first_coder")[coder] == 1.0  # the coder's real code block is the first code
    assert _col(f.step_rows, "assume")[plan] == 0.0  # "assume nothing and must simulate no data" is a quote
    assert _col(f.step_rows, "has_code")[-1] == 0.0  # the recap repeats the description again


def test_without_the_group_the_boilerplate_fires(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quoted, "MASK_QUOTED", False)
    f = extract(orchestrated_trace())
    plan = [s.agent for s in f.candidates].index("orchestrator")
    assert _col(f.step_rows, "assume")[plan] == 1.0  # what the group exists to prevent


def test_a_fence_inside_prose_is_not_code_even_unmasked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A code fence counts only where it opens a line: the plan that quotes "```python code blocks```" in a
    sentence writes no code (with or without the masking), the coder's block does, and a shell block installs."""
    monkeypatch.setattr(quoted, "MASK_QUOTED", False)
    t = orchestrated_trace()
    t.add_step(Step(index=0, agent="coder", content="Set-up first:\n  ```sh\npip3 show numpy\n  ```"))
    t.add_step(Step(index=0, agent="orchestrator", content="The terminal takes ```sh blocks``` too, it says."))
    f = extract(t)
    names = [s.agent for s in f.candidates]
    plan, coder = names.index("orchestrator"), names.index("coder")
    for name in ("has_code", "first_coder", "n_code", "pos0_code"):
        assert _col(f.step_rows, name)[plan] == 0.0, name
    assert _col(f.step_rows, "first_coder")[coder] == 1.0
    assert _col(f.step_rows, "second_coder")[len(names) - 2] == 1.0  # the indented shell block is code
    assert _col(f.step_rows, "install")[len(names) - 2] == 1.0
    assert _col(f.step_rows, "install")[len(names) - 1] == 0.0  # "```sh blocks" inside a sentence


def test_masking_keeps_own_words_and_code_blocks() -> None:
    t = Trace(run_id="m", task="Sum the numbers from one to ten and report the total please.")
    code = "```python\nprint(sum(range(1, 11)))  # the total of one to ten inclusive\n```"
    texts = [
        "Sum the numbers from one to ten and report the total please. I assume the range is inclusive.",
        code,
        code,  # a verbatim repeat of an earlier block: posted again, it runs again, so it stays
        code.replace("11", "12") + "\nI assume it is fine.",  # changed code is the step's own
    ]
    out = mask_quoted(t, texts)
    assert "I assume the range is inclusive." in out[0] and "report the total" not in out[0]
    assert out[1] == code
    assert out[2] == code
    assert "range(1, 12)" in out[3] and out[3].count("```") == 2
