"""Generated CAMEL Workforce teams: a planner that decomposes the task, workers with tools, and quality checks.

The generator's ``workforce`` system (``annotate generate --framework camel --system workforce``) on the
orchestrator-led domains (``web``, ``files``, ``multihop``), run by CAMEL's real ``Workforce.process_task``.
Every agent is a ``ChatAgent`` over :class:`~agentracer_camel.testing.ScriptedModel` (a CAMEL ``StubModel``
subclass) acting from the domain's scripted policy through the engine:

- the **planner** is the Workforce's task agent *and* its coordinator (one lead, as users often configure
  them from one model). Its decomposition call is the plan turn: one subtask per plan item, plus the
  aggregation step. Its coordinator call that assigns the subtasks is its first instruction turn; each
  **quality check** of a worker's result (CAMEL's quality evaluation, run after every subtask result) is
  one lead turn: when the subtask's item is reported it passes the result (the next instruction opens the
  next subtask), otherwise it answers ``replan`` with its instruction as the new subtask content (same
  worker) or ``reassign`` when it addressed another worker — so a wrong handoff really reroutes the team,
  and a check that passes a wrong reading lets the wrong value through;
- a **worker**'s first model call on a subtask is one worker turn; its ``CALL tool(...)`` lines become
  CAMEL tool calls that the ``ChatAgent`` runs (``FunctionTool`` s answering what the domain's world gives:
  nothing, a distractor page or row, an error, computed and recorded by the engine when the turn ran), and
  its next call returns the subtask result. A worker handed a subtask addressed to another worker reports
  a failure, and the planner's failure analysis reassigns it (no turn of the run: routing only).

The generator records these runs itself (one agent step per turn, tool calls as children) and replays them
by re-execution with the recorded prefix served.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
from typing import Any

from agentracer.annotation.domains import Turn
from agentracer.annotation.domains.team_styles import CALL_LINE, WORKER_TOOLS
from agentracer.annotation.generate import Engine
from camel.agents import ChatAgent
from camel.societies.workforce import Workforce
from camel.tasks import Task
from camel.toolkits import FunctionTool

from .testing import ScriptedModel

__all__ = ["WorkforceRun", "run_workforce"]

_TASK_ID = re.compile(r"Task ID: (\S+)")
_WORKER_ID = re.compile(r"^<([^>]+)>:<", re.M)


def _tool(name: str, arg: str, doc: str, queue: list[str]) -> FunctionTool:
    """A CAMEL tool whose answer is the next engine result queued for it (the domain's world)."""

    def answer() -> str:
        return queue.pop(0) if queue else "Error: the tool returned nothing"

    def web_search(query: str) -> str:
        return answer()

    def visit_page(url: str) -> str:
        return answer()

    def open_file(path: str) -> str:
        return answer()

    def page_down(path: str) -> str:
        return answer()

    fn = {"web_search": web_search, "visit_page": visit_page, "open_file": open_file, "page_down": page_down}[name]
    fn.__doc__ = f"{doc}\n\nArgs:\n    {arg} (str): the {arg}.\n\nReturns:\n    str: the tool's output."
    return FunctionTool(fn)


class WorkforceRun:
    """One execution's Workforce: the scripted planner, coordinator and workers around ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dom, task = engine.domain, engine.task
        self.lead = dom.agents[0]
        self.workers = list(dom.agents[1:])
        self.queues: dict[str, list[str]] = {w: [] for w in self.workers}
        self.pending: dict[str, Turn] = {}
        self.node_of: dict[str, str] = {}  # agent name -> Workforce node id
        self.subtasks: list[tuple[str, int | None]] = []  # (content, item index; None = the aggregation)
        self.assignee: dict[str, str] = {}  # camel subtask id -> agent name
        self.index_of: dict[str, int] = {}  # camel subtask id -> position in self.subtasks
        self.assigned_once = False
        lead_model = ScriptedModel(self.planner, name=f"scripted:{self.lead}")
        self.wf = Workforce(
            f"{self.lead}'s workforce",
            task_agent=ChatAgent(dom.roles.get(self.lead, ""), model=lead_model),
            coordinator_agent=ChatAgent(dom.roles.get(self.lead, ""), model=ScriptedModel(self.coordinator)),
            graceful_shutdown_timeout=0,
            failure_handling_config={"max_retries": 10_000, "halt_on_max_retries": False,
                                     "enabled_strategies": ["retry", "replan", "reassign"]},
        )
        for w in self.workers:
            role = dom.role_of(task, w)
            tools = [_tool(n, a, d, self.queues[w]) for n, a, d in WORKER_TOOLS.get(role, ())]
            agent = ChatAgent(dom.roles.get(w, w), model=ScriptedModel(lambda m, w=w: self.worker(w, m), name=w),
                              tools=tools or None)
            self.wf.add_single_agent_worker(f"{w}: {dom.roles.get(w, w)}", worker=agent)
        for child, w in zip(self.wf._children, self.workers, strict=True):
            self.node_of[w] = child.node_id

    # -- the planner (the task agent): decomposition and quality checks
    def planner(self, messages: list[dict[str, Any]]) -> Any:
        last = str(messages[-1].get("content") or "")
        e = self.engine
        if "Quality Evaluation" in last:
            return self.quality_check(last)
        if "Task Failure" in last:  # a worker refused a subtask addressed to another: route it
            return json.dumps({"reasoning": "the request was addressed to another member", "issues": [],
                               "recovery_strategy": "reassign", "modified_task_content": None})
        if not e.transcript:  # the decomposition: the plan turn
            plan = e.take_turn(self.lead).text
            st = e.domain.state(e.task, e.transcript)
            self.subtasks = [(f"Find the {k} of {t}.", i) for i, (k, t, _) in enumerate(st.items)]
            if st.agg:
                self.subtasks.append((f"Compute the {st.agg} of the values found, with a script that is run.", None))
            if not self.subtasks:
                self.subtasks.append(("Answer the request.", None))
            tasks = "".join(f"<task>{c}</task>" for c, _ in self.subtasks)
            return f"{plan}\n\n<tasks>{tasks}</tasks>"
        return json.dumps({"reasoning": "fine", "quality_score": 90, "issues": [], "recovery_strategy": None})

    def _subtask_done(self, pos: int) -> bool:
        e = self.engine
        if e.next_agent() is None:
            return True
        st = e.domain.state(e.task, e.transcript)
        item = self.subtasks[pos][1] if pos < len(self.subtasks) else None
        if item is not None:
            return st.cur > item
        return st.phase == "done"

    def quality_check(self, prompt: str) -> str:
        """One lead turn judging the subtask's result: pass it, replan it (same worker) or reassign it."""
        e = self.engine
        tid = (_TASK_ID.search(prompt) or [None, ""])[1]
        pos = self.index_of.get(tid, 0)
        if e.next_agent() != self.lead:  # out of turns or finished: accept
            return json.dumps({"reasoning": "nothing left to do", "quality_score": 85, "issues": [],
                               "recovery_strategy": None, "modified_task_content": None})
        turn = e.take_turn(self.lead)
        if self._subtask_done(pos):
            return json.dumps({"reasoning": turn.text, "quality_score": 90, "issues": [], "recovery_strategy": None,
                               "modified_task_content": None})
        nxt = e.next_agent()
        same = nxt == self.assignee.get(tid)
        return json.dumps({"reasoning": turn.text, "quality_score": 40, "issues": ["the subtask is not finished"],
                           "recovery_strategy": "replan" if same else "reassign",
                           "modified_task_content": turn.text if same else None})

    # -- the coordinator: assignments (its first call is the lead's first instruction)
    def coordinator(self, messages: list[dict[str, Any]]) -> Any:
        last = str(messages[-1].get("content") or "")
        e = self.engine
        ids = _TASK_ID.findall(last)
        if not self.assigned_once:
            self.assigned_once = True
            for i, tid in enumerate(ids):
                self.index_of[tid] = i
            if e.next_agent() == self.lead:
                e.take_turn(self.lead)
        assignments = []
        prev: str | None = None
        for tid in ids:  # the first (or the reassigned) subtask goes to whom the lead addressed
            nxt = e.next_agent()
            who = nxt if tid == ids[0] and nxt in self.node_of else self._planned_worker(self.index_of.get(tid, 0))
            self.assignee[tid] = who
            deps = [prev] if prev is not None else []
            assignments.append({"task_id": tid, "assignee_id": self.node_of[who], "dependencies": deps})
            prev = tid
        return json.dumps({"assignments": assignments})

    def _planned_worker(self, pos: int) -> str:
        e = self.engine
        item = self.subtasks[pos][1] if pos < len(self.subtasks) else None
        if item is None:
            return e.domain.who(e.task, "C")
        st = e.domain.state(e.task, e.transcript[:1])
        name = st.items[item][2] if item < len(st.items) else ""
        return name if name in self.node_of else e.domain.who(e.task, "W")

    # -- the workers
    def worker(self, agent: str, messages: list[dict[str, Any]]) -> Any:
        e = self.engine
        turn = self.pending.pop(agent, None)
        if turn is not None:  # the tools ran: report the subtask result
            return json.dumps({"content": turn.render(), "failed": False})
        while e.next_agent() == self.lead:  # (not expected: the checks take the lead's turns)
            e.take_turn(self.lead)
        nxt = e.next_agent()
        if nxt is None:
            return json.dumps({"content": "Nothing is left to do.", "failed": False})
        if nxt != agent:
            return json.dumps({"content": f"This request is addressed to {nxt}, not to me.", "failed": True})
        turn = e.take_turn(agent)
        if not turn.tools:
            return json.dumps({"content": turn.render(), "failed": False})
        self.queues[agent].extend(str(t["result"]) for t in turn.tools)
        self.pending[agent] = turn
        return {"content": CALL_LINE.sub("", turn.text).strip(),
                "tool_calls": [{"name": t["name"], "arguments": {_arg(agent, t["name"], e): str(t["args"][0]) if t["args"] else ""}}
                               for t in turn.tools]}


def _arg(agent: str, tool: str, e: Engine) -> str:
    return next((a for n, a, _ in WORKER_TOOLS.get(e.domain.role_of(e.task, agent), ()) if n == tool), "value")


def run_workforce(engine: Engine) -> Any:
    """One run of the Workforce team on ``engine``'s task (CAMEL's progress output silenced)."""
    run = WorkforceRun(engine)
    logging.getLogger("camel").setLevel(logging.CRITICAL)
    with contextlib.redirect_stdout(io.StringIO()):
        return asyncio.run(run.wf.process_task_async(Task(content=engine.task.question, id="0")))
