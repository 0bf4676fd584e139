"""The multi-granular reward: exact values, edge cases, and the TRL reward-function interface."""

from __future__ import annotations

import math

import pytest
from agentracer.training.rewards import (
    RewardConfig,
    agent_reward,
    agent_score,
    completion_text,
    format_reward,
    format_score,
    gaussian_step_kernel,
    make_tracer_reward,
    reward_functions,
    score_completion,
    step_reward,
    step_score,
)

ANSWER = "<agent>Coder</agent><step>3</step><reason>used the wrong formula</reason>"


def conv(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


# ------------------------------------------------------------------------------------ Gaussian kernel
@pytest.mark.parametrize(
    ("distance", "sigma", "expected"),
    [
        (0, 1.0, 1.0),
        (1, 1.0, 0.6065306597126334),  # e^-0.5
        (2, 1.0, 0.1353352832366127),  # e^-2
        (3, 1.0, 0.011108996538242306),  # e^-4.5
        (1, 2.0, 0.8824969025845955),  # e^-0.125
        (2, 2.0, 0.6065306597126334),  # e^-0.5: one sigma away
        (4, 2.0, 0.1353352832366127),  # e^-2
        (1, 0.5, 0.1353352832366127),  # e^-2
        (3, 3.0, 0.6065306597126334),
        (5, 0.5, math.exp(-50.0)),
    ],
)
def test_gaussian_exact_values(distance: int, sigma: float, expected: float) -> None:
    assert gaussian_step_kernel(distance, sigma) == pytest.approx(expected, rel=1e-12, abs=0)
    # symmetric, and the same through step_score and the TRL function
    assert step_score(10 + distance, 10, sigma=sigma) == pytest.approx(expected, rel=1e-12)
    assert step_score(10 - distance, 10, sigma=sigma) == pytest.approx(expected, rel=1e-12)
    ans = f"<agent>A</agent><step>{10 + distance}</step><reason>r</reason>"
    assert step_reward([conv(ans)], step=[10], sigma=sigma)[0] == pytest.approx(expected, rel=1e-12)


def test_gaussian_is_monotone_in_distance() -> None:
    values = [step_score(g, 0, sigma=1.5) for g in range(8)]
    assert values == sorted(values, reverse=True)
    assert values[0] == 1.0 and values[-1] < 1e-4


def test_sigma_must_be_positive() -> None:
    with pytest.raises(ValueError):
        gaussian_step_kernel(1, 0)
    with pytest.raises(ValueError, match="sigma"):
        RewardConfig(sigma=-1)
    with pytest.raises(ValueError, match="agent_weight"):
        RewardConfig(agent_weight=float("nan"))


# ------------------------------------------------------------------------------------ edge cases
def test_step_edge_cases() -> None:
    assert step_score(None, 3) == 0.0
    assert step_score(-1, 0) == 0.0  # negative prediction
    assert step_score(7, 3, n_steps=7) == 0.0  # past the last step
    assert step_score(6, 6, n_steps=7) == 1.0  # the last step is in range
    assert step_score(9, 3) == pytest.approx(math.exp(-18))  # no bound known: just far away
    assert step_score("4", "4") == 1.0  # Who&When stores steps as strings


def test_agent_names_differing_in_case_or_spacing_match() -> None:
    assert agent_score("coder", "Coder") == 1.0
    assert agent_score("Web Surfer", "WebSurfer") == 1.0
    assert agent_score("computer_terminal", "Computer Terminal") == 1.0
    assert agent_score(" Verification-Expert ", "Verification_Expert") == 1.0
    assert agent_score("Coder2", "Coder") == 0.0
    assert agent_score("Cod", "Coder") == 0.0  # no fuzzy credit
    assert agent_score(None, "Coder") == 0.0
    assert agent_score("", "") == 0.0


def test_unparsable_answers_score_zero() -> None:
    for text in ["", "I do not know", "<agent></agent><step></step>", "\x00\xff garbage <<<>>>", None]:
        b = score_completion(text, "Coder", 3)
        assert (b.agent, b.step, b.format, b.total) == (0.0, 0.0, 0.0, 0.0), text


def test_negative_and_out_of_range_steps_keep_agent_credit() -> None:
    neg = score_completion("<agent>Coder</agent><step>-2</step><reason>x</reason>", "Coder", 0)
    assert neg.agent == 1.0 and neg.step == 0.0
    far = score_completion("<agent>coder</agent><step>12</step><reason>x</reason>", "Coder", 3, n_steps=5)
    assert far.agent == 1.0 and far.step == 0.0 and far.format == 1.0


def test_format_score_levels() -> None:
    assert format_score(ANSWER) == 1.0
    assert format_score("<think>step 3 looks wrong</think>\n" + ANSWER) == 1.0
    assert format_score(ANSWER + "<|im_end|>") == 1.0
    assert format_score("  " + ANSWER + "\n") == 1.0
    # readable but not canonical
    assert format_score("Sure! " + ANSWER) == 0.5
    assert format_score(ANSWER + ANSWER) == 0.5  # two answers
    assert format_score("<agent>Coder</agent><step>3</step>") == 0.5  # no reason
    assert format_score('{"agent": "Coder", "step": 3, "reason": "x"}') == 0.5
    assert format_score("<agent>Coder</agent><step>3</step><reason> </reason>") == 0.5  # empty reason
    # unreadable
    assert format_score("The coder did it.") == 0.0
    assert format_score("<agent>Coder</agent>") == 0.0  # agent but no step


def test_weighted_total() -> None:
    cfg = RewardConfig(agent_weight=2.0, step_weight=0.5, format_weight=0.25, sigma=2.0)
    b = score_completion(conv("<agent>CODER</agent><step>5</step><reason>x</reason>"), "Coder", 3, config=cfg)
    assert (b.agent, b.format) == (1.0, 1.0)
    assert b.step == pytest.approx(math.exp(-0.5))
    assert b.total == pytest.approx(2.0 + 0.5 * math.exp(-0.5) + 0.25)


def test_completion_text_forms() -> None:
    assert completion_text("x") == "x"
    assert completion_text(conv("y")) == "y"
    assert completion_text({"role": "assistant", "content": "z"}) == "z"
    assert completion_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]) == "a"
    assert completion_text(None) == ""


