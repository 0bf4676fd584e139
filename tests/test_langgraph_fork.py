"""LangGraph forks: replacing step k's output re-runs only the steps after k; the prefix is not re-generated."""

from __future__ import annotations

import sqlite3

import pytest

pytest.importorskip("langgraph")

import agentracer  # noqa: E402
from agentracer.samples.demo import DEMO_SCRIPT  # noqa: E402
from agentracer_langgraph import fork_graph  # noqa: E402
from agentracer_langgraph.demo import build_demo_graph, demo_input  # noqa: E402
from agentracer_langgraph.fakes import scripted  # noqa: E402
from agentracer_langgraph.sample_graphs import handoff_graph, pipeline_graph  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402

FIXED = "Cost = 4 x $3 = $12. Change = $20 - $12 = $8.\nANSWER: 8"
SCRIPT = {**DEMO_SCRIPT, "verifier": [*DEMO_SCRIPT["verifier"], "4 x 3 = 12, 20 - 12 = 8.\nVERDICT: APPROVE"]}


@pytest.fixture(params=["memory", "sqlite"])
def checkpointer(request, tmp_path):
    if request.param == "memory":
        yield InMemorySaver()
        return
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(tmp_path / "checkpoints.sqlite", check_same_thread=False)
    yield SqliteSaver(conn)
    conn.close()


def _run(checkpointer, script=SCRIPT, thread="t-fork"):
    graph, models = build_demo_graph(script, checkpointer=checkpointer)
    agentracer.instrument(graph)
    result = graph.invoke(demo_input(), {"configurable": {"thread_id": thread}})
    return graph, models, result, agentracer.last_trace()


def _calls(models):
    return {k: len(m.calls) for k, m in models.items()}


def test_checkpoint_fork_reruns_only_the_suffix(checkpointer) -> None:
    graph, models, result, tr = _run(checkpointer)
    assert result["answer"] == "5"
    k = next(s.index for s in tr.agent_steps() if s.agent == "solver")
    before = _calls(models)
    fk = agentracer.fork(graph, tr, k, FIXED)
    assert fk.mode == "checkpoint" and fk.how == "rerun"
    res, new = fk()
    # only the verifier (after k) called its model; the planner (before k) and the solver (k) did not
    assert {a: n - before[a] for a, n in _calls(models).items()} == {"planner": 0, "solver": 0, "verifier": 1}
    prompt = models["verifier"].prompts[-1]
    assert "$12" in prompt and "$15" not in prompt
    assert res["answer"] == "8"  # the solver node turned the replacement into its state update
    # the prefix is the recorded one, step k is replaced, the rest is new
    assert [(s.agent, s.kind, s.content) for s in new.steps[:k]] == [(s.agent, s.kind, s.content) for s in tr.steps[:k]]
    assert all(s.replay["source"] == "recorded" for s in new.steps[:k])
    assert new.steps[k].agent == "solver" and new.steps[k].content == FIXED and new.steps[k].replay["overridden"]
    solver_llm = new.steps[k + 1]
    assert solver_llm.kind == "llm_call" and solver_llm.replay["served_from"] == k + 1
    assert fk.replay.served == 1 and new.metadata["fork"]["replaced"] is True
    suffix = new.steps[k + 2:]
    assert [s.agent for s in suffix] == ["verifier", "verifier"] and "served_from" not in suffix[1].replay
    assert new.final_answer == "8" and new.run_id == f"{tr.run_id}:fork@{k}"
    assert new.metadata["fork"]["checkpoint_id"] == tr.steps[k].replay["checkpoint_id"]
    # the original history is kept; the thread now ends with the fork
    ids = {h.config["configurable"]["checkpoint_id"] for h in graph.get_state_history({"configurable": {"thread_id": "t-fork"}})}
    assert {s.replay["checkpoint_id"] for s in tr.agent_steps()} <= ids
    assert graph.get_state({"configurable": {"thread_id": "t-fork"}}).values["answer"] == "8"


