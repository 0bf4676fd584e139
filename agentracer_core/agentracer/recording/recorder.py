"""Turns adapter events into OpenTelemetry spans and a :class:`~agentracer.trace.Trace`, side by side.

Plugins call :meth:`Recorder.start_run`, :meth:`Recorder.begin_step`, :meth:`Recorder.begin_llm` and
:meth:`Recorder.begin_tool`; each returns a handle whose ``end(...)`` closes the span and the Step.
Every public method is *safe*: an exception inside the recorder is logged and swallowed, and a no-op
handle is returned, so instrumentation never breaks the host run.

This module holds the run lifecycle (runs, the current run, finished traces, the sink); steps and tool calls
are built by :class:`~agentracer.recording.steps.StepRecording`, LLM calls and their replay by
:class:`~agentracer.recording.llm.LLMRecording`, the span attributes in :mod:`agentracer.recording.spans`.
"""

from __future__ import annotations

import contextvars
import functools
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..trace import Step, Trace
from .clean import _jsonable, _redact_obj
from .guard import log
from .handles import NullHandle, Run, StepHandle, _current_run, _current_step
from .latest import finished, last_trace, origin
from .llm import LLMRecording, ReplayLLM
from .sink import Sink, make_sink
from .spans import _otel, _tracer_of, capture_content_default, run_span_attributes
from .spill import SpillableSteps
from .steps import StepRecording
from .text import describe_error, safe_redactor

__all__ = ["Recorder", "last_trace"]