# ------------------------------------------------------------------------------------ TRL interface
def test_trl_reward_functions_with_columns() -> None:
    completions = [conv(ANSWER), conv("nothing"), "<agent>Planner</agent><step>1</step><reason>r</reason>", conv(ANSWER)]
    cols = {
        "agent": ["Coder", "Coder", "Coder", None],  # last row: no gold agent
        "step": [4, 4, 1, -1],  # last row: no gold step
        "n_steps": [6, 6, 6, 6],
        "reason": ["", "", "", ""],
        "trainer_state": object(),
        "completion_ids": [[1]] * 4,
    }
    assert agent_reward(completions, **cols) == [1.0, 0.0, 0.0, None]
    steps = step_reward(completions, sigma=1.0, **cols)
    assert steps[0] == pytest.approx(math.exp(-0.5)) and steps[1] == 0.0 and steps[2] == 1.0 and steps[3] is None
    assert format_reward(completions, **cols) == [1.0, 0.0, 1.0, 1.0]


def test_whowhen_column_names_accepted() -> None:
    out = agent_reward([ANSWER], mistake_agent=["coder"], mistake_step=["3"])
    assert out == [1.0]
    assert step_reward([ANSWER], mistake_agent=["coder"], mistake_step=["3"]) == [1.0]


def test_column_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="column 'agent'"):
        agent_reward([ANSWER, ANSWER], agent=["Coder"])


def test_reward_functions_have_distinct_trl_names() -> None:
    from trl.trainer.utils import get_callable_name

    funcs, weights = reward_functions(RewardConfig(agent_weight=1, step_weight=0.5, format_weight=0.1, sigma=2))
    assert [get_callable_name(f) for f in funcs] == ["agent_reward", "step_reward", "format_reward"]
    assert weights == [1.0, 0.5, 0.1]
    # the partial carries sigma
    assert funcs[1](["<agent>A</agent><step>2</step><reason>r</reason>"], step=[0])[0] == pytest.approx(math.exp(-0.5))


def test_combined_reward_logs_components() -> None:
    logged: dict[str, float] = {}
    fn = make_tracer_reward(RewardConfig(agent_weight=1, step_weight=1, format_weight=0.5, sigma=1))
    assert fn.__name__ == "tracer_reward"
    out = fn(
        [conv(ANSWER), conv("no idea")],
        agent=["Coder", "Coder"],
        step=[3, 3],
        log_metric=lambda k, v: logged.__setitem__(k, v),
    )
    assert out == [pytest.approx(2.5), 0.0]
    assert logged == {"tracer/agent": 0.5, "tracer/step": 0.5, "tracer/format": 0.5}
