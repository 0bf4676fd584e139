"""CAMEL plugin never breaks the host: with a recorder that raises, results equal the uninstrumented ones."""

from __future__ import annotations

import asyncio
import logging

import pytest

pytest.importorskip("camel")

import agentracer  # noqa: E402
import agentracer_camel  # noqa: E402
from agentracer import Recorder  # noqa: E402
from agentracer_camel.testing import arithmetic_society, owl_style_society, research_workforce  # noqa: E402


class RaisingRecorder(Recorder):
    """Every method the plugin calls raises."""

    def _boom(self, *args, **kwargs):
        raise RuntimeError("recorder bug")

    start_run = end_run = current_run = begin_step = begin_llm = begin_tool = last_trace = _boom


class _BadHandle:
    replayed = None

    def __init__(self) -> None:
        self.span = object()  # not a span: attaching it to the OTel context fails too

    def end(self, *a, **k):
        raise RuntimeError("handle bug")

    set = end


class RaisingHandles(Recorder):
    """Runs open fine, but every step handle raises when used."""

    def begin_step(self, *a, **k):
        return _BadHandle()

    begin_llm = begin_tool = begin_step


def _society_result(build, recorder, runner=None):
    society, _, _ = build()
    if recorder is not None:
        agentracer.instrument(society, recorder=recorder)
    if runner == "async":
        return asyncio.run(agentracer_camel.arun_society(society, round_limit=6))
    if runner == "manual":
        out = []
        msg = society.init_chat("Start.")
        for _ in range(6):
            a, u = society.step(msg)
            out.append((u.msg.content, a.msg.content if a.msg else None))
            if "TASK_DONE" in u.msg.content:
                break
            msg = a.msg
        return out
    return agentracer_camel.run_society(society, round_limit=6)


def _workforce_result(recorder):
    from camel.tasks import Task

    wf, _ = research_workforce()
    if recorder is not None:
        agentracer.instrument(wf, recorder=recorder)
    task = wf.process_task(Task(content="What is half the population of Paris?", id="0"))
    return task.state, task.result, [(t.id, t.content, t.result, t.state) for t in task.subtasks]


@pytest.mark.parametrize("bad", [RaisingRecorder, RaisingHandles])
@pytest.mark.parametrize("build", [arithmetic_society, owl_style_society])
@pytest.mark.parametrize("runner", [None, "async", "manual"])
def test_societies_identical_with_a_raising_recorder(bad, build, runner, caplog) -> None:
    plain = _society_result(build, None, runner)
    with caplog.at_level(logging.ERROR, logger="agentracer.camel"):
        broken = _society_result(build, bad(), runner)
    assert broken == plain
    assert any("internal error" in r.getMessage() for r in caplog.records)  # logged, not raised


@pytest.mark.parametrize("bad", [RaisingRecorder, RaisingHandles])
def test_workforce_identical_with_a_raising_recorder(bad, caplog) -> None:
    plain = _workforce_result(None)
    with caplog.at_level(logging.ERROR, logger="agentracer.camel"):
        broken = _workforce_result(bad())
    assert broken == plain
    assert any("internal error" in r.getMessage() for r in caplog.records)


def test_single_agent_identical_with_a_raising_recorder() -> None:
    from agentracer_camel.testing import ScriptedModel, multiply
    from camel.agents import ChatAgent
    from camel.toolkits import FunctionTool

    def script(messages):
        if messages[-1]["role"] == "tool":
            return f"= {messages[-1]['content']}"
        return {"content": "", "tool_calls": [{"name": "multiply", "arguments": {"a": 3, "b": 5}, "id": "t"}]}

    def run(recorder):
        agent = ChatAgent("You compute.", model=ScriptedModel(script), tools=[FunctionTool(multiply)], step_timeout=30)
        if recorder is not None:
            agentracer.instrument(agent, recorder=recorder)
        r = agent.step("3*5?")
        return r.msgs[0].content, [(c.tool_name, c.args, c.result) for c in r.info["tool_calls"]]

    assert run(RaisingRecorder()) == run(RaisingHandles()) == run(None)