def test_checkpoint_fork_serves_the_steps_own_recorded_calls(checkpointer) -> None:
    # fork the planner (step 0): its first LLM call (the tool call) is served from the recording, its last
    # one is the replacement; nothing before it runs; solver and verifier run live
    script = {
        "planner": DEMO_SCRIPT["planner"],
        "solver": [*DEMO_SCRIPT["solver"], "ANSWER: 8"],
        "verifier": [*DEMO_SCRIPT["verifier"], "VERDICT: APPROVE"],
    }
    graph, models, _, tr = _run(checkpointer, script, thread="t-plan")
    before = _calls(models)
    res, new = fork_graph(graph, tr, 0, "Plan: cost = 4 x 3 = 12; change = 20 - 12.")()
    assert {a: n - before[a] for a, n in _calls(models).items()} == {"planner": 0, "solver": 1, "verifier": 1}
    served = [s.replay.get("served_from") for s in new.steps if s.kind == "llm_call" and s.agent == "planner"]
    assert served == [1, 3]
    assert new.steps[0].content.startswith("Plan: cost = 4 x 3 = 12") and new.steps[0].replay["overridden"]
    assert "Plan: cost = 4 x 3 = 12" in models["solver"].prompts[-1]
    assert res["answer"] == "8"


def test_writes_fork_applies_the_replaced_output_through_update_state(checkpointer) -> None:
    models = {"planner": scripted(["plan A"]), "solver": scripted(["ans 5"]), "verifier": scripted(["ok 5", "ok 9"])}
    g = pipeline_graph(models, checkpointer=checkpointer)
    agentracer.instrument(g)
    g.invoke({"messages": [HumanMessage("2+3?")]}, {"configurable": {"thread_id": "t-w"}})
    tr = agentracer.last_trace()
    fk = fork_graph(g, tr, 2, "ans 9", how="writes")
    res, new = fk()
    assert [len(m.calls) for m in models.values()] == [1, 1, 2]
    assert [m.content for m in res["messages"]] == ["2+3?", "plan A", "ans 9", "ok 9"]
    assert [(s.agent, s.replay.get("source"), s.replay.get("overridden")) for s in new.agent_steps()] == [
        ("planner", "recorded", None), ("solver", "recorded", True), ("verifier", None, None)
    ]
    assert new.metadata["fork"]["how"] == "writes" and new.final_answer == "ok 9"


def test_writes_fork_keeps_command_handoffs() -> None:
    add_call = AIMessage("", tool_calls=[{"name": "transfer_to_bob", "args": {}, "id": "h1"}])
    alice = scripted([add_call])
    bob = scripted(["bob answers", "bob answers again"])
    g = handoff_graph({"alice": alice, "bob": bob}, checkpointer=InMemorySaver())
    agentracer.instrument(g)
    g.invoke({"messages": [HumanMessage("hi")]}, {"configurable": {"thread_id": "t-h"}})
    tr = agentracer.last_trace()
    assert [s.agent for s in tr.agent_steps()] == ["alice", "bob"]
    res, new = fork_graph(g, tr, 0, "alice decides differently", how="writes")()
    assert len(alice.calls) == 1 and len(bob.calls) == 2
    assert "alice decides differently" in bob.prompts[-1]
    texts = [m.content for m in res["messages"]]
    assert "alice decides differently" in texts and "Transferred to bob." not in texts  # orphaned answer dropped
    assert [s.agent for s in new.agent_steps()] == ["alice", "bob"]


def test_replay_fork_without_checkpointer_serves_the_prefix() -> None:
    graph, models, _, tr = _run(None)
    k = next(s.index for s in tr.agent_steps() if s.agent == "solver")
    before = _calls(models)
    fk = agentracer.fork(graph, tr, k, FIXED)
    assert fk.mode == "replay"
    res, new = fk()
    assert {a: n - before[a] for a, n in _calls(models).items()} == {"planner": 0, "solver": 0, "verifier": 1}
    # the two planner calls and the (replaced) solver call came from the recording, in order
    assert fk.replay.served_steps == [1, 3, 5] and fk.replay.missed == 1
    assert [s.replay.get("served_from") for s in new.steps if s.kind == "llm_call"] == [1, 3, 5, None]
    assert [(s.agent, s.content) for s in new.steps[:k]] == [(s.agent, s.content) for s in tr.steps[:k]]
    assert new.steps[2].tool_result == "$3"  # tools re-run (they are not LLM calls)
    assert res["answer"] == "8" and new.steps[k].replay["overridden"]


