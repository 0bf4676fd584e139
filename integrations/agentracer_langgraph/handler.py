"""The LangChain callback handler that turns a LangGraph run into spans and a Trace.

One top-level graph invocation (``invoke``/``stream``/``ainvoke``/``astream``/``batch``...) is one run.
Each execution of a top-level node is one agent step, named after the node (for a subgraph node such as a
``create_react_agent`` agent, the outer node's name, never its inner ``agent``/``tools`` nodes). Chat
model and tool events inside the node become ``chat {model}`` / ``execute_tool {tool}`` children.

Every callback is guarded: an exception inside it is logged and counted (``handler.errors``), never
raised into the graph (``raise_error`` is False as well, so LangChain would swallow it too).
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from agentracer.formats.messages import (
    canonical_messages,
    final_answer_text,
    message_fields,
    output_text,
    task_text,
)
from agentracer.recording import Recorder, Run, StepHandle
from langchain_core.callbacks import BaseCallbackHandler

__all__ = ["AgentracerCallbackHandler", "agent_name"]

log = logging.getLogger("agentracer.langgraph")
F = TypeVar("F", bound=Callable[..., Any])

_PREBUILT_INNER_NODES = ("agent", "tools", "model")
_DEFAULT_GRAPH_NAMES = ("LangGraph", "")
_INPUT_CHARS = 4000

# A fork runs the graph with its own handler; while it runs, the graph's own handler stays out.
_FORK_EXCLUSIVE: contextvars.ContextVar[AgentracerCallbackHandler | None] = contextvars.ContextVar(
    "agentracer_langgraph_fork", default=None
)


def agent_name(node: str, graph_name: str | None) -> str:
    """The agent a top-level node stands for: the node, or the graph for a prebuilt agent's inner nodes."""
    if node in _PREBUILT_INNER_NODES and graph_name and graph_name not in _DEFAULT_GRAPH_NAMES:
        return graph_name
    return node


