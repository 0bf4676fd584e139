"""Bounded memory (issue 19, item 6): under ``max_steps_in_memory`` spilled steps leave memory (a list slot
and two array cells each), ``trace.steps`` still reads as every step, and the sink gives the whole run back."""

from __future__ import annotations

import copy
import gc
import json
import pickle
import random
import tracemalloc
from pathlib import Path

import agentracer
import pytest
from agentracer import Recorder
from agentracer.formats import read
from agentracer.recording.spill import CallKeyCounts, SpillableSteps, SpilledStep
from agentracer.trace import Step, Trace

FIELDS = ("index", "agent", "role", "kind", "parent", "tool_name")


def _record(sink: Path, agent_steps: int, keep: int, fail_at: int | None = None) -> Trace:
    """A run of ``agent_steps`` agent steps, each with an LLM call and every third with a tool call."""
    rec = Recorder(sink=sink, max_steps_in_memory=keep)
    with rec.run("add the numbers", ground_truth="42") as run:
        for i in range(agent_steps):
            with rec.step(f"agent{i % 4}", input=f"turn {i}") as h:
                rec.begin_llm("m", messages=[{"role": "user", "content": f"prompt {i}"}]).end(f"answer {i}")
                if i % 3 == 0:
                    rec.begin_tool("calc", args={"i": i}).end({"value": i})
                text = "the total is 41" if i == fail_at else f"step {i} ok"
                h.set(content=text)
        run.end(outcome="failure", final_answer="41")
    tr = rec.last_trace()
    assert tr is not None
    return tr


def test_a_2000_step_run_with_n_100_reads_back_whole(tmp_path: Path) -> None:
    sink = tmp_path / "s.jsonl"
    tr = _record(sink, 800, keep=100)  # 800 agent steps + 800 LLM calls + 267 tool calls
    n = len(tr.steps)
    assert n == 1867 and isinstance(tr.steps, SpillableSteps)
    assert tr.steps.spilled == n - 100
    (back,) = read(sink)
    assert len(back.steps) == n and back.run_id == tr.run_id and back.outcome == "failure"
    assert all(s.index == i for i, s in enumerate(back.steps))
    assert back.steps[3].content == "step 1 ok" and back.steps[1].content == "answer 0"
    assert back.steps[2].tool_result == {"value": 0}
    mem = list(tr.steps)
    for m, d in zip(mem, back.steps, strict=True):
        if isinstance(m, SpilledStep):  # spilled: the stand-in's fields match the sink's step
            assert m.metadata == {"spilled": True} and m.content == ""
            assert [getattr(m, f) for f in FIELDS] == [getattr(d, f) for f in FIELDS]
        else:  # resident: the whole step, as written
            assert m.to_dict() == d.to_dict()
    assert sum(not isinstance(m, SpilledStep) for m in mem) == 100
    # the trace's own fields are those of the sink
    td, bd = tr.to_dict(), back.to_dict()
    assert {k: v for k, v in td.items() if k != "steps"} == {k: v for k, v in bd.items() if k != "steps"}


def test_attribution_on_the_read_back_trace(tmp_path: Path) -> None:
    sink = tmp_path / "s.jsonl"
    tr = _record(sink, 300, keep=50, fail_at=120)
    (back,) = read(sink)
    mem = agentracer.attribute(tr)  # the in-memory trace (spilled steps without content) attributes too
    assert mem.parsed and mem.step is not None and tr.steps[mem.step].parent is None
    att = agentracer.attribute(back)
    assert att.parsed and att.agent in back.agents
    assert att.step is not None and 0 <= att.step < len(back.steps)
    assert back.steps[att.step].parent is None  # it names an agent step
    base = agentracer.attribute(back, method="first-speaker")
    assert base.agent == "agent0" and base.step == 0


def test_spilled_steps_read_like_a_list(tmp_path: Path) -> None:
    sink = tmp_path / "s.jsonl"
    tr = _record(sink, 40, keep=10)
    steps = tr.steps
    n = len(steps)
    assert n == 40 + 40 + 14 and steps.spilled == n - 10
    plain = list(steps)
    assert [s.index for s in plain] == list(range(n))
    assert steps[0].agent == "agent0" and steps[1].kind == "llm_call" and steps[1].parent == 0
    assert steps[2].tool_name == "calc" and steps[2].role == "tool"
    assert steps[-n].index == 0 and steps[-1] is plain[-1]  # resident steps are the objects themselves
    assert [s.index for s in steps[10:20:3]] == [10, 13, 16, 19]
    assert [s.index for s in reversed(steps)] == list(range(n - 1, -1, -1))
    assert steps == plain and plain == steps and (steps != plain) is False and steps != plain[:-1]
    assert steps[3] in steps and steps.index(steps[3]) == 3 and steps.count(steps[3]) == 1
    assert [s.index for s in steps + [Step(index=n, agent="x")]][-2:] == [n - 1, n]
    assert len([Step(index=0, agent="x")] + steps) == n + 1
    assert type(copy.copy(steps)) is list and copy.deepcopy(steps) == plain
    assert pickle.loads(pickle.dumps(steps)) == plain
    assert json.loads(tr.to_json())["steps"][0]["metadata"] == {"spilled": True}
    assert [s.to_dict() for s in Trace.from_dict(tr.to_dict()).validate().steps] == [s.to_dict() for s in plain]
    assert "<spilled step>" not in repr(steps)
    with pytest.raises(IndexError):
        steps[n]
    # the attributes readers look at on every step
    assert all(s.parent is None or 0 <= s.parent < s.index for s in steps)
    assert [s.index for s in tr.agent_steps()] == [s.index for s in plain if s.parent is None]
    assert tr.fork_target(0).agent == "agent0"


