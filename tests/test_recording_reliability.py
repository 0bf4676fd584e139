"""What was recorded is kept: run identity, bookkeeping under faults, odd text, torn files, hung exporters,
unopenable sinks, bounded memory and per-context ``last_trace`` (issue 19, the recorder's side)."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings
from pathlib import Path

import pytest
from agentracer import Recorder, last_trace
from agentracer.formats import read
from agentracer.formats.jsonl import SkippedLineWarning, parse_jsonl
from agentracer.recording import JsonlSink, llm_call_key, llm_key_part
from agentracer.recording.export import tracer_provider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def _small_run(rec: Recorder, task: str = "t", **kw) -> None:
    with rec.run(task, **kw):
        with rec.step("planner", input="go") as h:
            rec.begin_llm("m", messages=[{"role": "user", "content": task}]).end("plan")
            h.set(content="plan")
        with rec.step("solver"):
            rec.begin_tool("calc", args={"x": 1}).end(2)


# ---------------------------------------------------------------- 1. run identity
def test_same_session_runs_are_separate_traces(tmp_path: Path) -> None:
    exp = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exp))
    sink = tmp_path / "s.jsonl"
    rec = Recorder(sink=sink, tracer_provider=tp)
    for turn in range(3):
        _small_run(rec, f"turn {turn}", session_id="thread-1")
    traces = read(sink)
    assert len(traces) == 3
    assert len({t.run_id for t in traces}) == 3
    assert [t.task for t in traces] == ["turn 0", "turn 1", "turn 2"]
    assert all(t.metadata["session_id"] == "thread-1" and len(t.steps) == 4 for t in traces)
    roots = [s for s in exp.get_finished_spans() if s.name.startswith("invoke_workflow")]
    assert {s.attributes["session.id"] for s in roots} == {"thread-1"}
    assert {s.attributes["gen_ai.conversation.id"] for s in roots} == {"thread-1"}
    assert len({s.attributes["agentracer.run.id"] for s in roots}) == 3


def test_explicit_run_id_clash_with_an_open_run_gets_a_fresh_id(tmp_path: Path) -> None:
    rec = Recorder(sink=tmp_path / "s.jsonl")
    a = rec.start_run("a", run_id="same")
    b = rec.start_run("b", run_id="same")
    assert a.trace.run_id == "same" and b.trace.run_id != "same" and b.trace.run_id.startswith("same")
    rec.end_run(b)
    rec.end_run(a)
    assert sorted(t.task for t in read(tmp_path / "s.jsonl")) == ["a", "b"]


def test_reader_splits_a_reused_run_id_into_separate_traces() -> None:
    """An old file (or another writer) that reused a run id: a new run_start after a run_end is a new run."""
    lines = []
    for turn in range(3):
        lines.append({"type": "run_start", "run_id": "t1", "task": f"turn {turn}", "framework": "x", "agents": [],
                      "outcome": "unknown", "metadata": {}})
        lines.append({"type": "step", "run_id": "t1", "step": {"index": 0, "agent": "a", "content": f"c{turn}"}})
        lines.append({"type": "run_end", "run_id": "t1", "outcome": "success", "metadata": {}})
    traces = parse_jsonl("\n".join(json.dumps(x) for x in lines) + "\n")
    assert [(t.task, t.steps[0].content) for t in traces] == [("turn 0", "c0"), ("turn 1", "c1"), ("turn 2", "c2")]


# ---------------------------------------------------------------- 2. bookkeeping in finally paths
class RaisingProcessor:
    def on_start(self, span, parent_context=None):
        return None

    def _on_ending(self, span):
        return None

    def on_end(self, span):
        raise RuntimeError("user's processor is broken")

    def shutdown(self):
        return None

    def force_flush(self, timeout_millis=30000):
        return True


def test_raising_span_processor_leaks_no_run_and_keeps_every_trace(tmp_path: Path, caplog) -> None:
    tp = TracerProvider()
    tp.add_span_processor(RaisingProcessor())
    sink = tmp_path / "s.jsonl"
    rec = Recorder(tracer_provider=tp, sink=sink)
    with caplog.at_level(logging.CRITICAL, logger="agentracer"):
        for i in range(20):
            _small_run(rec, f"run {i}")
            assert last_trace().task == f"run {i}"
    assert rec._runs == []
    assert len(rec.traces) == 16  # keep=16
    back = read(sink)
    assert len(back) == 20 and all(len(t.steps) == 4 and "partial" not in t.metadata for t in back)


class BadStr(Exception):
    def __str__(self) -> str:
        raise ValueError("no str for you")


def test_host_exception_whose_str_raises(tmp_path: Path, caplog) -> None:
    rec = Recorder(sink=tmp_path / "s.jsonl")
    _small_run(rec, "before")
    with caplog.at_level(logging.CRITICAL, logger="agentracer"), pytest.raises(BadStr), rec.run("boom"), rec.step("a"):
        raise BadStr()
    assert rec._runs == []
    tr = last_trace()
    assert tr.task == "boom" and tr.metadata["error"].startswith("BadStr")
    assert tr.steps[0].metadata["error"].startswith("BadStr")
    assert [t.task for t in read(tmp_path / "s.jsonl")] == ["before", "boom"]


# ---------------------------------------------------------------- 3. lone surrogates
def test_lone_surrogates_are_replaced_everywhere(tmp_path: Path) -> None:
    exp = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exp))
    sink = tmp_path / "s.jsonl"
    rec = Recorder(sink=sink, tracer_provider=tp, capture_content=True)
    bad = "half an emoji \ud83d and \udc00"
    with rec.run(bad), rec.step("a", input=bad) as h:
        rec.begin_llm("m", messages=[{"role": "user", "content": bad}]).end(bad)
        rec.begin_llm("m", messages=[bad]).end("ok")
        rec.begin_llm("m", messages=[bad], key_messages=[{"content": bad}]).end("ok")
        rec.begin_llm("m", messages=[bad], key_parts=[llm_key_part(bad)]).end("ok")
        rec.begin_tool("t", args={"q": bad}).end({"r": bad})
        h.set(content=bad)
    tr = rec.last_trace()
    assert [s.kind for s in tr.steps] == ["agent_message", "llm_call", "llm_call", "llm_call", "llm_call", "tool_call"]
    assert llm_call_key("a", "m", [bad]) == llm_call_key("a", "m", [bad.replace("\ud83d", "\ufffd").replace("\udc00", "\ufffd")])
    dumped = json.dumps(tr.to_dict(), ensure_ascii=False)
    dumped.encode("utf-8")  # strict: no surrogate left
    assert "\ufffd" in tr.steps[1].content and tr.task == "half an emoji \ufffd and \ufffd"
    (back,) = read(sink)
    assert back.to_dict()["steps"] == tr.to_dict()["steps"]
    for s in exp.get_finished_spans():
        for v in s.attributes.values():
            if isinstance(v, str):
                v.encode("utf-8")


# ---------------------------------------------------------------- 4. crash-safe JSONL
def _two_runs(path: Path, first: str, second: str) -> None:
    rec = Recorder(sink=path)
    _small_run(rec, first)
    rec.sink.close()
    with open(path, "a", encoding="utf-8") as fh:  # the process died mid-line
        fh.write('{"type": "step", "run_id": "x", "st')
    rec2 = Recorder(sink=path)  # the service restarts and appends to the same file
    _small_run(rec2, second)
    rec2.sink.close()


def test_writer_starts_on_a_fresh_line_after_a_torn_one(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    _two_runs(path, "one", "two")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        traces = read(path)
    assert [t.task for t in traces] == ["one", "two"]
    assert all(len(t.steps) == 4 for t in traces)
    assert len([x for x in w if issubclass(x.category, SkippedLineWarning)]) == 1
    for line in path.read_text(encoding="utf-8").splitlines()[:-1]:
        if "run_id\": \"x" not in line:
            json.loads(line)


def test_reader_skips_a_malformed_line_anywhere_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    rec = Recorder(sink=path)
    _small_run(rec, "one")
    _small_run(rec, "two")
    rec.sink.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2][: len(lines[2]) // 2]  # a torn step line of run one (the disk filled mid-line)
    lines.insert(7, "\x00\x00garbage")  # and junk between the runs
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        traces = read(path)
    msgs = [str(x.message) for x in w if issubclass(x.category, SkippedLineWarning)]
    assert len(msgs) == 2 and "line 3" in msgs[0] and "line 8" in msgs[1]
    assert [t.task for t in traces] == ["one", "two"]
    assert len(traces[0].steps) == 3 and len(traces[1].steps) == 4


def test_show_reports_skipped_lines(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    _two_runs(path, "one", "two")
    env = dict(os.environ, COLUMNS="200")
    out = subprocess.run([sys.executable, "-m", "agentracer.cli", "show", str(path)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "skipped 1 malformed line" in out.stdout + out.stderr


# ---------------------------------------------------------------- 5. exports that always end
class HungExporter:
    """export() and shutdown() both block (a collector that never answers)."""

    def __init__(self) -> None:
        self.never = threading.Event()

    def export(self, spans):
        self.never.wait()

    def shutdown(self):
        self.never.wait()

    def force_flush(self, timeout_millis=30000):
        self.never.wait()


def test_shutdown_gives_up_on_a_hung_exporter() -> None:
    tp = tracer_provider(HungExporter(), interval=0.01, shutdown_timeout=0.3)
    rec = Recorder(tracer_provider=tp)
    _small_run(rec)
    t0 = time.monotonic()
    tp.shutdown()
    assert time.monotonic() - t0 < 3


HUNG_CHILD = r"""
import sys, threading
from agentracer import Recorder
from agentracer.recording.export import tracer_provider
from opentelemetry import trace

