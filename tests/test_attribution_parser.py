"""The tracer's answer parser: well-formed answers in every accepted form, and many malformed ones."""

from __future__ import annotations

import pytest
from agentracer.attribution.answer import match_agent, parse_answer
from agentracer.attribution.prompt import ANSWER_FORMAT, format_answer
from agentracer.trace import Attribution
from hypothesis import given, settings
from hypothesis import strategies as st

AGENTS = ["Planner", "Code_Executor", "Verification_Expert", "WebSurfer"]
N = 10

# (answer, expected agent, expected step, expected parsed)
WELL_FORMED = [
    ("<agent>Planner</agent><step>3</step><reason>wrong plan</reason>", "Planner", 3, True),
    ('{"agent": "WebSurfer", "step": 2, "reason": "clicked the wrong link"}', "WebSurfer", 2, True),
    ('Sure.\n```json\n{"agent": "Code_Executor", "step": 4, "reason": "bug"}\n```', "Code_Executor", 4, True),
    (
        "Agent Name: Verification_Expert\nStep Number: 7\nReason for Mistake: accepted 85",
        "Verification_Expert",
        7,
        True,
    ),
    ("agent: Planner step: 5", "Planner", 5, True),
    (
        "<think>Step 2 looks fine; step 6 is wrong.</think>\n<agent>WebSurfer</agent><step>6</step>",
        "WebSurfer",
        6,
        True,
    ),
    ("<think>\n\n</think>\n\n<agent>Planner</agent><step>0</step><reason>x</reason>", "Planner", 0, True),
    ("The decisive error is at Step 9, made by Code_Executor.", "Code_Executor", 9, True),
    ("<agent>Planner</agent>\n<step>1</step>\n<reason>multi\nline</reason>", "Planner", 1, True),
    ("<agent>Planner</agent><step>3</step><reason>r</reason> trailing chatter", "Planner", 3, True),
]

MALFORMED = [
    # nothing usable: unparsed
    ("", None, None, False),
    ("   \n\t  ", None, None, False),
    (None, None, None, False),
    (42, None, None, False),
    (b"<agent>Planner</agent>", None, None, False),
    (["<agent>Planner</agent>"], None, None, False),
    ({"agent": "Planner"}, None, None, False),
    ("I don't know.", None, None, False),
    ("The answer is 85.", None, None, False),
    ("<agent></agent><step></step>", None, None, False),
    ("<step>abc</step>", None, None, False),
    ("{}", None, None, False),
    ('{"agent": null, "step": null}', None, None, False),
    ('{"agent": ["Planner"], "step": {"x": 1}}', None, None, False),
    ("```json\n{ broken json\n```", None, None, False),
    ("}{", None, None, False),
    ("\x00\x01\x02\ufffd", None, None, False),
    ("Step", None, None, False),
    ("agent:", None, None, False),
    ("<reason>no idea</reason>", None, None, False),
    ("<think>still thinking about what to", None, None, False),
    ("<think>x</think>\n\n", None, None, False),
    ("<step>-1</step>", None, None, False),
    ("x" * 300_000, None, None, False),
    # recoverable: odd case, spacing, markup, unclosed tags, Python dicts, thinking only
    ("<AGENT> planner </AGENT><STEP> 3 </STEP>", "Planner", 3, True),
    ("<agent>code executor</agent><step>4</step>", "Code_Executor", 4, True),
    ('```json\n{"Agent": "verification-expert", "Step": "7"}\n```', "Verification_Expert", 7, True),
    ("{'agent': 'WebSurfer', 'step': 2,}", "WebSurfer", 2, True),
    ('{"agent_name": "Planner", "step_number": 1.0}', "Planner", 1, True),
    ("**Agent Name:** `Code_Executor`\n**Step Number:** **6**", "Code_Executor", 6, True),
    ("Agent: WebSurfer, Step: #8", "WebSurfer", 8, True),
    ("<think>It is step 3 by the planner</think>", "Planner", 3, True),
    ("</think><agent>Planner</agent><step>1</step>", "Planner", 1, True),
    ("<agent>Planner", "Planner", None, True),
    ("<agent>WebSurfer</agent><step>5", "WebSurfer", 5, True),
    ("<agent>Planner</agent><step>two</step>", "Planner", None, True),
    ("The mistake is in Step 4.", None, 4, True),
    ("Agent Name: planner\nStep Number: 3\nAgent Name: WebSurfer\nStep Number: 5", "WebSurfer", 5, True),
    ("\u200bAgent Name:\u00a0Planner\nStep Number:\u00a05", "Planner", 5, True),
    ("<agent>VerificationExpert</agent><step>07</step>", "Verification_Expert", 7, True),
    ("<agent>the Verification_Expert agent</agent><step>2</step>", "Verification_Expert", 2, True),
    ("<agent>Web Surfer</agent><step>3</step>", "WebSurfer", 3, True),
    ("<agent>Websurfr</agent><step>3</step>", "WebSurfer", 3, True),
    # out of range: the agent stays, the step goes
    ("<agent>Planner</agent><step>42</step>", "Planner", None, True),
    ('{"agent": "WebSurfer", "step": 10}', "WebSurfer", None, True),
    # an agent that is not in the trace is kept as written
    ("<agent>Nobody</agent><step>2</step>", "Nobody", 2, True),
]


