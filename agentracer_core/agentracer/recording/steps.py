"""Step building, a part of :class:`~agentracer.recording.Recorder`: agent steps and tool calls open a
:class:`~agentracer.trace.Step` and its span; ``end`` fills the Step in, ends the span and streams the Step to
the sink (keeping only the last steps' content in memory when asked to)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..trace import Step
from .clean import _clean, _jsonable, _text
from .handles import NullHandle, Run, StepHandle, _current_step
from .sink import Sink
from .spans import _otel, agent_span_attributes, end_span_attributes, tool_span_attributes
from .spill import SpillableSteps, spilled
from .text import describe_error, error_status


class StepRecording:
    """Mixin of :class:`~agentracer.recording.Recorder`: :meth:`begin_step`, :meth:`step`, :meth:`begin_tool`
    and the closing of every step (:meth:`_end_step`). The recorder provides what is annotated here."""

    redact: Callable[[str], str]
    capture_content: bool
    sink: Sink | None
    max_steps_in_memory: int | None
    tracer: Any
    _safe_call: Callable[..., Any]
    _sink: Callable[..., None]
    _run_for: Callable[[StepHandle | None], Run]
    _parent_handle: Callable[[StepHandle | None], StepHandle | None]

    def begin_step(
        self,
        agent: str,
        *,
        input: Any = None,
        role: str = "assistant",
        kind: str = "agent_message",
        run: Run | None = None,
        metadata: dict[str, Any] | None = None,
        replay: dict[str, Any] | None = None,
        agent_id: str | None = None,
        span: Any = None,
    ) -> StepHandle | NullHandle:
        """Open an agent step (span ``invoke_agent {agent}``); close it with ``handle.end(output)``.

        ``span``: adopt this already-open span (e.g. the framework's own ``invoke_agent`` span on the same
        provider) instead of starting one, so nothing is recorded twice: our attributes are set on it
        and its owner, not ``end()``, ends it.
        """
        res = self._safe_call(self._begin_step, agent, input, role, kind, run, metadata, replay, agent_id, span)
        return res if res is not None else NullHandle()

    def _begin_step(
        self,
        agent: str,
        input: Any,
        role: str,
        kind: str,
        run: Run | None,
        metadata: dict[str, Any] | None,
        replay: dict[str, Any] | None,
        agent_id: str | None,
        adopt: Any = None,
    ) -> StepHandle:
        otel = _otel()

        run = run or self._run_for(None)
        tr = run.trace
        with run.lock:
            prev = next((s.agent for s in reversed(tr.steps) if s.parent is None), None)
            step = tr.add_step(
                Step(
                    index=0,
                    agent=agent,
                    role=role,
                    kind=kind,
                    started=time.time(),
                    metadata=_jsonable(dict(metadata)) if metadata else {},
                    replay=_jsonable(dict(replay)) if replay else {},
                )
            )
        if input is not None:
            step.metadata["input"] = self.redact(_text(input))
        attrs = agent_span_attributes(tr, step, prev, agent_id)
        if self.capture_content and input is not None:
            attrs["input.value"] = step.metadata["input"]
        if adopt is not None:
            span = adopt
            span.set_attributes(attrs)
        else:
            ctx = otel.set_span_in_context(run.span)
            span = self.tracer.start_span(f"invoke_agent {agent}", context=ctx, kind=otel.SpanKind.INTERNAL, attributes=attrs)
        h = StepHandle(self, run, step, span)  # type: ignore[arg-type]
        h.owns_span = adopt is None
        h._token = _current_step.set(h)
        with run.lock:
            run.open_steps.append(h)
        return h

    @contextmanager
    def step(self, agent: str, **kwargs: Any) -> Iterator[StepHandle | NullHandle]:
        """``with recorder.step("planner", input=...) as s: ... s.set(content=...)``."""
        h = self.begin_step(agent, **kwargs)
        try:
            yield h
        except BaseException as e:
            h.end(error=e)
            raise
        else:
            h.end()

    def begin_tool(
        self,
        tool: str,
        *,
        args: Any = None,
        call_id: str | None = None,
        agent: str | None = None,
        parent: StepHandle | None = None,
        span: Any = None,
    ) -> StepHandle | NullHandle:
        """Open a tool call (span ``execute_tool {tool}``) under the current agent step.

        ``span``: adopt the framework's own open ``execute_tool`` span instead of starting one (see
        :meth:`begin_step`).
        """
        res = self._safe_call(self._begin_tool, tool, args, call_id, agent, parent, span)
        return res if res is not None else NullHandle()

    def _begin_tool(
        self,
        tool: str,
        args: Any,
        call_id: str | None,
        agent: str | None,
        parent: StepHandle | None,
        adopt: Any = None,
    ) -> StepHandle:
        otel = _otel()

        ph = self._parent_handle(parent)
        run = ph.run if ph else self._run_for(None)
        agent = agent or (ph.step.agent if ph else "unknown")
        with run.lock:
            step = run.trace.add_step(
                Step(
                    index=0,
                    agent=agent,
                    role="tool",
                    kind="tool_call",
                    tool_name=tool,
                    tool_args=_clean(args, self.redact),
                    started=time.time(),
                    parent=ph.step.index if ph else None,
                    metadata={"call_id": call_id} if call_id else {},
                )
            )
        attrs = tool_span_attributes(run.trace, step, tool, call_id)
        if self.capture_content and args is not None:
            attrs["gen_ai.tool.call.arguments"] = json.dumps(step.tool_args, ensure_ascii=False, default=str)
            attrs["input.value"] = attrs["gen_ai.tool.call.arguments"]
        if adopt is not None:
            span = adopt
            span.set_attributes(attrs)
        else:
            ctx = otel.set_span_in_context(ph.span if ph else run.span)
            span = self.tracer.start_span(f"execute_tool {tool}", context=ctx, kind=otel.SpanKind.INTERNAL, attributes=attrs)
        h = StepHandle(self, run, step, span)  # type: ignore[arg-type]
        h.owns_span = adopt is None
        with run.lock:
            run.open_steps.append(h)
        return h

    def _end_step(
        self,
        h: StepHandle,
        output: Any,
        usage: dict[str, int] | None,
        error: BaseException | str | None,
        response: Any,
        fields: dict[str, Any],
    ) -> None:
        if h._ended:
            return
        h._ended = True
        try:  # whatever raises here (a span processor, odd output), the step is closed and streamed below
            self._fill_step(h, output, usage, error, response, fields)
        finally:
            self._close_step(h)

    def _fill_step(
        self,
        h: StepHandle,
        output: Any,
        usage: dict[str, int] | None,
        error: BaseException | str | None,
        response: Any,
        fields: dict[str, Any],
    ) -> None:
        step, span = h.step, h.span
        if fields:
            h._set(fields)
        red = self.redact
        if output is not None:
            if isinstance(output, str):
                text = red(output)
                if step.kind == "tool_call":
                    step.tool_result = text
            else:
                text = _text(_clean(output, red))
                if step.kind == "tool_call":
                    step.tool_result = _clean(output, red)
            step.content = text
        if response is not None:
            step.replay["response"] = _clean(response, red)
        if usage:
            step.usage.update({k: int(v) for k, v in usage.items() if v is not None})
        step.ended = time.time()
        if error is not None:
            step.metadata["error"] = self.redact(describe_error(error))
        attrs = end_span_attributes(step, self.capture_content, error)
        if attrs:
            span.set_attributes(attrs)
        if error is not None:
            otel = _otel()
            span.set_status(otel.Status(otel.StatusCode.ERROR, self.redact(error_status(error))))
        if h.owns_span:
            span.end()

    def _close_step(self, h: StepHandle) -> None:
        """The part of closing a step that must happen: forget it as open, stream it, spill old content."""
        step = h.step
        if not step.ended:
            step.ended = time.time()
        with h.run.lock:
            if h in h.run.open_steps:
                h.run.open_steps.remove(h)
        if h._token is not None:
            try:
                _current_step.reset(h._token)
            except ValueError:  # closed in another context than it was opened in
                if _current_step.get() is h:
                    _current_step.set(None)
        self._sink("on_step", h.run.trace, step)
        if self.max_steps_in_memory is not None and self.sink is not None:
            self._spill(h.run, step)

    def _spill(self, run: Run, step: Step) -> None:
        """Keep only the last ``max_steps_in_memory`` finished steps whole in memory.

        An older step leaves memory: in a run's :class:`~agentracer.recording.spill.SpillableSteps` it is
        kept as two array cells and read as a :class:`~agentracer.recording.spill.SpilledStep` stand-in (index,
        agent, role, kind, parent, tool name); its content lives in the sink, from which
        ``agentracer.formats.read(path)`` gives the whole trace back.
        """
        steps = run.trace.steps
        with run.lock:
            run.resident.append(step)
            while len(run.resident) > self.max_steps_in_memory:  # type: ignore[operator]
                old = run.resident.popleft()
                i = old.index
                if type(i) is not int or not 0 <= i < len(steps):
                    continue
                if isinstance(steps, SpillableSteps):
                    if not steps.spill(i, old) and list.__getitem__(steps, i) is old:
                        list.__setitem__(steps, i, spilled(old))  # a step that cannot be kept compactly
                elif steps[i] is old:  # trace.steps was replaced by a plain list
                    steps[i] = spilled(old)
