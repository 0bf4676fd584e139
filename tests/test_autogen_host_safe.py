"""AutoGen AgentChat: instrumentation never changes or breaks the host run, even when agentracer fails."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("autogen_agentchat")
pytest.importorskip("autogen_ext.models.replay")

import _autogen_systems as S  # noqa: E402
import agentracer  # noqa: E402
from agentracer import Recorder  # noqa: E402

BUILDERS = [S.round_robin, S.selector, S.swarm, S.magentic_one]


def _boom(*args, **kwargs):
    raise RuntimeError("recorder bug")


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
def test_raising_recorder_leaves_the_host_result_identical(build, monkeypatch) -> None:
    plain = asyncio.run(build().run(task=S.TASK))
    rec = Recorder()
    for name in ("_begin_step", "_end_step", "_begin_llm", "_begin_tool"):
        monkeypatch.setattr(rec, name, _boom)
    team = agentracer.instrument(build(), recorder=rec)
    got = asyncio.run(team.run(task=S.TASK))
    assert S.signature(got) == S.signature(plain)
    assert rec.errors > 0


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
def test_instrumented_result_equals_plain_result(build) -> None:
    plain = asyncio.run(build().run(task=S.TASK))
    team = agentracer.instrument(build(), recorder=Recorder())
    assert S.signature(asyncio.run(team.run(task=S.TASK))) == S.signature(plain)


def test_plugin_internal_errors_are_logged_not_raised(monkeypatch, caplog) -> None:
    from agentracer_autogen.session import Session

    plain = asyncio.run(S.round_robin().run(task=S.TASK))
    for name in ("begin_turn", "turn_response", "end_turn", "begin_run", "end_run", "manager_output", "llm_parent"):
        monkeypatch.setattr(Session, name, _boom)
    team = agentracer.instrument(S.round_robin(), recorder=Recorder())
    got = asyncio.run(team.run(task=S.TASK))
    assert S.signature(got) == S.signature(plain)
    assert "internal error in the AutoGen plugin" in caplog.text


def test_host_errors_propagate_unchanged() -> None:
    """A failing model call fails the run exactly as without agentracer; the trace records the error."""

    def failing():
        return S.round_robin(coder=())  # the coder's client has no answers left: it raises

    with pytest.raises(Exception) as plain:
        asyncio.run(failing().run(task=S.TASK))
    rec = Recorder()
    team = agentracer.instrument(failing(), recorder=rec)
    with pytest.raises(type(plain.value)) as got:
        asyncio.run(team.run(task=S.TASK))
    def gist(e):  # AutoGen puts the remote traceback in the message; ours adds frames, the error is the same
        lines = [ln for ln in str(e).splitlines() if ln.strip()]
        return lines[0], lines[-1]

    assert gist(got.value) == gist(plain.value)
    tr = rec.last_trace()
    assert tr is not None and "error" in tr.metadata
    coder = next(s for s in tr.agent_steps() if s.agent == "coder")
    assert "error" in coder.metadata
