"""OpenInference interop: spans of openinference-instrumentation-autogen-agentchat import into a Trace.

The same team run is traced by the OpenInference instrumentor and by agentracer at once; the imported
trace has the same agents and the same agent steps as ours.
"""

from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("autogen_agentchat")
pytest.importorskip("autogen_ext.models.replay")
pytest.importorskip("openinference.instrumentation.autogen_agentchat")

import _autogen_systems as S  # noqa: E402
import agentracer  # noqa: E402
from agentracer import Recorder, TraceError  # noqa: E402
from agentracer.formats.messages import marked_answer  # noqa: E402
from agentracer.formats.openinference_autogen import (  # noqa: E402
    from_openinference_autogen_spans,
    is_openinference_autogen,
    openinference_autogen_traces,
)
from agentracer.formats.otlp_json import parse_otlp_spans, spans_to_otlp_json  # noqa: E402


@pytest.fixture()
def oi_exporter(span_exporter):
    from openinference.instrumentation.autogen_agentchat import AutogenAgentChatInstrumentor

    provider, exporter = span_exporter
    inst = AutogenAgentChatInstrumentor()
    inst.instrument(tracer_provider=provider)
    try:
        yield exporter
    finally:
        inst.uninstrument()


def _both(build, exporter):
    team = build()
    rec = Recorder()  # our spans go elsewhere (the global provider); only OpenInference's are exported here
    agentracer.instrument(team, recorder=rec)
    asyncio.run(team.run(task=S.TASK))
    return rec.last_trace(), exporter.get_finished_spans()


def _agent_rows(trace, only=None):
    return [(s.agent, s.kind, s.content) for s in trace.agent_steps() if only is None or s.agent in only]


@pytest.mark.parametrize("build", [S.round_robin, S.swarm, S.magentic_one], ids=lambda b: b.__name__)
def test_openinference_import_matches_our_recording(build, oi_exporter, tmp_path) -> None:
    ours, spans = _both(build, oi_exporter)
    imported = from_openinference_autogen_spans(spans)
    assert imported.framework == "autogen" and imported.task == ours.task
    assert set(imported.agents) == set(ours.agents)
    assert len(imported.agent_steps()) == len(ours.agent_steps())
    assert _agent_rows(imported) == _agent_rows(ours)
    # the imported answer is what the last message marks as "FINAL ANSWER:", the whole message is kept
    assert imported.final_answer == marked_answer(ours.final_answer)
    assert imported.metadata.get("final_message", imported.final_answer) == ours.final_answer
    ours_tools = [(s.tool_name, s.tool_args, s.tool_result) for s in ours.steps if s.kind == "tool_call"]
    their_tools = [(s.tool_name, s.tool_args, s.tool_result) for s in imported.steps if s.kind == "tool_call"]
    assert their_tools == ours_tools
    # the same through OTLP/JSON (what a collector or a file holds)
    doc = spans_to_otlp_json(spans)
    assert from_openinference_autogen_spans(doc).to_dict() == imported.to_dict()
    assert is_openinference_autogen(parse_otlp_spans(doc))
    path = tmp_path / "openinference.json"  # and from a file, through the generic OTLP reader
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert agentracer.load_trace(path).to_dict() == imported.to_dict()


def test_selector_participant_steps_match(oi_exporter) -> None:
    """OpenInference has no span for the selector's picks; the participants' steps still match ours."""
    ours, spans = _both(S.selector, oi_exporter)
    imported = from_openinference_autogen_spans(spans)
    participants = {"planner", "coder", "reviewer"}
    assert _agent_rows(imported) == _agent_rows(ours, participants)
    assert len([s for s in ours.agent_steps() if s.agent not in participants]) == 3


def test_two_runs_give_two_traces_and_bad_input_is_a_trace_error(oi_exporter) -> None:
    team = S.round_robin(planner=("p1", "p2"), coder=("c1", "c2"), reviewer=("r1", "r2"))

    async def both():
        await team.run(task="one")
        await team.run(task="two")

    asyncio.run(both())
    traces = openinference_autogen_traces(oi_exporter.get_finished_spans())
    assert [t.task for t in traces] == ["one", "two"]
    assert [[s.content for s in t.agent_steps()] for t in traces] == [["p1", "c1", "r1"], ["p2", "c2", "r2"]]
    with pytest.raises(TraceError, match="no spans"):
        from_openinference_autogen_spans([])
    with pytest.raises(TraceError, match="no AutoGen AgentChat OpenInference spans"):
        from_openinference_autogen_spans([{"span_id": "a" * 16, "name": "x", "attributes": {}}])
