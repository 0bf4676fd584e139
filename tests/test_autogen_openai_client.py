"""AutoGen on its OpenAI model client (the production set-up), answered in process by a scripted endpoint:
agentracer records the same steps as on the scripted replay client, with the OpenAI usage and responses,
and the host's messages and the requests it sends are the same as without instrumentation."""

from __future__ import annotations

import asyncio
import warnings

import pytest

pytest.importorskip("autogen_agentchat")
pytest.importorskip("autogen_ext.models.openai")
pytest.importorskip("httpx")

import _autogen_systems as S  # noqa: E402
import agentracer  # noqa: E402
from agentracer import Recorder, Trace  # noqa: E402


def _run(team):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # AutoGen warns that the scripted model name is not its alias
        return asyncio.run(team.run(task=S.TASK))


def _requests(team):
    return [
        p._model_client._agentracer_inner.requests
        if hasattr(p._model_client, "_agentracer_inner")
        else p._model_client.requests
        for p in team._participants
    ]


def test_openai_client_run_is_recorded_and_unchanged(span_exporter) -> None:
    provider, exporter = span_exporter
    plain_team = S.round_robin_openai()
    plain = _run(plain_team)

    team = S.round_robin_openai()
    rec = Recorder(tracer_provider=provider, capture_content=True)
    agentracer.instrument(team, recorder=rec)
    result = _run(team)
    tr = rec.last_trace()

    # the host: same messages, and the same requests went to the model endpoint
    assert [(type(m).__name__, m.source, str(m.content)) for m in result.messages] == [
        (type(m).__name__, m.source, str(m.content)) for m in plain.messages
    ]
    assert _requests(team) == _requests(plain_team)
    assert [len(r) for r in _requests(team)] == [1, 2, 1]

    assert [(s.agent, s.kind) for s in tr.steps] == [
        ("planner", "agent_message"),
        ("planner", "llm_call"),
        ("coder", "agent_message"),
        ("coder", "llm_call"),
        ("coder", "tool_call"),
        ("coder", "llm_call"),
        ("reviewer", "agent_message"),
        ("reviewer", "llm_call"),
    ]
    llm = [s for s in tr.steps if s.kind == "llm_call"]
    assert all(s.usage == {"input_tokens": 12, "output_tokens": 5} for s in llm)
    assert tr.steps[2].usage == {"input_tokens": 24, "output_tokens": 10}  # the coder's two calls
    assert tr.steps[3].replay["response"]["content"][0]["name"] == "add"
    assert tr.steps[4].tool_args == {"a": 17, "b": 3} and tr.steps[4].tool_result == "20"
    assert tr.final_answer == "Looks right. FINAL ANSWER: 20"
    assert Trace.from_json(tr.to_json()) == tr
    # the API key given to the client is not in the trace
    assert "sk-test-not-a-key" not in tr.to_json()

    spans = [s.name for s in exporter.get_finished_spans()]
    assert spans.count("chat gpt-4o-mini") == 4 and spans.count("invoke_agent coder") == 1
    chat = next(s for s in exporter.get_finished_spans() if s.name == "chat gpt-4o-mini")
    assert chat.attributes["gen_ai.usage.input_tokens"] == 12 and chat.attributes["llm.token_count.completion"] == 5
