"""Long traces: `show` reads a JSONL file in one pass and parses only its page, the long-run report stays
bounded and works in headless Chromium, `report --all` writes an index grouped by session, and the runs of one
session are shown together."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest
from agentracer.cli import app
from agentracer.formats.jsonl import JsonlSink, SkippedLineWarning, load_steps, read_jsonl, scan_jsonl
from agentracer.report import LONG_RECORDS, write_report
from agentracer.trace import Attribution, Step, Trace
from typer.testing import CliRunner

AGENTS = ("planner", "coder", "reviewer")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _run(run_id: str, n: int, session: str | None = None, secret_at: int | None = None) -> Trace:
    """A failed run of ``n`` records: agent steps, each followed by an LLM call and every other by a tool call."""
    t = Trace(run_id=run_id, task="a long task", framework="langgraph", outcome="failure", final_answer="41",
              metadata={"session_id": session} if session else {})
    parent = 0
    while len(t.steps) < n:
        i = len(t.steps)
        if i % 4 == 0:
            text = f"step {i}: " + "lorem ipsum " * 8
            if i == secret_at:
                text += " key sk-abcdefghijklmnopqrstuvwxyz0123456789"
            s = t.add_step(Step(index=0, agent=AGENTS[(i // 4) % 3], content=text))
            parent = s.index
        elif i % 4 == 3:
            t.add_step(Step(index=0, agent=t.steps[parent].agent, kind="tool_call", role="tool", tool_name="lookup",
                            tool_args={"q": f"id{i}"}, content=f"result {i}", parent=parent))
        else:
            t.add_step(Step(index=0, agent=t.steps[parent].agent, kind="llm_call", content=f"llm {i}", parent=parent))
    return t


def _stream(path: Path, traces: list[Trace]) -> Path:
    """Write ``traces`` as the live sink does (run_start, one line per step, run_end)."""
    sink = JsonlSink(path)
    for t in traces:
        sink.on_run_start(t)
        for s in t.steps:
            sink.on_step(t, s)
        sink.on_run_end(t)
    sink.close()
    return path


def _rows(output: str) -> list[int]:
    return [int(m) for m in re.findall(r"^│ (\d+)", output, re.M)]


def test_scan_agrees_with_the_full_reader(tmp_path: Path) -> None:
    src = _stream(tmp_path / "runs.jsonl", [_run("a", 41, "t1"), _run("b", 9), _run("c", 13, "t1")])
    with src.open("a") as f:  # a torn line, a trace line, and a run whose step 2 was lost
        f.write('{"type": "step", "run_id": "a", "st\n')
        f.write(json.dumps({"type": "trace", **_run("d", 6).to_dict()}) + "\n")
        gap = _run("e", 5)
        f.write(json.dumps({"type": "run_start", "run_id": "e", "task": "t"}) + "\n")
        for s in gap.steps:
            if s.index != 2:
                f.write(json.dumps({"type": "step", "run_id": "e", "step": s.to_dict()}) + "\n")
    with warnings.catch_warnings(record=True) as w1:
        warnings.simplefilter("always", SkippedLineWarning)
        full = read_jsonl(src)
    with warnings.catch_warnings(record=True) as w2:
        warnings.simplefilter("always", SkippedLineWarning)
        entries = scan_jsonl(src)
    assert len(w1) == len(w2) == 1
    assert [e.run_id for e in entries] == [t.run_id for t in full] == ["a", "b", "c", "d", "e"]
    for e, t in zip(entries, full, strict=True):
        assert e.n_steps == len(t.steps)
        assert {a: dict(c) for a, c in e.counts.items()} == {
            a: {k: sum(1 for s in t.steps if s.agent == a and s.kind == k) for k in c} for a, c in e.counts.items()}
        assert sum(sum(c.values()) for c in e.counts.values()) == len(t.steps)
        assert e.session_id == t.metadata.get("session_id")
        assert e.header.get("outcome", "unknown") == t.outcome
        page = load_steps(src, e, range(1, 4))
        assert [s.to_dict() for s in page] == [s.to_dict() for s in t.steps[1:4]]
    assert full[-1].metadata.get("partial") and entries[-1].header["metadata"]["partial"]


def test_show_a_long_streamed_run_pages_without_reading_it_whole(tmp_path: Path) -> None:
    src = _stream(tmp_path / "long.jsonl", [_run("long", 5000)])
    r = CliRunner().invoke(app, ["show", str(src), "--limit", "5"])
    assert r.exit_code == 0, r.output
    assert "trace 1 of 1" in r.output and "5000 steps" in r.output
    assert re.search(r"planner: \d+ \(llm_call \d+, agent_message \d+, tool_call \d+\)", r.output)
    assert _rows(r.output) == [0, 1, 2, 3, 4] and "--steps 5:10" in r.output
    r = CliRunner().invoke(app, ["show", str(src), "--steps", "4990:", "--limit", "0"])
    assert _rows(r.output) == list(range(4990, 5000))


def test_show_groups_the_runs_of_one_session(tmp_path: Path) -> None:
    turns = [_run(f"turn{k}", 8, "thread-1") for k in range(3)]
    src = _stream(tmp_path / "thread.jsonl", [turns[0], _run("other", 4), turns[1], turns[2]])
    r = CliRunner().invoke(app, ["show", str(src), "--index", "2"])
    assert r.exit_code == 0, r.output
    assert "trace 3 of 4" in r.output and "session thread-1 (run 2 of 3)" in r.output
    assert "4 traces, 1 session(s)" in r.output
    assert re.search(r"session thread-1: 3 run\(s\), --index 0, >2, 3", r.output)
    assert "no session: 1 run(s), --index 1" in r.output


def test_long_report_is_bounded_and_redacted(tmp_path: Path) -> None:
    n = 3 * LONG_RECORDS
    t = _run("big", n, secret_at=4 * 300)
    att = Attribution("planner", 4 * 300, "the plan was wrong", 0.6, "test",
                      candidates=[{"step": 4 * 300, "agent": "planner", "probability": 0.6},
                                  {"step": 40, "agent": "coder", "probability": 0.2}])
    out = write_report(t, tmp_path / "big.html", attribution=att)
    page = out.read_text()
    assert out.stat().st_size < 600_000
    data = json.loads(re.search(r'id="trace-data">(.*?)</script>', page, re.S).group(1))
    assert len(data["s"]) == n // 4 and data["dec"] == 1200
    # the decisive step and the other candidate in full, the decisive one open, before the collapsed list
    assert page.index('id="s1200"') < page.index('id="rows"') and page.index('id="s40"') < page.index('id="rows"')
    assert re.search(r'class="row decisive" id="s1200".*?<details class="step" open>', page, re.S)
    assert "sk-abcdefghijklmnopqrstuvwxyz0123456789" not in page


def test_report_all_writes_an_index_grouped_by_session(tmp_path: Path) -> None:
    turns = [_run(f"turn{k}", 8, "thread-1") for k in range(3)]
    src = _stream(tmp_path / "thread.jsonl", [turns[0], _run("other", 4), turns[1], turns[2]])
    out = tmp_path / "rep" / "index.html"
    r = CliRunner().invoke(app, ["report", str(src), "--all", "-o", str(out), "-m", "first-speaker"])
    assert r.exit_code == 0, r.output
    index = out.read_text()
    sessions = re.findall(r'<h2 class="session" data-runs="(\d+)">([^<]*)</h2>', index)
    assert sessions[0] == ("3", "session thread-1 · 3 run(s)") and sessions[1][0] == "1"
    links = re.findall(r'<a href="(index-\d\.html)">([^<]+)</a>', index)
    assert [name for _, name in links] == ["turn0", "turn1", "turn2", "other"]
    page = (out.parent / "index-2.html").read_text()
    assert "session <b id=\"session\">thread-1</b> (run 2 of 3)" in page and 'href="index.html"' in page
    r = CliRunner().invoke(app, ["report", str(src), "--index", "3", "-o", str(tmp_path / "one.html"), "-m",
                                 "first-speaker"])
    assert r.exit_code == 0 and "(run 3 of 3)" in (tmp_path / "one.html").read_text()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_long_report_in_chromium_at_10000_steps(tmp_path: Path) -> None:
    t = _run("ten-k", 10_000)
    att = Attribution("coder", 4 * 1001, "it broke here", 0.5, "test")
    out = write_report(t, tmp_path / "r.html", attribution=att)
    assert out.stat().st_size < 10_000_000

    def dom(url: str) -> str:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
               "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout

    page = dom(out.as_uri())
    # the decisive step is on the page, in full and open; the collapsed list is rendered by the script
    assert re.search(r'class="row decisive" id="s4004".*?<details class="step" open="">.*?it broke here', page, re.S)
    assert len(re.findall(r'class="row[^"]*" id="a\d+"', page)) == 200
    assert re.search(r'id="pageinfo">page 1 of 13 · 2500 step\(s\)', page)
    # expanding a step far down the run (by its link) renders its page and its body
    page = dom(out.as_uri() + "#a8000")
    m = re.search(r'id="a8000".*?<details class="step lazy"[^>]*>(.*?)</details>', page, re.S)
    assert m and "open" in page[m.start():m.start() + 400]
    assert "<pre>step 8000: lorem ipsum" in m.group(1) and "--steps 8000:8004" in m.group(1)


def test_three_turns_of_a_langgraph_thread_show_as_one_session(tmp_path: Path) -> None:
    pytest.importorskip("langgraph")
    import agentracer
    from agentracer_langgraph.fakes import scripted
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, MessagesState, StateGraph

    model = scripted(respond=lambda msgs: f"reply to {msgs[-1].content}", model="fake")
    g = StateGraph(MessagesState)
    g.add_node("agent", lambda state: {"messages": [model.invoke(state["messages"])]})
    g.add_edge(START, "agent")
    g.add_edge("agent", END)
    sink = tmp_path / "thread.jsonl"
    graph = agentracer.instrument(g.compile(checkpointer=InMemorySaver()), sink=sink)
    for turn in range(3):
        graph.invoke({"messages": [("user", f"turn {turn}")]}, {"configurable": {"thread_id": "conv-7"}})
    graph.invoke({"messages": [("user", "alone")]}, {"configurable": {"thread_id": "conv-8"}})
    r = CliRunner().invoke(app, ["show", str(sink), "--index", "1"])
    assert r.exit_code == 0, r.output
    assert "trace 2 of 4" in r.output and "session conv-7 (run 2 of 3)" in r.output
    assert "4 traces, 2 session(s)" in r.output and "session conv-7: 3 run(s), --index 0, >1, 2" in r.output
    out = tmp_path / "rep" / "index.html"
    r = CliRunner().invoke(app, ["report", str(sink), "--all", "-o", str(out), "-m", "first-speaker"])
    assert r.exit_code == 0, r.output
    assert re.findall(r'<h2 class="session" data-runs="(\d+)">session ([^ ]+)', out.read_text()) == [
        ("3", "conv-7"), ("1", "conv-8")]
