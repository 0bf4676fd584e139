"""The LangChain callback handler that turns a LangGraph run into spans and a Trace.

One top-level graph invocation (``invoke``/``stream``/``ainvoke``/``astream``/``batch``...) is one run.
Each execution of a top-level node is one agent step, named after the node (for a subgraph node such as a
``create_react_agent`` agent, the outer node's name, never its inner ``agent``/``tools`` nodes). Chat
model and tool events inside the node become ``chat {model}`` / ``execute_tool {tool}`` children.

The callbacks are here; which run and step an event belongs to is kept by the base class,
:class:`~agentracer_langgraph.runs.RunBook`, and the event payloads are read by
:mod:`agentracer_langgraph.events`.

Every callback is guarded (:func:`agentracer.recording.safe`): an exception inside it is logged and
counted (``handler.errors``), never raised into the graph (``raise_error`` is False as well, so LangChain
would swallow it too).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from agentracer.formats.messages import canonical_messages, message_fields, output_text
from agentracer.recording import Recorder, safe
from langchain_core.callbacks import BaseCallbackHandler

from .events import _command_tool_text, _command_update, _is_control_flow, _model_name, _segment, _usage, agent_name
from .runs import RunBook

__all__ = ["AgentracerCallbackHandler", "agent_name"]

F = TypeVar("F", bound=Callable[..., Any])
_FAILED = object()


def _counted(fn: F) -> F:
    """Guard a callback with :func:`agentracer.recording.safe`; a failure is also counted in ``self.errors``."""
    guarded_fn = safe(_FAILED)(fn)

    @functools.wraps(fn)
    def wrapper(self: AgentracerCallbackHandler, *args: Any, **kwargs: Any) -> Any:
        out = guarded_fn(self, *args, **kwargs)
        if out is _FAILED:
            self.errors += 1
            return None
        return out

    return wrapper  # type: ignore[return-value]


class AgentracerCallbackHandler(RunBook, BaseCallbackHandler):
    """Records the runs of one LangGraph graph into ``recorder`` (spans + Trace).

    Attached to the graph's own config by :func:`agentracer_langgraph.instrument_graph`, so every call
    of the graph (and of its ``with_config`` copies) reports here, whatever callbacks the caller passes.
    ``feedback`` maps agent names to feedback injected into that agent's system prompt (see
    :mod:`agentracer_langgraph.feedback`).
    """

    run_inline = True
    raise_error = False

    def __init__(self, recorder: Recorder, graph: Any = None) -> None:
        super().__init__(recorder, graph)
        self.errors = 0
        self.feedback: dict[str, str] = {}
        self.state_feedback: dict[str, str] = {}

    # ------------------------------------------------------------------ chains (runs and steps)
    @_counted
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
            self._open_step(st, seg, run_id, inputs, metadata)

    @_counted
    def on_chain_end(self, outputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        self._end_chain(run_id, outputs, None)

    @_counted
    def on_chain_error(self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        self._end_chain(run_id, None, error)

    # ------------------------------------------------------------------ LLM calls
    @_counted
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

    @_counted
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

    @_counted
    def on_llm_end(self, response: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        h = self._take(self._llm, run_id)
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

    @_counted
    def on_llm_error(self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        h = self._take(self._llm, run_id)
        if h is not None:
            h.end(error=error)

    # ------------------------------------------------------------------ tools
    @_counted
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

    @_counted
    def on_tool_end(self, output: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        h = self._take(self._tools, run_id)
        if h is None:
            return
        f = message_fields(output)
        if f is not None:
            h.end(f["content"])
        elif hasattr(output, "update") and hasattr(output, "goto"):
            h.end(_command_tool_text(output), metadata={"command": True})
        else:
            h.end(output if isinstance(output, (str, int, float, bool, list, dict)) else str(output))

    @_counted
    def on_tool_error(self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        h = self._take(self._tools, run_id)
        if h is not None:
            if _is_control_flow(error):
                cmd = _command_update(error)
                h.end(_command_tool_text(cmd) if cmd is not None else None, metadata={"command": True})
            else:
                h.end(error=error)
