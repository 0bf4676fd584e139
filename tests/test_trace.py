"""The data model, JSONL and Who&When round trips, and validation errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agentracer import AnnotatedTrace, Attribution, Step, Trace, TraceError
from agentracer.formats import load_annotated, read, write
from agentracer.formats.jsonl import JsonlSink, read_jsonl
from agentracer.formats.whowhen import read_whowhen, to_whowhen


def _trace() -> Trace:
    t = Trace(run_id="r1", task="2+2?", framework="test", ground_truth="4", outcome="failure")
    t.add_step(Step(index=0, agent="planner", content="plan: add", usage={"input_tokens": 3}))
    t.add_step(Step(index=0, agent="planner", kind="llm_call", parent=0, content="plan: add", replay={"llm_key": "k"}))
    t.add_step(Step(index=0, agent="solver", content="5", tool_name=None, metadata={"x": [1, {"y": None}]}))
    t.add_step(Step(index=0, agent="solver", kind="tool_call", role="tool", parent=2, tool_name="calc",
                    tool_args={"a": 2, "b": 2}, tool_result=5))
    return t


def test_trace_roundtrip_dict_and_jsonl(tmp_path: Path) -> None:
    t = _trace()
    assert Trace.from_dict(json.loads(t.to_json())) == t
    at = AnnotatedTrace(t, Attribution("solver", 2, "wrong sum", 0.9, "human", [2]), source="injection",
                        fault_type="wrong_number")
    p = write([t, at], tmp_path / "x.jsonl")
    back = read_jsonl(p)
    assert back == [t, at]
    assert t.agents == ["planner", "solver"]
    assert [s.index for s in t.agent_steps()] == [0, 2]


@pytest.mark.parametrize(
    ("mutate", "field", "step"),
    [
        (lambda d: d["steps"][2].update(index=7), "index", 7),
        (lambda d: d["steps"][1].pop("agent"), "agent", 1),
        (lambda d: d["steps"][3].update(kind="dance"), "kind", 3),
        (lambda d: d["steps"][1].update(parent=3), "parent", 1),
        (lambda d: d.update(outcome="meh"), "outcome", None),
        (lambda d: d["steps"][0].update(content=5), "content", 0),
        (lambda d: d.pop("run_id"), "run_id", None),
    ],
)
def test_validation_errors_name_field_and_step(tmp_path: Path, mutate, field, step) -> None:
    d = _trace().to_dict()
    mutate(d)
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(d))
    with pytest.raises(TraceError) as ei:
        read(f)
    e = ei.value
    assert e.field == field and e.step == step and e.file == str(f)
    msg = str(e)
    assert str(f) in msg and field in msg and "\n" not in msg
    if step is not None:
        assert f"step {step}" in msg


def test_malformed_json_and_nothing_half_written(tmp_path: Path) -> None:
    f = tmp_path / "broken.json"
    f.write_text('{"run_id": "a", "steps": [')
    with pytest.raises(TraceError, match="broken.json.*malformed JSON"):
        read(f)
    out = tmp_path / "out.jsonl"
    out.write_text("previous content\n")

    class Bad(Trace):
        def to_dict(self):  # serialisation fails midway
            raise TraceError("boom", field="steps")

    with pytest.raises(TraceError):
        write([_trace(), Bad(run_id="b")], out)
    assert out.read_text() == "previous content\n"


def test_jsonl_stream_sink_survives_truncated_last_line(tmp_path: Path) -> None:
    p = tmp_path / "live.jsonl"
    sink = JsonlSink(p)
    t = Trace(run_id="live", task="t", framework="x")
    sink.on_run_start(t)
    for i in range(3):
        s = t.add_step(Step(index=0, agent=f"a{i}", content=f"c{i}"))
        sink.on_step(t, s)
    sink.close()
    with open(p, "a") as fh:
        fh.write('{"type": "step", "run_id": "live", "step": {"index": 3, "ag')  # killed mid-write
    (back,) = read_jsonl(p)
    assert [s.content for s in back.steps] == ["c0", "c1", "c2"]
    assert back.metadata.get("partial") is True


def test_all_whowhen_files_roundtrip(whowhen_dir: Path) -> None:
    files = sorted(whowhen_dir.glob("*.json"))
    assert len(files) == 126
    for f in files:
        src = json.loads(f.read_text())
        item = read_whowhen(f)
        assert isinstance(item, AnnotatedTrace)
        assert len(item.trace.steps) == len(src["history"])
        assert item.gold.step == int(src["mistake_step"])
        assert item.gold.agent == src["mistake_agent"]
        assert item.trace.steps[item.gold.step].content == src["history"][item.gold.step]["content"]
        assert to_whowhen(item) == src, f.name
        # and through our own JSONL
        back = AnnotatedTrace.from_dict(json.loads(json.dumps(item.to_dict())))
        assert to_whowhen(back) == src


def test_hand_crafted_shape_is_accepted() -> None:
    from agentracer.formats.whowhen import from_whowhen

    d = {
        "is_corrected": False,
        "question": "q",
        "history": [
            {"content": "plan", "role": "Orchestrator (thought)"},
            {"content": "page", "role": "WebSurfer"},
        ],
        "mistake_agent": "WebSurfer",
        "mistake_step": "1",
        "mistake_reason": "clicked the wrong link",
    }
    at = from_whowhen(d)
    assert [s.agent for s in at.trace.steps] == ["Orchestrator", "WebSurfer"]
    assert to_whowhen(at) == d


def test_load_annotated_folder(whowhen_dir: Path) -> None:
    items = load_annotated(whowhen_dir)
    assert len(items) == 126
    assert items[0].trace.run_id


def test_whowhen_export_of_a_native_trace_numbers_agent_steps() -> None:
    """history[i] is the i-th agent step, so a gold step pointing past nested calls is renumbered."""
    from agentracer.formats.whowhen import from_whowhen

    at = AnnotatedTrace(_trace(), Attribution("solver", 2, "wrong sum"), source="injection")
    d = to_whowhen(at)
    assert [h["name"] for h in d["history"]] == ["planner", "solver"]
    assert d["mistake_step"] == "1" and d["mistake_agent"] == "solver"
    back = from_whowhen(d)
    assert back.gold.step == 1 and back.trace.steps[1].content == "5"
