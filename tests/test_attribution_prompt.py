"""The tracer prompt (w/ G and w/o G, numbering, chat template) and fitting long traces."""

from __future__ import annotations

import random
import re

import pytest
from agentracer.attribution.fit import fair_cap, fit_texts, measure, shorten
from agentracer.attribution.prompt import SYSTEM_PROMPT, build_messages, render_prompt
from agentracer.trace import Step, Trace

GT = "GROUND-TRUTH-4217"


def _trace(n: int = 4, *, long: int = 0, seed: int = 0) -> Trace:
    rng = random.Random(seed)
    t = Trace(run_id=f"r{n}", task="Compute 12 * 7 and report it.", ground_truth=GT, outcome="failure")
    for i in range(n):
        size = rng.randint(50, long) if long else 40
        body = f"<<head {i}>> " + " ".join(f"w{i}_{j}" for j in range(size // 6)) + f" <<tail {i}>>"
        t.add_step(Step(index=0, agent=["Planner", "Solver", "Verifier"][i % 3], content=body))
    return t


def _user(msgs: list[dict[str, str]]) -> str:
    assert [m["role"] for m in msgs] == ["system", "user"]
    return msgs[1]["content"]


def test_with_and_without_ground_truth() -> None:
    t = _trace()
    with_g = build_messages(t, GT)
    without = build_messages(t)
    assert GT in _user(with_g)
    assert GT not in _user(without) and GT not in without[0]["content"]  # trace.ground_truth is not leaked
    assert t.task in _user(without)
    assert "<agent>NAME</agent><step>N</step><reason>TEXT</reason>" in _user(without)
    assert with_g[0]["content"] == SYSTEM_PROMPT


def test_steps_are_numbered_by_trace_index_with_agents() -> None:
    t = _trace(3)
    # a nested LLM call and a tool call under step 1 do not get their own numbers ...
    t.steps.insert(2, Step(index=2, agent="Solver", kind="llm_call", parent=1, content="(llm)"))
    t.steps.insert(
        3,
        Step(
            index=3,
            agent="Solver",
            kind="tool_call",
            parent=1,
            tool_name="calc",
            tool_args={"x": "12*7"},
            tool_result=85,
        ),
    )
    t.steps[4].index = 4
    t.validate()
    user = _user(build_messages(t))
    assert re.findall(r"^Step (\d+) \| (\w+): ", user, re.M) == [("0", "Planner"), ("1", "Solver"), ("4", "Verifier")]
    # ... but the tool call is shown inside its agent step
    assert "[tool_call calc(" in user and "-> 85]" in user


def test_render_prompt_thinking_on_and_off(tiny_qwen3) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_qwen3))
    msgs = build_messages(_trace())
    off = render_prompt(tok, msgs, enable_thinking=False)
    on = render_prompt(tok, msgs, enable_thinking=True)
    assert off.startswith("<|im_start|>system\n") and "<|im_start|>user\n" in off
    assert off.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert on.endswith("<|im_start|>assistant\n")
    tok.chat_template = None  # no template: the reduced Qwen3 template is used
    assert render_prompt(tok, msgs) == off


def test_fair_cap_and_shorten() -> None:
    assert fair_cap([10, 20, 30], 100) == 30
    assert fair_cap([10, 20, 30], 45) == 17  # 10 + 17 + 17 = 44 <= 45
    assert fair_cap([5, 5], 0) == 0
    text = "HEAD " + "x" * 1000 + " TAIL"
    cut = shorten(text, 200)
    assert len(cut) <= 200 and cut.startswith("HEAD") and cut.endswith("TAIL") and "chars cut" in cut
    assert shorten("short", 200) == "short"
    assert shorten(text, 0) == ""


def test_fit_texts_keeps_short_steps_whole() -> None:
    texts = ["ok", "The answer is 85.", "A" * 5000, "B" * 3000]
    out = fit_texts(texts, 1000)
    assert out[:2] == texts[:2]
    assert sum(len(t) for t in out) <= 1000
    assert len(out) == 4 and out[2].startswith("AAA") and out[3].startswith("BBB")


@pytest.mark.parametrize("max_chars", [60_000, 120_000])
def test_fit_500_steps_by_chars(max_chars: int) -> None:
    t = _trace(500, long=2000)
    assert sum(len(s.content) for s in t.steps) > 3 * max_chars
    msgs = build_messages(t, GT, max_chars=max_chars)
    total = sum(len(m["content"]) for m in msgs)
    assert total <= max_chars
    user = _user(msgs)
    assert [int(x) for x in re.findall(r"^Step (\d+) \| ", user, re.M)] == list(range(500))
    # every step keeps its head and its tail
    for i in (0, 137, 499):
        assert f"<<head {i}>>" in user and f"<<tail {i}>>" in user
    assert GT in user and t.task in user


def test_fit_500_steps_by_tokens(tiny_qwen3) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_qwen3))
    t = _trace(500, long=600, seed=1)
    budget = 40_000
    msgs = build_messages(t, None, tokenizer=tok, max_tokens=budget)
    rendered = render_prompt(tok, msgs)
    n_tokens = measure(rendered, tok)
    assert n_tokens <= budget
    assert n_tokens > budget * 0.8  # the budget is used, not wasted
    user = _user(msgs)
    assert [int(x) for x in re.findall(r"^Step (\d+) \| ", user, re.M)] == list(range(500))
    assert "tokens cut" in user


def test_long_task_is_cut_but_steps_survive() -> None:
    t = _trace(20)
    t.task = "TASKSTART " + "q" * 50_000 + " TASKEND"
    msgs = build_messages(t, max_chars=8000)
    user = _user(msgs)
    assert sum(len(m["content"]) for m in msgs) <= 8000
    assert "TASKSTART" in user and "TASKEND" in user
    assert len(re.findall(r"^Step \d+ \| ", user, re.M)) == 20


def test_short_trace_is_not_touched() -> None:
    t = _trace(5)
    user = _user(build_messages(t, max_chars=100_000))
    for s in t.steps:
        assert f"Step {s.index} | {s.agent}: {s.content}" in user
    assert "cut…]" not in user


def test_empty_trace_still_builds() -> None:
    msgs = build_messages(Trace(run_id="empty"))
    assert "(0 steps" in _user(msgs)


def test_budget_too_small_for_the_step_numbers_warns_and_keeps_every_step(caplog: pytest.LogCaptureFixture) -> None:
    t = _trace(300)
    with caplog.at_level("WARNING", logger="agentracer.attribution"):
        msgs = build_messages(t, max_chars=2000)
    assert "over the budget" in caplog.text
    assert len(re.findall(r"^Step \d+ \| ", _user(msgs), re.M)) == 300
    assert t.task[:10] in _user(msgs)  # the task is cut to a fifth of the budget, not dropped