class Hung:
    def export(self, spans): threading.Event().wait()
    def shutdown(self): threading.Event().wait()
    def force_flush(self, timeout_millis=30000): threading.Event().wait()

tp = tracer_provider(Hung(), interval=0.01, shutdown_timeout=0.3)
trace.set_tracer_provider(tp)
rec = Recorder(sink=sys.argv[1])
with rec.run("exits"):
    rec.begin_step("a").end("done")
print("ran", flush=True)
"""


def test_process_exits_promptly_with_a_hung_exporter(tmp_path: Path) -> None:
    sink = tmp_path / "s.jsonl"
    p = subprocess.run([sys.executable, "-c", HUNG_CHILD, str(sink)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "ran" in p.stdout, p.stderr
    (tr,) = read(sink)
    assert tr.task == "exits" and tr.steps[0].content == "done"


def test_unopenable_sink_is_logged_once_and_never_raised(tmp_path: Path, caplog) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    bad = blocker / "sub" / "run.jsonl"  # its parent folder cannot be created
    with caplog.at_level(logging.WARNING, logger="agentracer"):
        rec = Recorder(sink=bad)
        for i in range(50):
            _small_run(rec, f"r{i}")
    assert len(rec.traces) == 16
    recs = [r for r in caplog.records if "sink" in r.getMessage()]
    assert 1 <= len(recs) <= 3
    assert sum(1 for r in recs if r.exc_info) <= 1
    assert rec.sink.failed > 200


def test_instrument_takes_an_unopenable_sink_and_max_steps(tmp_path: Path) -> None:
    pytest.importorskip("langgraph")
    import agentracer
    from agentracer.systems import recorder_of
    from agentracer_langgraph.demo import build_demo_graph

    blocker = tmp_path / "file"
    blocker.write_text("x")
    graph, _ = build_demo_graph()
    g = agentracer.instrument(graph, sink=blocker / "x" / "r.jsonl", max_steps_in_memory=5)
    assert recorder_of(g).max_steps_in_memory == 5


# ---------------------------------------------------------------- 6. bounded memory
def test_max_steps_in_memory_spills_older_steps(tmp_path: Path) -> None:
    sink = tmp_path / "s.jsonl"
    rec = Recorder(sink=sink, max_steps_in_memory=10)
    n = 5000
    with rec.run("long"):
        for i in range(200):
            with rec.step(f"a{i % 3}") as h:
                h.set(content="x" * 100)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    with rec.run("long"):
        for i in range(n):
            with rec.step(f"a{i % 3}") as h:  # a fresh name string per step: spilled steps share one
                h.set(content="x" * 100)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    tr = rec.last_trace()
    assert len(tr.steps) == n  # the skeleton is kept: the trace still counts every step
    assert used / n < 200, f"{used / n:.0f} bytes per step"
    back = read(sink)[-1]
    assert len(back.steps) == n and all(s.content == "x" * 100 for s in back.steps)


# ---------------------------------------------------------------- 7. per-context last_trace
def test_last_trace_is_per_task() -> None:
    rec = Recorder()

    async def one(i: int) -> str:
        with rec.run(f"task {i}"), rec.step("a") as h:
            await asyncio.sleep(0.001 * (i % 5))
            h.set(content=str(i))
        await asyncio.sleep(0.005)
        return last_trace().task

    async def main() -> list[str]:
        return await asyncio.gather(*(one(i) for i in range(50)))

    assert asyncio.run(main()) == [f"task {i}" for i in range(50)]


def test_last_trace_is_per_thread() -> None:
    rec = Recorder()
    got: dict[int, str] = {}
    barrier = threading.Barrier(8)

    def work(i: int) -> None:
        with rec.run(f"thread {i}"):
            rec.begin_step("a").end("x")
        barrier.wait(10)
        got[i] = last_trace().task

    ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    assert got == {i: f"thread {i}" for i in range(8)}


def test_run_handle_api() -> None:
    import agentracer

    rec = Recorder()
    with agentracer.run(rec) as r:
        _small_run(rec, "handled")
    assert r.trace is not None and r.trace.task == "handled"


def test_sink_write_is_one_line_per_event(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "s.jsonl")
    rec = Recorder(sink=sink)
    _small_run(rec)
    sink.close()
    kinds = [json.loads(x)["type"] for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert kinds == ["run_start", "step", "step", "step", "step", "run_end"]