def test_mutations_that_move_steps_keep_them(tmp_path: Path) -> None:
    tr = _record(tmp_path / "s.jsonl", 10, keep=3)
    steps = tr.steps
    before = [s.to_dict() for s in steps]
    extra = Step(index=99, agent="x")
    steps.insert(0, extra)
    assert steps.spilled == 0 and steps[0] is extra
    assert [s.to_dict() for s in steps[1:]] == before
    del steps[0]
    steps.extend(steps)
    assert [s.to_dict() for s in steps] == before + before
    steps.clear()
    assert len(steps) == 0 and list(steps) == []


def test_a_step_that_cannot_be_kept_compactly_stays_a_stand_in(tmp_path: Path) -> None:
    rec = Recorder(sink=tmp_path / "s.jsonl", max_steps_in_memory=1)
    with rec.run("t"):
        for i in range(4):
            with rec.step(f"a{i}") as h:
                h.set(content="c")
                h.step.tool_name = ["unhashable"]  # a field a shape cannot hold
    steps = rec.last_trace().steps
    assert [s.index for s in steps] == [0, 1, 2, 3] and steps.spilled == 0
    assert all(type(s) is SpilledStep for s in steps[:3]) and steps[0].tool_name == ["unhashable"]


def test_call_key_counts_match_a_dict() -> None:
    rnd = random.Random(7)
    keys = [f"{rnd.getrandbits(128):032x}" for _ in range(300)] + ["not-a-hash", "ABC"]
    counts = CallKeyCounts(merge_at=16)  # merge often
    ref: dict[str, int] = {}
    for _ in range(3000):
        k = rnd.choice(keys) if rnd.random() < 0.7 else f"{rnd.getrandbits(128):032x}"
        occ = counts.get(k, 0)
        assert occ == ref.get(k, 0)
        counts[k] = occ + 1
        ref[k] = occ + 1
    assert all(counts[k] == v for k, v in ref.items())
    assert len(counts) == len(ref) and "0" * 32 not in counts
    with pytest.raises(KeyError):
        counts["f" * 32]


def test_llm_call_occurrences_are_numbered_in_a_long_run(tmp_path: Path) -> None:
    rec = Recorder(sink=tmp_path / "s.jsonl", max_steps_in_memory=5)
    with rec.run("t"):
        for i in range(6000):  # 3 keys repeat, the others are new: more than a merge of the key array
            with rec.step("a") as h:
                msg = [f"repeat {i % 3}"] if i % 2 else [f"new {i}"]
                rec.begin_llm("m", messages=msg).end("r")
                h.set(content="c")
    rec.sink.close()
    (back,) = read(tmp_path / "s.jsonl")
    seen: dict[str, int] = {}
    for s in back.steps:
        if s.kind == "llm_call":
            k = s.replay["llm_key"]
            assert s.replay["occurrence"] == seen.get(k, 0)
            seen[k] = seen.get(k, 0) + 1
    assert sorted(seen.values())[-3:] == [1000, 1000, 1000]


def test_memory_per_agent_step_beyond_n_is_small(tmp_path: Path) -> None:
    """One LLM call per agent step, every call key different: under 100 bytes per agent step spilled."""
    rec = Recorder(sink=tmp_path / "s.jsonl", max_steps_in_memory=100)
    n = 3000
    with rec.run("long"):
        for i in range(300):
            with rec.step(f"a{i % 3}", input="x" * 50) as h:
                rec.begin_llm(f"m{i}", messages=["p" * 200]).end("r" * 200)
                h.set(content="c" * 200)
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        for i in range(300, 300 + n):
            with rec.step(f"a{i % 3}", input="x" * 50) as h:
                rec.begin_llm(f"m{i}", messages=["p" * 200]).end("r" * 200)  # a new model, a new call key
                h.set(content="c" * 200)
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
    assert len(rec.last_trace().steps) == 2 * (n + 300)
    assert used / n < 100, f"{used / n:.0f} bytes per agent step"


def test_langgraph_checkpoint_ids_reach_the_sink(tmp_path: Path) -> None:
    """Checkpoint ids are known only when the run ends, after the steps were streamed: they are written
    again (Recorder.amend_steps), so the sink read back equals the trace in memory."""
    pytest.importorskip("langgraph")
    from agentracer_langgraph.demo import build_demo_graph
    from langgraph.checkpoint.memory import InMemorySaver

    graph, _ = build_demo_graph(checkpointer=InMemorySaver())
    g = agentracer.instrument(graph, sink=tmp_path / "s.jsonl")
    with agentracer.run() as r:
        g.invoke({"messages": [("user", "What is 2+2?")]}, {"configurable": {"thread_id": "t1"}})
    tr = r.trace
    (back,) = read(tmp_path / "s.jsonl")
    assert all("checkpoint_id" in s.replay for s in tr.agent_steps())
    assert back.to_dict() == tr.to_dict()
    # bounded: the steps still in memory read back equal too, the others as their stand-ins say
    g2 = agentracer.instrument(build_demo_graph(checkpointer=InMemorySaver())[0], sink=tmp_path / "b.jsonl",
                               max_steps_in_memory=2)
    with agentracer.run() as r2:
        g2.invoke({"messages": [("user", "What is 2+2?")]}, {"configurable": {"thread_id": "t2"}})
    (back2,) = read(tmp_path / "b.jsonl")
    mem = list(r2.trace.steps)
    assert len(mem) == len(back2.steps) == len(tr.steps)
    assert [s.to_dict() for s in mem[-2:]] == [s.to_dict() for s in back2.steps[-2:]]
    assert [[getattr(s, f) for f in FIELDS] for s in mem] == [[getattr(s, f) for f in FIELDS] for s in back2.steps]