def _guard(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(self: AgentracerCallbackHandler, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except Exception:  # never reaches the graph
            self.errors += 1
            log.exception("agentracer: LangGraph callback %s failed (ignored; the graph continues)", fn.__name__)
            return None

    return wrapper  # type: ignore[return-value]


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


def _segment(metadata: dict[str, Any] | None, depth: int) -> str | None:
    if not metadata:
        return None
    ns = metadata.get("langgraph_checkpoint_ns")
    if isinstance(ns, str) and ns:
        parts = ns.split("|")
        if len(parts) > depth:
            return parts[depth]
        return None
    node = metadata.get("langgraph_node")
    if depth == 0 and isinstance(node, str) and node:
        return f"{node}:{metadata.get('langgraph_step', '')}"
    return None


def _is_control_flow(error: BaseException) -> bool:
    """LangGraph's bubbling exceptions (Command to a parent graph, interrupts) are not failures."""
    try:
        from langgraph.errors import GraphBubbleUp
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, GraphBubbleUp)


def _command_update(error: BaseException) -> Any:
    for arg in getattr(error, "args", ()):
        if hasattr(arg, "update") and hasattr(arg, "goto"):
            return arg
    return None


def _command_tool_text(cmd: Any) -> str:
    """What a tool that returned a ``Command`` said: its last tool message, else the update's text."""
    update = getattr(cmd, "update", None)
    msgs = update.get("messages") if isinstance(update, dict) else None
    for m in reversed(msgs if isinstance(msgs, (list, tuple)) else []):
        f = message_fields(m)
        if f is not None and f["role"] == "tool":
            return f["content"]
    return output_text(cmd)


def _model_name(serialized: dict[str, Any] | None, invocation: dict[str, Any] | None, metadata: dict[str, Any] | None) -> str:
    for src in (invocation or {}, metadata or {}):
        for key in ("model", "model_name", "ls_model_name", "model_id", "deployment_name"):
            v = src.get(key)
            if isinstance(v, str) and v:
                return v
    ser = serialized or {}
    kw = ser.get("kwargs") if isinstance(ser.get("kwargs"), dict) else {}
    for key in ("model", "model_name"):
        if isinstance(kw.get(key), str) and kw[key]:
            return kw[key]
    if isinstance(ser.get("name"), str) and ser["name"]:
        return ser["name"]
    ident = ser.get("id")
    if isinstance(ident, list) and ident:
        return str(ident[-1])
    return "unknown"


def _input_text(inputs: Any) -> str | None:
    if inputs is None:
        return None
    if isinstance(inputs, dict) and "messages" in inputs:
        msgs = inputs["messages"]
        if isinstance(msgs, (list, tuple)) and msgs:
            f = message_fields(msgs[-1])
            if f is not None:
                return f["content"][:_INPUT_CHARS]
    try:
        text = output_text(inputs)
    except Exception:
        return None
    return text[:_INPUT_CHARS] if text else None


def _serialise_input(inputs: Any) -> Any:
    """A JSON form of the run input that ``langchain_core.load.load`` restores (for replay forks)."""
    import json

    try:
        from langchain_core.load import dumpd

        d = dumpd(inputs)
        json.dumps(d)
        return d
    except Exception:
        return None


def _usage(msg: Any, llm_output: Any) -> dict[str, int]:
    um = getattr(msg, "usage_metadata", None)
    if isinstance(um, dict):
        out = {k: int(um[k]) for k in ("input_tokens", "output_tokens") if isinstance(um.get(k), int)}
        if out:
            return out
    tu = (llm_output or {}).get("token_usage") if isinstance(llm_output, dict) else None
    if isinstance(tu, dict):
        out = {}
        if isinstance(tu.get("prompt_tokens"), int):
            out["input_tokens"] = tu["prompt_tokens"]
        if isinstance(tu.get("completion_tokens"), int):
            out["output_tokens"] = tu["completion_tokens"]
        return out
    return {}


class AgentracerCallbackHandler(BaseCallbackHandler):
    """Records the runs of one LangGraph graph into ``recorder`` (spans + Trace).

    Attached to the graph's own config by :func:`agentracer_langgraph.instrument_graph`, so every call
    of the graph (and of its ``with_config`` copies) reports here, whatever callbacks the caller passes.
    ``feedback`` maps agent names to feedback injected into that agent's system prompt (see
    :mod:`agentracer_langgraph.feedback`).
    """

    run_inline = True
    raise_error = False

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
        self.errors = 0
        self.feedback: dict[str, str] = {}
        self.state_feedback: dict[str, str] = {}
        # set by a fork: the next root run records into this pre-filled Run (the fork ends it)
        self.adopt: Run | None = None
        self.adopted_output: tuple[Any, BaseException | None] | None = None

    # ------------------------------------------------------------------ helpers
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

    # ------------------------------------------------------------------ chains (runs and steps)
    @_guard
    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        with self._lock:
            if parent_run_id is not None and parent_run_id in self._ignored:
                self._ignored.add(run_id)
                return
            root, st = self._state_of(parent_run_id)
            if st is None:
                self._start_root(serialized, inputs, run_id, metadata, kwargs)
                return
            self._owner[run_id] = root  # type: ignore[assignment]
            st.members.add(run_id)
            seg = _segment(metadata, st.depth)
            if seg is None or seg in st.steps or st.run is None:
                return
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

    def _start_root(
        self, serialized: dict[str, Any] | None, inputs: Any, run_id: UUID, metadata: dict[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> None:
        name = kwargs.get("name") or (serialized or {}).get("name") or ""
        exclusive = _FORK_EXCLUSIVE.get()
        if str(name).endswith("UpdateState") or (exclusive is not None and exclusive is not self):
            self._ignored.add(run_id)
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
                run_id=thread_id or uuid.uuid4().hex,
                framework="langgraph",
                metadata=meta,
            )
            run = r if isinstance(r, Run) else None
        st = _RunState(run=run, graph_name=str(name), depth=depth, thread_id=thread_id, adopted=adopted)
        st.members.add(run_id)
        self._runs[run_id] = st
        self._owner[run_id] = run_id

    @_guard
    def on_chain_end(self, outputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        self._end_chain(run_id, outputs, None)

    @_guard
    def on_chain_error(self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        self._end_chain(run_id, None, error)

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
        try:
            newer = None
            for snap in graph.get_state_history({"configurable": {"thread_id": st.thread_id}}):
                cid = snap.config["configurable"].get("checkpoint_id")
                for t in snap.tasks:
                    s = want.pop(t.id, None)
                    if s is not None:
                        s.replay["checkpoint_id"] = cid
                        if newer is not None and (newer.parent_config or {}).get("configurable", {}).get("checkpoint_id") == cid:
                            s.replay["next_checkpoint_id"] = newer.config["configurable"].get("checkpoint_id")
                if not want:
                    break
                newer = snap
        except Exception as e:  # e.g. an async-only checkpointer; the fork resolves it later
            log.debug("agentracer: could not read checkpoints of thread %s: %s", st.thread_id, e)

    # ------------------------------------------------------------------ LLM calls
    @_guard
    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._start_llm(serialized, messages[0] if messages else [], run_id, parent_run_id, metadata, kwargs)

    @_guard
    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._start_llm(serialized, [{"role": "user", "content": p} for p in prompts[:1]], run_id, parent_run_id,
                        metadata, kwargs)

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

    def _start_llm(self, serialized: Any, messages: list[Any], run_id: UUID, parent_run_id: UUID | None,
                   metadata: dict[str, Any] | None, kwargs: dict[str, Any]) -> None:
        with self._lock:
            parent = self._adopt_child(run_id, parent_run_id, metadata)
            if parent is None:
                return
            model = _model_name(serialized, kwargs.get("invocation_params"), metadata)
            h = self.recorder.begin_llm(model, messages=canonical_messages(messages), agent=parent.step.agent,
                                        parent=parent)
            self._llm[run_id] = h

    @_guard
    def on_llm_end(self, response: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        with self._lock:
            h = self._llm.pop(run_id, None)
        if h is None:
            return
        gen = None
        try:
            gen = response.generations[0][0]
        except (AttributeError, IndexError, TypeError):
            pass
        msg = getattr(gen, "message", None)
        payload: Any
        if msg is not None:
            from langchain_core.messages import message_to_dict

            f = message_fields(msg)
            text = output_text(msg) if f is not None else str(getattr(msg, "content", ""))
            try:
                payload = message_to_dict(msg)
            except Exception:
                payload = {"type": "ai", "data": {"content": text}}
        else:
            text = str(getattr(gen, "text", "") or "")
            payload = {"text": text}
        h.end(text, response=payload, usage=_usage(msg, getattr(response, "llm_output", None)) or None)

    @_guard
    def on_llm_error(self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        with self._lock:
            h = self._llm.pop(run_id, None)
        if h is not None:
            h.end(error=error)

    # ------------------------------------------------------------------ tools
    @_guard
    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        with self._lock:
            parent = self._adopt_child(run_id, parent_run_id, metadata)
            if parent is None:
                return
            tool = (serialized or {}).get("name") or kwargs.get("name") or "tool"
            call_id = kwargs.get("tool_call_id")
            h = self.recorder.begin_tool(str(tool), args=inputs if inputs is not None else input_str,
                                         call_id=call_id if isinstance(call_id, str) else None,
                                         agent=parent.step.agent, parent=parent)
            self._tools[run_id] = h

    @_guard
    def on_tool_end(self, output: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        with self._lock:
            h = self._tools.pop(run_id, None)
        if h is None:
            return
        f = message_fields(output)
        if f is not None:
            h.end(f["content"])
        elif hasattr(output, "update") and hasattr(output, "goto"):
            h.end(_command_tool_text(output), metadata={"command": True})
        else:
            h.end(output if isinstance(output, (str, int, float, bool, list, dict)) else str(output))

    @_guard
    def on_tool_error(self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        with self._lock:
            h = self._tools.pop(run_id, None)
        if h is not None:
            if _is_control_flow(error):
                cmd = _command_update(error)
                h.end(_command_tool_text(cmd) if cmd is not None else None, metadata={"command": True})
            else:
                h.end(error=error)
