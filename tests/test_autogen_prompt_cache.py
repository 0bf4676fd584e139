"""The AutoGen plugin caches each prompt message's recorded forms by value: the cache gives the same forms
as computing them afresh, never serves a stale form for a message changed in place, and stays bounded."""

from __future__ import annotations

import importlib

import pytest

pytest.importorskip("autogen_agentchat")

import _autogen_systems as S  # noqa: E402
import agentracer  # noqa: E402
from agentracer import Recorder  # noqa: E402
from agentracer_autogen import session_of  # noqa: E402
from autogen_core.models import AssistantMessage, SystemMessage, UserMessage  # noqa: E402

INS = importlib.import_module("agentracer_autogen.messages")


def _session():
    team = S.round_robin()
    agentracer.instrument(team, recorder=Recorder(capture_content=True))
    return session_of(team)


def test_cached_forms_equal_fresh_forms_and_follow_mutation() -> None:
    s = _session()
    msgs = [
        SystemMessage(content="You are a planner. api_key=sk-" + "a" * 40),
        UserMessage(content="What is 17 * 3?", source="user"),
        AssistantMessage(content="PLAN: multiply", source="planner"),
    ]
    INS._PROMPT_CACHE.clear()
    fresh = s.prompt_forms(msgs)
    cached = s.prompt_forms(msgs)
    assert cached == fresh
    assert "sk-" + "a" * 40 not in str(fresh[0])  # the cached step form is the redacted one
    msgs[2].content = "PLAN: add"  # changed in place: a new key, not the old form
    again = s.prompt_forms(msgs)
    assert again[0][2]["content"] == "PLAN: add" and again[1][2] != fresh[1][2]


def test_cache_stays_bounded() -> None:
    s = _session()
    INS._PROMPT_CACHE.clear()
    INS._PROMPT_CACHE_SIZE[0] = 0
    big = "x" * 60_000
    for i in range(200):  # 12 M characters offered, far over the budget
        s.prompt_forms([UserMessage(content=f"{i} {big}", source="user")])
        assert INS._PROMPT_CACHE_SIZE[0] <= INS._PROMPT_CACHE_BUDGET
        assert len(INS._PROMPT_CACHE) <= INS._PROMPT_CACHE_MAX
    s.prompt_forms([UserMessage(content="y" * (INS._PROMPT_CACHE_MAX_CHARS + 1), source="user")])
    assert all(len(v[2]) <= INS._PROMPT_CACHE_MAX_CHARS + 100 for v in INS._PROMPT_CACHE.values())