class Recorder(StepRecording, LLMRecording):
    """Records agent steps, LLM calls and tool calls as spans and as a :class:`Trace`.

    ``tracer_provider``: the user's provider (None: the global one, which is never replaced).
    ``capture_content``: put message content on spans (None: follow the OTel GenAI env flag). The
    Trace itself always keeps content, redacted, because attribution reads it.
    ``sink``: a :class:`Sink`, a path to a JSONL file (streamed, append and flush), or None.
    ``replay``: a :class:`ReplayLLM` whose recorded responses plugins serve instead of calling the LLM.
    ``max_steps_in_memory``: with a sink, keep only the last N steps' content in memory (bounded memory
    for very long runs); the full trace is read back from the sink.
    ``redactor``: the function every recorded string goes through (default:
    :func:`agentracer.recording.redact.redact`); ``redact_pii``: also mask e-mails, phone numbers, IBANs and
    card numbers (ignored when ``redactor`` is given).

    Text that is not valid Unicode (lone surrogates, e.g. a streamed emoji cut in half) is recorded with
    each bad code point replaced by U+FFFD. A sink that fails is logged once, then counted (rate-limited).
    """

    def __init__(
        self,
        *,
        tracer_provider: Any = None,
        capture_content: bool | None = None,
        sink: Sink | str | Path | None = None,
        framework: str = "unknown",
        replay: ReplayLLM | None = None,
        redactor: Callable[[str], str] | None = None,
        keep: int = 16,
        max_steps_in_memory: int | None = None,
        redact_pii: bool = False,
    ) -> None:
        self.framework = framework
        self.max_steps_in_memory = max_steps_in_memory
        self.capture_content = capture_content_default() if capture_content is None else bool(capture_content)
        self.replay = replay
        self.traces: deque[Trace] = deque(maxlen=keep)
        self.errors = 0
        self._tracer_provider = tracer_provider
        self._tracer: Any = None
        self._runs: list[Run] = []
        self._lock = threading.RLock()
        self.sink = make_sink(sink)
        if redactor is None and redact_pii:  # also e-mails, phones, IBANs, cards (docs/trust.md)
            from .redact import redactor as make_redactor  # noqa: PLC0415

            redactor = make_redactor(pii=True)
        self._sink_failures = 0
        self._sink_logged = 0.0
        if redactor is None:
            from .redact import redact as redactor  # noqa: PLC0415
        self.redact = safe_redactor(redactor)

    # ------------------------------------------------------------------ plumbing
    @property
    def tracer(self) -> Any:
        if self._tracer is None:
            provider = self._tracer_provider or _otel().get_tracer_provider()
            self._tracer = _tracer_of(provider)
        return self._tracer

    def _safe_call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception:
            self._internal_error(fn)
            return None

    def _internal_error(self, fn: Callable[..., Any]) -> None:
        """Count and log the exception being handled, raised inside ``fn`` (never re-raised into the host)."""
        self.errors += 1
        log.exception("agentracer: internal error in %s (ignored; the host run continues)", getattr(fn, "__name__", fn))

    def _sink(self, method: str, *args: Any) -> None:
        if self.sink is None:
            return
        try:
            getattr(self.sink, method)(*args)
        except Exception as e:
            self.errors += 1
            self._sink_failures += 1
            now = time.monotonic()
            if self._sink_failures == 1:
                self._sink_logged = now
                log.exception("agentracer: sink %s failed (ignored; later failures are only counted)", method)
            elif now - self._sink_logged >= 60:  # a count a minute, not a traceback per line
                self._sink_logged = now
                log.warning("agentracer: sink has failed %d times (last: %s: %s)", self._sink_failures,
                            type(e).__name__, e)

    # ------------------------------------------------------------------ runs
    def start_run(
        self,
        task: str = "",
        *,
        run_id: str | None = None,
        framework: str | None = None,
        agents: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        ground_truth: str | None = None,
        session_id: str | None = None,
    ) -> Run | NullHandle:
        """Open a run (a Trace) and make it current in this context; use as a context manager or ``end()``.

        ``run_id``: default a fresh one; a run id is unique per run, so one that an open run of this recorder
        already has gets a suffix. ``session_id``: the thread, conversation or session the run belongs to
        (several runs may share it); kept as ``trace.metadata["session_id"]`` and exported as ``session.id``.
        """
        res = self._safe_call(self._start_run, task, run_id, framework, agents, metadata, ground_truth, False,
                              session_id)
        return res if res is not None else NullHandle()

    def _start_run(
        self,
        task: str,
        run_id: str | None,
        framework: str | None,
        agents: list[str] | None,
        metadata: dict[str, Any] | None,
        ground_truth: str | None,
        implicit: bool,
        session_id: str | None = None,
    ) -> Run:
        otel = _otel()

        fw = framework or self.framework
        if run_id:
            with self._lock:
                if any(r.trace.run_id == run_id for r in self._runs):
                    run_id = f"{run_id}-{uuid.uuid4().hex[:8]}"
        tr = Trace(
            run_id=run_id or uuid.uuid4().hex,
            task=self.redact(task or ""),
            framework=fw,
            agents=list(agents or []),
            ground_truth=ground_truth,
            metadata=_redact_obj(_jsonable(dict(metadata or {})), self.redact),  # plugins put run inputs here
        )
        if self.max_steps_in_memory is not None and self.sink is not None:
            tr.steps = SpillableSteps()  # spilled steps take ~16 bytes each (recording.spill)
        tr.metadata.setdefault("started", time.time())
        if session_id:
            tr.metadata["session_id"] = str(session_id)
        attrs = run_span_attributes(tr.run_id, fw, tr.metadata.get("session_id"))
        if self.capture_content and tr.task:
            attrs["input.value"] = tr.task
        span = self.tracer.start_span(f"invoke_workflow {fw}", kind=otel.SpanKind.INTERNAL, attributes=attrs)
        run = Run(self, tr, span, implicit)
        run.origin = origin()
        run.token = _current_run.set(run)
        with self._lock:
            self._runs.append(run)
        self._sink("on_run_start", tr)
        return run

    def current_run(self) -> Run | None:
        """The run active in this context, else this recorder's only open run, else None."""
        run = _current_run.get()
        if run is not None and run.recorder is self and not run.ended:
            return run
        with self._lock:
            live = [r for r in self._runs if not r.ended]
        return live[-1] if len(live) == 1 else None

    def _run_for(self, parent: StepHandle | None) -> Run:
        if parent is not None and isinstance(parent, StepHandle):
            return parent.run
        run = self.current_run()
        if run is None:
            run = self._start_run("", None, None, None, None, None, True)
        return run

    def _parent_handle(self, parent: StepHandle | None) -> StepHandle | None:
        if isinstance(parent, StepHandle):
            return parent
        cur = _current_step.get()
        if cur is not None and cur.recorder is self and not cur._ended:
            return cur
        run = self.current_run()
        return run.innermost_agent_step() if run else None

    def end_run(
        self,
        run: Run | NullHandle | None = None,
        *,
        outcome: str | None = None,
        final_answer: str | None = None,
        error: BaseException | None = None,
    ) -> Trace | None:
        """Close ``run`` (default: the current one); returns its Trace, also kept as :func:`last_trace`."""
        return self._safe_call(self._end_run, run, outcome, final_answer, error)

    def _end_run(
        self, run: Run | NullHandle | None, outcome: str | None, final_answer: Any, error: BaseException | None
    ) -> Trace | None:
        if isinstance(run, NullHandle):
            return None
        run = run or self.current_run()
        if run is None or run.ended:
            return run.trace if run else None
        with run.lock:
            if run.ended:
                return run.trace
            run.ended = True
            open_steps = list(reversed(run.open_steps))
        tr = run.trace
        try:  # whatever raises here (a span processor, our own formatting), the bookkeeping below happens
            for h in open_steps:
                try:  # one step's failure must not leave the others open
                    self._end_step(h, None, None, "run ended before the step", None, {})
                except Exception:
                    self._internal_error(self._end_step)
            if outcome is not None:
                tr.outcome = outcome
            if final_answer is not None:
                tr.final_answer = self.redact(final_answer if isinstance(final_answer, str) else str(final_answer))
            if error is not None:
                tr.metadata["error"] = self.redact(describe_error(error))
            tr.metadata["ended"] = time.time()
            span = run.span
            attrs: dict[str, Any] = {"agentracer.outcome": tr.outcome, "agentracer.steps": len(tr.steps)}
            if self.capture_content and tr.final_answer:
                attrs["output.value"] = tr.final_answer
            if error is not None:
                attrs["error.type"] = type(error).__name__
            span.set_attributes(attrs)
            span.end()
        finally:
            self._close_run(run)
        return tr

    def _close_run(self, run: Run) -> None:
        """The part of ending a run that must happen: forget it, keep its trace, write the sink line."""
        tr = run.trace
        tr.metadata.setdefault("ended", time.time())
        try:
            if _current_run.get() is run and run.token is not None:
                _current_run.reset(run.token)
        except ValueError:  # ended from another context
            _current_run.set(None)
        with self._lock:
            if run in self._runs:
                self._runs.remove(run)
        self.traces.append(tr)
        finished(tr, run.origin, self)
        self._sink("on_run_end", tr)

    def amend_steps(self, run: Run, steps: Iterable[Step]) -> None:
        """Write ``steps`` of ``run`` to the sink again, after a plugin changed them once they had finished
        (e.g. checkpoint ids known only at the end of the run): the reader keeps a step's last line, so the
        sink read back equals the trace in memory."""
        if isinstance(run, Run) and self.sink is not None:
            for s in steps:
                self._sink("on_step", run.trace, s)

    @contextmanager
    def run(self, task: str = "", **kwargs: Any) -> Iterator[Run | NullHandle]:
        """``with recorder.run(task) as run:`` — open a run, close it on exit (recording any error)."""
        r = self.start_run(task, **kwargs)
        try:
            yield r
        except BaseException as e:
            if isinstance(r, Run) and not r.ended:
                self.end_run(r, error=e)
            raise
        else:
            if isinstance(r, Run) and not r.ended:
                self.end_run(r)

    def last_trace(self) -> Trace | None:
        """The trace of this recorder's most recently finished run."""
        return self.traces[-1] if self.traces else None

    # ------------------------------------------------------------------ helpers for plugins
    def propagate(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap ``fn`` to run in a copy of the current context (use when handing work to a thread)."""
        ctx = contextvars.copy_context()

        @functools.wraps(fn)
        def runner(*a: Any, **k: Any) -> Any:
            return ctx.run(fn, *a, **k)

        return runner
