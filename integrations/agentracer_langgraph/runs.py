"""Run and step bookkeeping of the LangGraph callback handler: which graph run and agent step each
LangChain run id belongs to, and opening and closing those runs and steps on the recorder.

:class:`RunBook` is the base of :class:`~agentracer_langgraph.handler.AgentracerCallbackHandler`; the
callbacks there call it with the handler's lock held where a method says so.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from agentracer.formats.messages import final_answer_text, output_text, task_text
from agentracer.recording import Recorder, Run, StepHandle

from .events import _command_update, _input_text, _is_control_flow, _segment, _serialise_input, agent_name

__all__ = ["RunBook"]

log = logging.getLogger("agentracer.langgraph")

# A fork runs the graph with its own handler; while it runs, the graph's own handler stays out.
_FORK_EXCLUSIVE: contextvars.ContextVar[RunBook | None] = contextvars.ContextVar(
    "agentracer_langgraph_fork", default=None
)
# The graph run being recorded in this context: an instrumented graph invoked inside a node of another
# instrumented graph is recorded once, by the outer graph's handler (its events reach that handler too).
_OUTER: contextvars.ContextVar[_RunState | None] = contextvars.ContextVar("agentracer_langgraph_outer", default=None)


@dataclass
class _RunState:
    run: Run | None
    graph_name: str
    depth: int  # namespace segments above this graph's nodes (0 for a top-level graph)
    thread_id: str | None
    adopted: bool = False
    steps: dict[str, StepHandle] = field(default_factory=dict)  # namespace segment -> open step
    openers: dict[UUID, str] = field(default_factory=dict)  # chain run id -> the segment it opened
    members: set[UUID] = field(default_factory=set)
    output: Any = None
    error: BaseException | None = None
    done: bool = False
    book: Any = None  # the RunBook recording this run


class RunBook:
    """The runs of one graph being recorded into ``recorder``: their state, steps and LLM/tool handles."""

    def __init__(self, recorder: Recorder, graph: Any = None) -> None:
        super().__init__()
        self.recorder = recorder
        self._graph_ref = weakref.ref(graph) if graph is not None else None
        self._lock = threading.RLock()
        self._runs: dict[UUID, _RunState] = {}
        self._owner: dict[UUID, UUID] = {}
        self._ignored: set[UUID] = set()
        self._llm: dict[UUID, Any] = {}
        self._tools: dict[UUID, Any] = {}
        # set by a fork: the next root run records into this pre-filled Run (the fork ends it)
        self.adopt: Run | None = None
        self.adopted_output: tuple[Any, BaseException | None] | None = None

    @property
    def graph(self) -> Any:
        return self._graph_ref() if self._graph_ref is not None else None

    def _state_of(self, run_id: UUID | None) -> tuple[UUID | None, _RunState | None]:
        if run_id is None:
            return None, None
        root = self._owner.get(run_id)
        if root is None:
            return None, None
        return root, self._runs.get(root)

    def _step_for(self, st: _RunState, metadata: dict[str, Any] | None) -> StepHandle | None:
        seg = _segment(metadata, st.depth)
        if seg is not None and seg in st.steps:
            return st.steps[seg]
        # an event without namespace: the most recently opened step of this run
        return next(reversed(st.steps.values()), None) if st.steps else None

    def agent_for(self, parent_run_id: UUID | None, metadata: dict[str, Any] | None) -> str | None:
        """The agent an event (by its parent run id and metadata) belongs to, or None if not ours."""
        with self._lock:
            _, st = self._state_of(parent_run_id)
            if st is None:
                return None
            seg = _segment(metadata, st.depth)
            if seg is None:
                h = self._step_for(st, metadata)
                return h.step.agent if h is not None and h.step is not None else None
            return agent_name(seg.split(":")[0], st.graph_name)

    def llm_handle(self, run_id: UUID | None) -> Any:
        """The open LLM-call handle for a chat model run id (its ``replayed`` says whether to serve)."""
        with self._lock:
            return self._llm.get(run_id) if run_id is not None else None

    def _take(self, handles: dict[UUID, Any], run_id: UUID) -> Any:
        """Remove and return the open LLM or tool handle of ``run_id`` (None if it is not ours)."""
        with self._lock:
            return handles.pop(run_id, None)

    def _adopt_child(self, run_id: UUID, parent_run_id: UUID | None, metadata: dict[str, Any] | None) -> Any:
        """Register an LLM/tool run under its graph run; the agent step it belongs to, or None if not ours.

        Call with ``self._lock`` held.
        """
        root, st = self._state_of(parent_run_id)
        if st is None or st.run is None:
            return None
        self._owner[run_id] = root  # type: ignore[assignment]
        st.members.add(run_id)
        return self._step_for(st, metadata)

    # ------------------------------------------------------------------ runs and steps opening
    def _start_root(
        self, serialized: dict[str, Any] | None, inputs: Any, run_id: UUID, metadata: dict[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> None:
        """Open a run for a top-level graph invocation (call with ``self._lock`` held)."""
        name = kwargs.get("name") or (serialized or {}).get("name") or ""
        exclusive = _FORK_EXCLUSIVE.get()
        if str(name).endswith("UpdateState") or (exclusive is not None and exclusive is not self):
            self._ignored.add(run_id)
            return
        outer = _OUTER.get()
        if outer is not None and not outer.done and outer.book is not self and self.adopt is None:
            self._ignored.add(run_id)  # nested in another recorded graph: that graph's handler records it
            return
        md = metadata or {}
        ns = md.get("langgraph_checkpoint_ns")
        depth = len(ns.split("|")) if isinstance(ns, str) and ns else 0
        thread = md.get("thread_id")
        thread_id = str(thread) if thread not in (None, "") else None
        run: Run | None
        adopted = False
        if self.adopt is not None:
            run, adopted = self.adopt, True
            self.adopt = None
        else:
            meta: dict[str, Any] = {"langgraph": {"graph": name, "thread_id": thread_id, "checkpoint_ns": ns or ""}}
            ser = _serialise_input(inputs)
            if ser is not None:
                meta["langgraph"]["input"] = ser
            r = self.recorder.start_run(
                task_text(inputs) if inputs is not None else "",
                run_id=uuid.uuid4().hex,  # unique per run; the thread is the session (several turns share it)
                framework="langgraph",
                metadata=meta,
                session_id=thread_id,
            )
            run = r if isinstance(r, Run) else None
        st = _RunState(run=run, graph_name=str(name), depth=depth, thread_id=thread_id, adopted=adopted)
        st.book = self
        if outer is None or outer.done:
            _OUTER.set(st)
        st.members.add(run_id)
        self._runs[run_id] = st
        self._owner[run_id] = run_id

    def _open_step(self, st: _RunState, seg: str, run_id: UUID, inputs: Any, metadata: dict[str, Any] | None) -> None:
        """Open the agent step of the node execution ``seg`` (call with ``self._lock`` held)."""
        node = seg.split(":")[0]
        if node.startswith("__"):
            return
        md = metadata or {}
        replay: dict[str, Any] = {"node": node, "task_id": seg.partition(":")[2]}
        if st.thread_id:
            replay["thread_id"] = st.thread_id
        if isinstance(md.get("langgraph_step"), int):
            replay["langgraph_step"] = md["langgraph_step"]
        replay["checkpoint_ns"] = "|".join((md.get("langgraph_checkpoint_ns") or "").split("|")[: st.depth])
        h = self.recorder.begin_step(
            agent_name(node, st.graph_name),
            input=_input_text(inputs),
            run=st.run,
            metadata={"langgraph_node": node, "langgraph_step": md.get("langgraph_step")},
            replay=replay,
        )
        if isinstance(h, StepHandle):
            st.steps[seg] = h
            st.openers[run_id] = seg

    # ------------------------------------------------------------------ runs and steps closing
    def _end_chain(self, run_id: UUID, outputs: Any, error: BaseException | None) -> None:
        with self._lock:
            if run_id in self._ignored:
                self._ignored.discard(run_id)
                return
            root, st = self._state_of(run_id)
            if st is None:
                return
            if run_id == root:
                self._finish_run(root, st, outputs, error)
                return
            seg = st.openers.pop(run_id, None)
            if seg is None:
                return
            h = st.steps.pop(seg, None)
        if h is None:
            return
        if error is not None and _is_control_flow(error):
            cmd = _command_update(error)
            if cmd is not None:
                goto = getattr(cmd, "goto", None)
                meta: dict[str, Any] = {"command": True}
                if goto:
                    meta["goto"] = [g if isinstance(g, str) else getattr(g, "node", str(g)) for g in
                                    (goto if isinstance(goto, (list, tuple)) else [goto])]
                h.end(output_text(cmd), metadata=meta)
            else:
                h.end(metadata={"interrupted": type(error).__name__})
            return
        if error is not None:
            h.end(error=error)
            return
        h.end(output_text(outputs))

    def _finish_run(self, root: UUID, st: _RunState, outputs: Any, error: BaseException | None) -> None:
        st.done = True
        st.output = outputs
        st.error = error
        for rid in st.members:
            self._owner.pop(rid, None)
            self._llm.pop(rid, None)
            self._tools.pop(rid, None)
        self._runs.pop(root, None)
        for h in list(st.steps.values()):
            h.end(metadata={"unfinished": True})
        st.steps.clear()
        if st.run is None:
            return
        if st.run.trace is not None:
            self._resolve_checkpoints(st)
        if st.adopted:
            self.adopted_output = (outputs, error)
            return
        if error is not None and _is_control_flow(error):
            st.run.trace.metadata["interrupted"] = type(error).__name__
            error = None
        self.recorder.end_run(st.run, final_answer=final_answer_text(outputs) if error is None else None, error=error)

    def _resolve_checkpoints(self, st: _RunState) -> None:
        """Store on each step the checkpoint it started from (and the one it produced), when there is one."""
        if st.depth != 0 or not st.thread_id or st.run is None:
            return
        graph = self.graph
        cp = getattr(graph, "checkpointer", None)
        try:
            from langgraph.checkpoint.base import BaseCheckpointSaver
        except ImportError:  # pragma: no cover
            return
        if not isinstance(cp, BaseCheckpointSaver):
            return
        want = {
            s.replay.get("task_id"): s
            for s in st.run.trace.steps
            if s.parent is None and s.replay.get("task_id") and "checkpoint_id" not in s.replay
        }
        if not want:
            return
        found = []
        try:
            newer = None
            for snap in graph.get_state_history({"configurable": {"thread_id": st.thread_id}}):
                cid = snap.config["configurable"].get("checkpoint_id")
                for t in snap.tasks:
                    s = want.pop(t.id, None)
                    if s is not None:
                        found.append(s)
                        s.replay["checkpoint_id"] = cid
                        if newer is not None and (newer.parent_config or {}).get("configurable", {}).get("checkpoint_id") == cid:
                            s.replay["next_checkpoint_id"] = newer.config["configurable"].get("checkpoint_id")
                if not want:
                    break
                newer = snap
        except Exception as e:  # e.g. an async-only checkpointer; the fork resolves it later
            log.debug("agentracer: could not read checkpoints of thread %s: %s", st.thread_id, e)
        self.recorder.amend_steps(st.run, found)  # the steps are in the sink already: write them again
