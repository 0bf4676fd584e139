"""Property-based, fault-injecting test of the recorder's event sequence (hypothesis stateful testing).

Runs, agent steps, LLM calls and tool calls are opened and closed in any order, with host errors (one whose
``__str__`` raises), text with lone surrogates, a span processor that raises on and off, and bursts of runs
on other threads. Invariants: every run started is closed (at the end, no open run is left); the JSONL sink
read back equals the traces kept in memory; no step lands in another run.
"""

from __future__ import annotations

import tempfile
import threading
import warnings
from pathlib import Path

import pytest
from agentracer import Recorder
from agentracer.formats import read
from agentracer.recording import NullHandle
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule
from opentelemetry.sdk.trace import TracerProvider

TEXT = st.sampled_from(["ok", "", "emoji \ud83d cut", "\udc00", "naïve ✓", "x" * 300])


class BadStr(Exception):
    def __str__(self) -> str:
        raise ValueError("broken __str__")


ERRORS = st.sampled_from([None, None, "error text", ValueError("boom"), BadStr()])


class FlakyProcessor:
    """A span processor that raises in ``on_end`` while ``broken`` is set."""

    def __init__(self) -> None:
        self.broken = False

    def on_start(self, span, parent_context=None):
        return None

    def _on_ending(self, span):
        return None

    def on_end(self, span):
        if self.broken:
            raise RuntimeError("processor down")

    def shutdown(self):
        return None

    def force_flush(self, timeout_millis=30000):
        return True


class RecorderMachine(RuleBasedStateMachine):
    runs = Bundle("runs")
    steps = Bundle("steps")

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.TemporaryDirectory()
        self.path = Path(self.dir.name) / "s.jsonl"
        self.proc = FlakyProcessor()
        tp = TracerProvider()
        tp.add_span_processor(self.proc)
        self.rec = Recorder(sink=self.path, tracer_provider=tp, keep=10_000)
        self.started = 0
        self.tag = 0

    @rule(target=runs, task=TEXT, session=st.sampled_from([None, "s1", "s2"]))
    def start_run(self, task, session):
        self.tag += 1
        r = self.rec.start_run(task, session_id=session, metadata={"tag": self.tag})
        assert not isinstance(r, NullHandle)
        self.started += 1
        return r

    @rule(target=steps, run=runs, agent=st.sampled_from(["a", "b", "c"]), text=TEXT)
    def begin_step(self, run, agent, text):
        return self.rec.begin_step(agent, input=text, run=run, metadata={"tag": run.trace.metadata["tag"]})

    @rule(target=steps, parent=steps, text=TEXT, tool=st.booleans())
    def begin_call(self, parent, text, tool):
        if isinstance(parent, NullHandle) or parent.step.parent is not None or parent._ended:
            return NullHandle()
        if tool:
            return self.rec.begin_tool("t", args={"q": text}, parent=parent)
        return self.rec.begin_llm("m", messages=[{"role": "user", "content": text}], parent=parent)

    @rule(h=consumes(steps), out=TEXT, error=ERRORS)
    def end_step(self, h, out, error):
        h.end(out, error=error)

    @rule(run=consumes(runs), error=ERRORS, answer=TEXT)
    def end_run(self, run, error, answer):
        if isinstance(error, BaseException):
            self.rec.end_run(run, error=error)
        else:
            self.rec.end_run(run, final_answer=answer)
        assert run.ended

    @rule(broken=st.booleans())
    def toggle_processor(self, broken):
        self.proc.broken = broken

    @rule(n=st.integers(1, 4), k=st.integers(0, 5))
    def thread_burst(self, n, k):
        def work(i: int) -> None:
            with self.rec.run(f"thread {i}", metadata={"tag": f"t{i}"}):
                for j in range(k):
                    with self.rec.step(f"w{j % 2}", metadata={"tag": f"t{i}"}) as h:
                        self.rec.begin_llm("m", messages=[j], parent=h).end(str(j))

        self.started += n
        ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)

    @invariant()
    def no_step_in_another_run(self):
        for tr in list(self.rec.traces):
            tag = tr.metadata.get("tag")
            for s in tr.steps:
                if s.parent is None:
                    assert s.metadata.get("tag") == tag
                else:
                    assert 0 <= s.parent < s.index and tr.steps[s.parent].parent is None

    def teardown(self):
        try:
            for r in list(self.rec._runs):
                self.rec.end_run(r)
            assert self.rec._runs == []
            assert len(self.rec.traces) == self.started
            self.rec.sink.close()
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # nothing torn: every line is whole
                back = read(self.path) if self.path.exists() else []
            mem = sorted((t.to_dict() for t in self.rec.traces), key=lambda d: d["run_id"])
            disk = sorted((t.to_dict() for t in back), key=lambda d: d["run_id"])
            assert disk == mem
        finally:
            self.dir.cleanup()


TestRecorderMachine = RecorderMachine.TestCase
TestRecorderMachine.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(autouse=True)
def _quiet(caplog):
    import logging

    with caplog.at_level(logging.CRITICAL, logger="agentracer"):
        yield


def _same_step(mem: dict, disk: dict) -> bool:
    """A step kept in memory equals its sink line; a spilled one keeps the sink's index, agent, role, kind,
    parent and tool name."""
    if mem["metadata"] == {"spilled": True} and mem["content"] == "":
        return all(mem[k] == disk[k] for k in ("index", "agent", "role", "kind", "parent", "tool_name"))
    return mem == disk


class SpillingRecorderMachine(RecorderMachine):
    """The same sequences with ``max_steps_in_memory=2``: ``trace.steps`` still reads as every step, and the
    sink read back equals the traces in memory plus the spilled steps' content."""

    def __init__(self) -> None:
        super().__init__()
        tp = TracerProvider()
        tp.add_span_processor(self.proc)
        self.rec = Recorder(sink=self.path, tracer_provider=tp, keep=10_000, max_steps_in_memory=2)

    @invariant()
    def no_step_in_another_run(self):
        for tr in list(self.rec.traces):
            tag = tr.metadata.get("tag")
            steps = list(tr.steps)
            assert [s.index for s in steps] == list(range(len(tr.steps)))
            for s in steps:
                if s.parent is None:
                    assert s.metadata.get("tag") == tag or s.metadata == {"spilled": True}
                else:
                    assert 0 <= s.parent < s.index and tr.steps[s.parent].parent is None

    def teardown(self):
        try:
            for r in list(self.rec._runs):
                self.rec.end_run(r)
            assert self.rec._runs == []
            assert len(self.rec.traces) == self.started
            self.rec.sink.close()
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                back = read(self.path) if self.path.exists() else []
            mem = sorted((t.to_dict() for t in self.rec.traces), key=lambda d: d["run_id"])
            disk = sorted((t.to_dict() for t in back), key=lambda d: d["run_id"])
            assert len(mem) == len(disk)
            for m, d in zip(mem, disk, strict=True):
                ms, ds = m.pop("steps"), d.pop("steps")
                assert m == d and len(ms) == len(ds)
                assert all(_same_step(a, b) for a, b in zip(ms, ds, strict=True))
        finally:
            self.dir.cleanup()


TestSpillingRecorderMachine = SpillingRecorderMachine.TestCase
TestSpillingRecorderMachine.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None, suppress_health_check=list(HealthCheck)
)