@pytest.mark.parametrize(("text", "agent", "step", "parsed"), WELL_FORMED)
def test_well_formed(text: str, agent: str, step: int, parsed: bool) -> None:
    att = parse_answer(text, agents=AGENTS, n_steps=N, method="m")
    assert (att.agent, att.step, att.parsed) == (agent, step, parsed)
    assert att.method == "m"
    assert att.raw == text


@pytest.mark.parametrize(("text", "agent", "step", "parsed"), MALFORMED)
def test_malformed(text: object, agent: str | None, step: int | None, parsed: bool) -> None:
    att = parse_answer(text, agents=AGENTS, n_steps=N)
    assert isinstance(att, Attribution)
    assert (att.agent, att.step, att.parsed) == (agent, step, parsed)
    if isinstance(text, str):
        assert att.raw == text


def test_at_least_thirty_malformed_cases() -> None:
    assert len(MALFORMED) >= 30


def test_reasons_are_read() -> None:
    assert parse_answer(WELL_FORMED[0][0]).reason == "wrong plan"
    assert parse_answer(WELL_FORMED[3][0]).reason == "accepted 85"
    assert parse_answer(WELL_FORMED[2][0]).reason == "bug"
    assert parse_answer("<agent>A</agent><step>1</step><reason>cut off mid").reason == "cut off mid"


def test_out_of_range_is_recorded() -> None:
    att = parse_answer("<agent>Planner</agent><step>42</step>", agents=AGENTS, n_steps=N)
    assert att.metadata["step_out_of_range"] == 42
    att = parse_answer("<agent>Nobody</agent><step>2</step>", agents=AGENTS)
    assert att.metadata["agent_unmatched"] is True


def test_without_agents_the_name_is_kept_verbatim() -> None:
    att = parse_answer("<agent>Verification_Expert</agent><step>12</step>")
    assert (att.agent, att.step) == ("Verification_Expert", 12)
    assert parse_answer("Agent Name: __Computer_terminal__\nStep Number: 2").agent == "Computer_terminal"


def test_last_explicit_answer_wins_first_bare_mention_wins() -> None:
    two = "<agent>Planner</agent><step>1</step> On reflection: <agent>WebSurfer</agent><step>6</step>"
    assert parse_answer(two, agents=AGENTS).step == 6
    assert parse_answer("Step 4 is wrong, not step 7.").step == 4


def test_format_answer_round_trips() -> None:
    text = format_answer("Code_Executor", 5, "the code </reason> divided\nby zero")
    assert text == "<agent>Code_Executor</agent><step>5</step><reason>the code divided by zero</reason>"
    att = parse_answer(text, agents=AGENTS, n_steps=N)
    assert (att.agent, att.step, att.reason, att.parsed) == ("Code_Executor", 5, "the code divided by zero", True)
    assert "<agent>NAME</agent><step>N</step><reason>TEXT</reason>" in ANSWER_FORMAT


def test_match_agent() -> None:
    assert match_agent("code-executor", AGENTS) == ("Code_Executor", True)
    assert match_agent("  ", AGENTS) == (None, False)
    assert match_agent("Zeus", AGENTS) == ("Zeus", False)
    assert match_agent("Planner", None) == ("Planner", False)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_never_raises_on_arbitrary_text(text: str) -> None:
    att = parse_answer(text, agents=AGENTS, n_steps=N)
    assert isinstance(att, Attribution)
    assert att.parsed == (att.agent is not None or att.step is not None)
    assert att.step is None or 0 <= att.step < N


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(AGENTS), st.integers(0, N - 1), st.text(max_size=80))
def test_canonical_answers_always_parse(agent: str, step: int, reason: str) -> None:
    att = parse_answer(format_answer(agent, step, reason), agents=AGENTS, n_steps=N)
    assert (att.agent, att.step, att.parsed) == (agent, step, True)