def test_replay_llm_wrapper_passes_through_outside_forks() -> None:
    from agentracer_langgraph import llm_patch

    llm_patch.install()
    graph, models, result, tr = _run(None, thread="t-pass")
    assert result["answer"] == "5" and _calls(models) == {"planner": 2, "solver": 1, "verifier": 1}
    assert all("served_from" not in s.replay for s in tr.steps)


def test_bad_forks_are_clear_errors() -> None:
    graph, _, _, tr = _run(InMemorySaver(), thread="t-bad")
    with pytest.raises(ValueError, match="out of range"):
        fork_graph(graph, tr, 99, "x")
    with pytest.raises(ValueError, match="how must be"):
        fork_graph(graph, tr, 0, "x", how="sideways")
    plain = pipeline_graph({"a": scripted(["x"])})
    with pytest.raises(TypeError):
        agentracer.fork(object(), tr, 0, "x")
    with pytest.raises(ValueError, match="checkpointer"):
        fork_graph(plain, tr, 0, "x", mode="checkpoint")


def test_fork_in_a_parallel_superstep_serves_the_siblings() -> None:
    from agentracer_langgraph.sample_graphs import AgentState
    from langgraph.graph import END, START, StateGraph

    models = {n: scripted([f"{n} says hi"] * 2) for n in ("a", "b", "c", "judge")}

    def node(name):
        def run(state):
            return {"messages": [models[name].invoke(state["messages"]).model_copy(update={"name": name})]}

        return run

    g = StateGraph(AgentState)
    for n in models:
        g.add_node(n, node(n))
    for n in ("a", "b", "c"):
        g.add_edge(START, n)
    g.add_edge(["a", "b", "c"], "judge")
    g.add_edge("judge", END)
    app = g.compile(checkpointer=InMemorySaver())
    agentracer.instrument(app)
    app.invoke({"messages": [HumanMessage("x")]}, {"configurable": {"thread_id": "par"}})
    tr = agentracer.last_trace()
    k = next(s.index for s in tr.agent_steps() if s.agent == "b")
    res, new = agentracer.fork(app, tr, k, "B CHANGED")()
    assert {n: len(m.calls) for n, m in models.items()} == {"a": 1, "b": 1, "c": 1, "judge": 2}
    assert [m.content for m in res["messages"]] == ["x", "a says hi", "B CHANGED", "c says hi", "judge says hi"]
    assert "B CHANGED" in models["judge"].prompts[-1]
    served = {s.agent: s.replay.get("served_from") for s in new.steps if s.kind == "llm_call"}
    assert served["a"] is not None and served["c"] is not None and served["judge"] is None


def test_a_trace_read_back_in_a_new_graph_replays_when_its_checkpoints_are_gone(tmp_path) -> None:
    """A trace from a file, forked on a fresh graph whose in-memory checkpointer never saw that run (a new
    process): ``auto`` replays the trace instead of failing inside LangGraph, and ``checkpoint`` says why not."""
    from agentracer.formats import read, write

    _, _, _, tr = _run(InMemorySaver(), thread="t-file")
    write(tr, tmp_path / "run.jsonl")
    (back,) = read(tmp_path / "run.jsonl")
    graph, models = build_demo_graph(SCRIPT, checkpointer=InMemorySaver())  # a new process's graph
    agentracer.instrument(graph)
    k = next(s.index for s in back.agent_steps() if s.agent == "solver")
    fk = agentracer.fork(graph, back, k, FIXED)
    assert fk.mode == "replay"
    res, new = fk()
    assert res["answer"] == "8" and new.steps[k].replay["overridden"]
    assert {a: len(m.calls) for a, m in models.items()} == {"planner": 0, "solver": 0, "verifier": 1}
    with pytest.raises(ValueError, match="holds no checkpoint of the recorded run"):
        fork_graph(graph, back, k, FIXED, mode="checkpoint")
