"""Turns adapter events into OpenTelemetry spans and a :class:`~agentracer.trace.Trace`, side by side.

Plugins call :meth:`Recorder.start_run`, :meth:`Recorder.begin_step`, :meth:`Recorder.begin_llm` and
:meth:`Recorder.begin_tool`; each returns a handle whose ``end(...)`` closes the span and the Step.
Every public method is *safe*: an exception inside the recorder is logged and swallowed, and a no-op
handle is returned, so instrumentation never breaks the host run.

The record/replay LLM layer (:class:`ReplayLLM`) serves recorded responses back by call key, so that a
fork reproduces the prefix of a run exactly and only the suffix is generated afresh.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import json
import logging
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..trace import Step, Trace

__all__ = [
    "guarded",
    "NullHandle",
    "Recorder",
    "ReplayLLM",
    "Run",
    "Sink",
    "StepHandle",
    "capture_content_default",
    "last_trace",
    "llm_call_key",
    "llm_call_key_from_parts",
    "llm_key_part",
    "run_span_attributes",
    "safe",
]

log = logging.getLogger("agentracer")
F = TypeVar("F", bound=Callable[..., Any])

SCOPE = "agentracer"
_current_run: contextvars.ContextVar[Run | None] = contextvars.ContextVar("agentracer_run", default=None)
_current_step: contextvars.ContextVar[StepHandle | None] = contextvars.ContextVar("agentracer_step", default=None)
_LAST: deque[Trace] = deque(maxlen=1)


def last_trace() -> Trace | None:
    """The trace of the most recent run that finished in this process (any recorder), or None."""
    return _LAST[-1] if _LAST else None


def capture_content_default() -> bool:
    """Whether message content goes on spans when the caller did not say.

    Follows the OTel GenAI guidance: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` opts in;
    the default is off because prompts and outputs can hold personal data and secrets.
    """
    import os

    return os.environ.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "").strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }


def safe(default: Any = None) -> Callable[[F], F]:
    """Decorator: log any exception raised by the wrapped function and return ``default`` instead."""

    def deco(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception:  # instrumentation must never raise into the host
                log.exception("agentracer: internal error in %s (ignored; the host run continues)", fn.__qualname__)
                return default

        return wrapper  # type: ignore[return-value]

    return deco


def guarded(fn: Callable[..., Any], *args: Any, default: Any = None, what: str | None = None, **kwargs: Any) -> Any:
    """Call ``fn(*args, **kwargs)``; log any exception (naming ``what`` or ``fn``) and return ``default`` instead.

    The one guard of every plugin: instrumentation code runs through it (or :func:`safe`) so that an error of
    ours never reaches the host system's run.
    """
    try:
        return fn(*args, **kwargs)
    except Exception:  # instrumentation must never raise into the host
        log.exception("agentracer: internal error in %s (ignored; the host run continues)",
                      what or getattr(fn, "__qualname__", fn))
        return default


_OTEL: Any = None


def _otel() -> Any:
    """``opentelemetry.trace``, imported on first use (an import statement per call costs more)."""
    global _OTEL
    if _OTEL is None:
        from opentelemetry import trace  # noqa: PLC0415

        _OTEL = trace
    return _OTEL


_TRACERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _tracer_of(provider: Any) -> Any:
    """``provider``'s tracer for agentracer, shared by the recorders on that provider (an SDK
    ``get_tracer`` call costs tens of microseconds, and a recorder is often made per team)."""
    try:
        tracer = _TRACERS.get(provider)
    except TypeError:  # not weak-referenceable or not hashable
        tracer = None
    if tracer is None:
        from .. import __version__  # noqa: PLC0415

        tracer = provider.get_tracer(SCOPE, __version__)
        try:
            _TRACERS[provider] = tracer
        except TypeError:
            pass
    return tracer


_SCALAR_TYPES = (str, int, float, bool, type(None))


def _flat_json(value: Any) -> bool:
    """True for a dict with string keys whose values are scalars or lists of scalars (``json.dumps`` of
    it cannot fail), so :func:`_jsonable` needs no trial serialisation."""
    if type(value) is not dict:
        return False
    for k, v in value.items():
        if type(k) is not str:
            return False
        t = type(v)
        if t in _SCALAR_TYPES:
            continue
        if t is list and all(type(x) in _SCALAR_TYPES for x in v):
            continue
        return False
    return True


def run_span_attributes(run_id: str, framework: str) -> dict[str, Any]:
    """The attributes every ``invoke_workflow`` (run) span carries, live or exported: GenAI conventions, the
    OpenInference mirror and ``agentracer.*`` keys."""
    return {
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.provider.name": framework,
        "gen_ai.conversation.id": run_id,
        "gen_ai.workflow.name": framework,
        "openinference.span.kind": "CHAIN",
        "session.id": run_id,
        "agentracer.run.id": run_id,
        "agentracer.framework": framework,
    }


def _jsonable(value: Any) -> Any:
    if _flat_json(value):
        return value
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))


def llm_call_key(agent: str | None, model: str | None, messages: Any) -> str:
    """Stable key of an LLM call: a hash of the agent, the model and the canonical prompt messages."""
    # default=str only applies to values JSON cannot encode; everything else serialises as without it
    blob = json.dumps([agent or "", model or "", messages], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def llm_key_part(message: Any) -> str:
    """The canonical JSON of one prompt message as the call key serialises it, for plugins that cache it
    per message; :func:`llm_call_key_from_parts` of these equals the key :meth:`Recorder.begin_llm` derives
    from ``key_messages`` (a list of these messages)."""
    return json.dumps(_clean(message, _same, 1), sort_keys=True, ensure_ascii=False)


def llm_call_key_from_parts(agent: str | None, model: str | None, parts: list[str]) -> str:
    """:func:`llm_call_key` of a message list given as its :func:`llm_key_part` strings (no re-serialising)."""
    head = json.dumps([agent or "", model or ""], default=str, ensure_ascii=False)[:-1]
    blob = head + ", [" + ", ".join(parts) + "]]"
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


class ReplayLLM:
    """Record/replay store of LLM responses, keyed by :func:`llm_call_key` and occurrence.

    Built from a recorded trace with :meth:`from_trace`; ``upto_step`` limits what is served to the calls
    recorded before that step (the fork prefix). :meth:`lookup` returns the recorded response of the
    n-th call with a given key, or None (then the caller goes live). ``served`` and ``missed`` count.
    """

    def __init__(self, recordings: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self._rec: dict[str, list[dict[str, Any]]] = {k: list(v) for k, v in (recordings or {}).items()}
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()
        self.served = 0
        self.missed = 0
        self.served_steps: list[int] = []

    @classmethod
    def from_trace(cls, trace: Trace, upto_step: int | None = None) -> ReplayLLM:
        """Collect the recorded responses of ``trace`` whose step index is < ``upto_step`` (all if None)."""
        rec: dict[str, list[dict[str, Any]]] = {}
        for s in trace.steps:
            if s.kind != "llm_call" or "llm_key" not in s.replay:
                continue
            owner = s.parent if s.parent is not None else s.index
            if upto_step is not None and owner >= upto_step:
                continue
            payload = s.replay.get("response")
            rec.setdefault(s.replay["llm_key"], []).append(
                {"text": s.content, "response": payload, "step": s.index, "owner": owner}
            )
        return cls(rec)

    def lookup(self, key: str) -> dict[str, Any] | None:
        """The next recorded response for ``key`` (``{"text", "response", "step"}``), or None."""
        with self._lock:
            n = self._seen.get(key, 0)
            self._seen[key] = n + 1
            recs = self._rec.get(key)
            if recs is None or n >= len(recs):
                self.missed += 1
                return None
            self.served += 1
            self.served_steps.append(recs[n]["step"])
            return recs[n]

    def __len__(self) -> int:
        return sum(len(v) for v in self._rec.values())


class Sink(Protocol):
    """Where finished steps and runs go as they happen (e.g. :class:`agentracer.formats.jsonl.JsonlSink`)."""

    def on_run_start(self, trace: Trace) -> None: ...

    def on_step(self, trace: Trace, step: Step) -> None: ...

    def on_run_end(self, trace: Trace) -> None: ...


class NullHandle:
    """Handle returned when recording failed or is off: every method is a no-op."""

    step: Step | None = None
    index: int | None = None
    replayed: dict[str, Any] | None = None

    def end(self, *args: Any, **kwargs: Any) -> None:
        return None

    def set(self, **kwargs: Any) -> None:
        return None

    def __enter__(self) -> NullHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


class StepHandle:
    """An open step: its :class:`Step`, its span, and ``end()`` to close both."""

    def __init__(self, recorder: Recorder, run: Run, step: Step, span: Any, token: Any = None) -> None:
        self.recorder = recorder
        self.run = run
        self.step = step
        self.span = span
        self._token = token
        self._ended = False
        self.replayed: dict[str, Any] | None = None
        self.owns_span = True  # False when the span was adopted from the framework (its owner ends it)

    @property
    def index(self) -> int:
        return self.step.index

    def set(self, **fields: Any) -> None:
        """Update Step fields (``content``, ``tool_result``, ``metadata``...) before the step ends."""
        self.recorder._safe_call(self._set, fields)

    def _set(self, fields: dict[str, Any]) -> None:
        red = self.recorder.redact
        for k, v in fields.items():
            if k == "metadata":
                self.step.metadata.update(_clean(v, red))
            elif k == "replay":
                self.step.replay.update(_clean(v, red))
            elif k in ("tool_args", "tool_result"):
                setattr(self.step, k, _clean(v, red))
            elif isinstance(v, str):
                setattr(self.step, k, red(v))
            else:
                setattr(self.step, k, v)

    def end(
        self,
        output: Any = None,
        *,
        usage: dict[str, int] | None = None,
        error: BaseException | str | None = None,
        response: Any = None,
        **fields: Any,
    ) -> None:
        """Close the step: record ``output`` (and ``usage``, ``error``, the raw ``response`` payload)."""
        rec = self.recorder
        try:  # what _safe_call does, without its extra frame (a step ends on every LLM and tool call)
            rec._end_step(self, output, usage, error, response, fields)
        except Exception:
            rec._internal_error(rec._end_step)

    def __enter__(self) -> StepHandle:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if not self._ended:
            self.end(error=exc)


class Run:
    """An active run: its :class:`Trace` under construction, its root span and its open steps."""

    def __init__(self, recorder: Recorder, trace: Trace, span: Any, implicit: bool) -> None:
        self.recorder = recorder
        self.trace = trace
        self.span = span
        self.implicit = implicit
        self.lock = threading.RLock()
        self.open_steps: list[StepHandle] = []
        self.llm_seen: dict[str, int] = {}
        self.resident: deque[Step] = deque()
        self.ended = False
        self.token: Any = None

    def innermost_agent_step(self) -> StepHandle | None:
        with self.lock:
            for h in reversed(self.open_steps):
                if h.step.parent is None:
                    return h
        return None

    def end(self, outcome: str | None = None, final_answer: str | None = None) -> Trace:
        """Finish the run (see :meth:`Recorder.end_run`) and return its trace."""
        self.recorder.end_run(self, outcome=outcome, final_answer=final_answer)
        return self.trace

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if not self.ended:
            self.recorder.end_run(self, error=exc)


class Recorder:
    """Records agent steps, LLM calls and tool calls as spans and as a :class:`Trace`.

    ``tracer_provider``: the user's provider (None: the global one, which is never replaced).
    ``capture_content``: put message content on spans (None: follow the OTel GenAI env flag). The
    Trace itself always keeps content, redacted, because attribution reads it.
    ``sink``: a :class:`Sink`, a path to a JSONL file (streamed, append and flush), or None.
    ``replay``: a :class:`ReplayLLM` whose recorded responses plugins serve instead of calling the LLM.
    ``max_steps_in_memory``: with a sink, keep only the last N steps' content in memory (bounded memory
    for very long runs); the full trace is read back from the sink.
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
        self.sink = self._make_sink(sink)
        if redactor is None:
            from .redact import redact as redactor  # noqa: PLC0415
        self.redact = redactor

    # ------------------------------------------------------------------ plumbing
    @staticmethod
    def _make_sink(sink: Sink | str | Path | None) -> Sink | None:
        if sink is None or hasattr(sink, "on_step"):
            return sink  # type: ignore[return-value]
        from ..formats.jsonl import JsonlSink  # noqa: PLC0415

        return JsonlSink(Path(sink))

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
        except Exception:
            self.errors += 1
            log.exception("agentracer: sink %s failed (ignored)", method)

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
    ) -> Run | NullHandle:
        """Open a run (a Trace) and make it current in this context; use as a context manager or ``end()``."""
        res = self._safe_call(self._start_run, task, run_id, framework, agents, metadata, ground_truth, False)
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
    ) -> Run:
        otel = _otel()

        fw = framework or self.framework
        tr = Trace(
            run_id=run_id or uuid.uuid4().hex,
            task=self.redact(task or ""),
            framework=fw,
            agents=list(agents or []),
            ground_truth=ground_truth,
            metadata=_jsonable(dict(metadata or {})),
        )
        tr.metadata.setdefault("started", time.time())
        attrs = run_span_attributes(tr.run_id, fw)
        if self.capture_content and tr.task:
            attrs["input.value"] = tr.task
        span = self.tracer.start_span(f"invoke_workflow {fw}", kind=otel.SpanKind.INTERNAL, attributes=attrs)
        run = Run(self, tr, span, implicit)
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
            for h in list(reversed(run.open_steps)):
                self._end_step(h, None, None, "run ended before the step", None, {})
            run.ended = True
        tr = run.trace
        if outcome is not None:
            tr.outcome = outcome
        if final_answer is not None:
            tr.final_answer = self.redact(final_answer if isinstance(final_answer, str) else str(final_answer))
        tr.metadata["ended"] = time.time()
        if error is not None:
            tr.metadata["error"] = f"{type(error).__name__}: {error}"
        span = run.span
        span.set_attribute("agentracer.outcome", tr.outcome)
        span.set_attribute("agentracer.steps", len(tr.steps))
        if self.capture_content and tr.final_answer:
            span.set_attribute("output.value", tr.final_answer)
        if error is not None:
            span.set_attribute("error.type", type(error).__name__)
        span.end()
        try:
            if _current_run.get() is run and run.token is not None:
                _current_run.reset(run.token)
        except ValueError:  # ended from another context
            _current_run.set(None)
        with self._lock:
            if run in self._runs:
                self._runs.remove(run)
        self.traces.append(tr)
        _LAST.append(tr)
        self._sink("on_run_end", tr)
        return tr

    @contextmanager
    def run(self, task: str = "", **kwargs: Any) -> Iterator[Run | NullHandle]:
        """``with recorder.run(task) as run:`` — open a run, close it on exit (recording any error)."""
        r = self.start_run(task, **kwargs)
        try:
            yield r
        except BaseException as e:
            if isinstance(r, Run):
                self.end_run(r, error=e)
            raise
        else:
            if isinstance(r, Run) and not r.ended:
                self.end_run(r)

    def last_trace(self) -> Trace | None:
        """The trace of this recorder's most recently finished run."""
        return self.traces[-1] if self.traces else None

    # ------------------------------------------------------------------ steps
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
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": tr.framework,
            "gen_ai.agent.name": agent,
            "gen_ai.conversation.id": tr.run_id,
            "openinference.span.kind": "AGENT",
            "agent.name": agent,
            "graph.node.id": agent,
            "graph.node.parent_id": prev or "start",
            "session.id": tr.run_id,
            "agentracer.step.index": step.index,
            "agentracer.step.kind": kind,
            "agentracer.run.id": tr.run_id,
            "agentracer.framework": tr.framework,
        }
        if agent_id:
            attrs["gen_ai.agent.id"] = agent_id
        for k, v in step.replay.items():
            if isinstance(v, (str, int, float, bool)):
                attrs[f"agentracer.replay.{k}"] = v
        if self.capture_content and input is not None:
            attrs["input.value"] = step.metadata["input"]
        if adopt is not None:
            span = adopt
            span.set_attributes(attrs)
        else:
            ctx = otel.set_span_in_context(run.span)
            span = self.tracer.start_span(f"invoke_agent {agent}", context=ctx, kind=otel.SpanKind.INTERNAL, attributes=attrs)
        h = StepHandle(self, run, step, span)
        h.owns_span = adopt is None
        h._token = _current_step.set(h)
        with run.lock:
            run.open_steps.append(h)
        return h

    def _parent_handle(self, parent: StepHandle | None) -> StepHandle | None:
        if isinstance(parent, StepHandle):
            return parent
        cur = _current_step.get()
        if cur is not None and cur.recorder is self and not cur._ended:
            return cur
        run = self.current_run()
        return run.innermost_agent_step() if run else None

    def begin_llm(
        self,
        model: str | None,
        *,
        messages: Any = None,
        agent: str | None = None,
        parent: StepHandle | None = None,
        provider: str | None = None,
        key_messages: Any = None,
        key_parts: list[str] | None = None,
        prepared: bool = False,
    ) -> StepHandle | NullHandle:
        """Open an LLM call (span ``chat {model}``) under the current agent step.

        The call key is computed from the agent, model and ``key_messages`` (default ``messages``), or from
        ``key_parts`` (the :func:`llm_key_part` of each key message, which a plugin can cache per message).
        ``prepared``: ``messages`` is already a list of JSON-safe items redacted with this recorder's
        :attr:`redact` (each item as ``clean(item, 1)`` makes it) and is stored as it is. If a
        :class:`ReplayLLM` is attached and holds a recording for this call, ``handle.replayed`` is set to
        it: the plugin must return that recorded response instead of calling the model.
        """
        try:  # what _safe_call does, without its extra frame
            res = self._begin_llm(model, messages, agent, parent, provider, key_messages, key_parts, prepared)
        except Exception:
            self._internal_error(self._begin_llm)
            res = None
        return res if res is not None else NullHandle()

    def clean(self, value: Any, depth: int = 0) -> Any:
        """A JSON-safe copy of ``value`` with every string redacted, as the recorder stores payloads; an
        item of a ``prepared`` message list is ``clean(item, 1)`` (one level down, in its list)."""
        return _clean(value, self.redact, depth)

    def _begin_llm(
        self, model: str | None, messages: Any, agent: str | None, parent: StepHandle | None, provider: str | None,
        key_messages: Any, key_parts: list[str] | None = None, prepared: bool = False,
    ) -> StepHandle:
        otel = _otel()

        ph = self._parent_handle(parent)
        run = ph.run if ph else self._run_for(None)
        agent = agent or (ph.step.agent if ph else "unknown")
        clean_msgs = messages if prepared or messages is None else _clean(messages, self.redact)
        # the key only needs a deterministic JSON form, not redaction (it is a hash; nothing of it is stored)
        if key_parts is not None:
            key = llm_call_key_from_parts(agent, model, key_parts)
        else:
            key = llm_call_key(agent, model, _clean(key_messages, _same) if key_messages is not None else clean_msgs)
        with run.lock:
            occ = run.llm_seen.get(key, 0)
            run.llm_seen[key] = occ + 1
            step = run.trace.add_step(
                Step(
                    index=0,
                    agent=agent,
                    role="assistant",
                    kind="llm_call",
                    started=time.time(),
                    parent=ph.step.index if ph else None,
                    replay={"llm_key": key, "occurrence": occ},
                    metadata={"model": model} if model else {},
                )
            )
        if messages is not None:
            step.metadata["messages"] = clean_msgs
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider or run.trace.framework,
            "gen_ai.request.model": model or "unknown",
            "gen_ai.conversation.id": run.trace.run_id,
            "gen_ai.agent.name": agent,
            "openinference.span.kind": "LLM",
            "llm.model_name": model or "unknown",
            "session.id": run.trace.run_id,
            "agentracer.step.index": step.index,
            "agentracer.step.kind": "llm_call",
            "agentracer.replay.llm_key": key,
        }
        if self.capture_content and messages is not None:
            attrs["gen_ai.input.messages"] = json.dumps(step.metadata["messages"], ensure_ascii=False)
            attrs["input.value"] = attrs["gen_ai.input.messages"]
        ctx = otel.set_span_in_context(ph.span if ph else run.span)
        span = self.tracer.start_span(f"chat {model or 'unknown'}", context=ctx, kind=otel.SpanKind.CLIENT, attributes=attrs)
        h = StepHandle(self, run, step, span)
        if self.replay is not None:
            hit = self.replay.lookup(key)
            if hit is not None:
                h.replayed = hit
                step.replay["served_from"] = hit.get("step")
                span.set_attribute("agentracer.replay.served", True)
        with run.lock:
            run.open_steps.append(h)
        return h

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
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool,
            "gen_ai.tool.type": "function",
            "gen_ai.agent.name": agent,
            "gen_ai.conversation.id": run.trace.run_id,
            "openinference.span.kind": "TOOL",
            "tool.name": tool,
            "session.id": run.trace.run_id,
            "agentracer.step.index": step.index,
            "agentracer.step.kind": "tool_call",
        }
        if call_id:
            attrs["gen_ai.tool.call.id"] = call_id
        if self.capture_content and args is not None:
            attrs["gen_ai.tool.call.arguments"] = json.dumps(step.tool_args, ensure_ascii=False, default=str)
            attrs["input.value"] = attrs["gen_ai.tool.call.arguments"]
        if adopt is not None:
            span = adopt
            span.set_attributes(attrs)
        else:
            ctx = otel.set_span_in_context(ph.span if ph else run.span)
            span = self.tracer.start_span(f"execute_tool {tool}", context=ctx, kind=otel.SpanKind.INTERNAL, attributes=attrs)
        h = StepHandle(self, run, step, span)
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
        su = step.usage
        if usage:
            su.update({k: int(v) for k, v in usage.items() if v is not None})
        step.ended = time.time()
        if error is not None:
            step.metadata["error"] = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        # spans (the attributes in one call: each set_attribute takes the span's lock)
        attrs: dict[str, Any] = {}
        if su:
            n = su.get("input_tokens")
            if n is not None:
                attrs["gen_ai.usage.input_tokens"] = n
                attrs["llm.token_count.prompt"] = n
            n = su.get("output_tokens")
            if n is not None:
                attrs["gen_ai.usage.output_tokens"] = n
                attrs["llm.token_count.completion"] = n
        if self.capture_content and step.content:
            attrs["output.value"] = step.content
            if step.kind == "llm_call":
                attrs["gen_ai.output.messages"] = json.dumps(
                    [{"role": "assistant", "parts": [{"type": "text", "content": step.content}]}]
                )
            elif step.kind == "tool_call":
                attrs["gen_ai.tool.call.result"] = step.content
        if error is not None:
            attrs["error.type"] = type(error).__name__ if not isinstance(error, str) else "error"
        if attrs:
            span.set_attributes(attrs)
        if error is not None:
            otel = _otel()
            span.set_status(otel.Status(otel.StatusCode.ERROR, str(error)[:200]))
        if h.owns_span:
            span.end()
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
        """Keep the content of only the last ``max_steps_in_memory`` finished steps in memory.

        Older steps keep their skeleton (index, agent, kind, times, parent); their content lives in the
        sink, from which ``agentracer.formats.read(path)`` gives the whole trace back.
        """
        with run.lock:
            run.resident.append(step)
            while len(run.resident) > self.max_steps_in_memory:  # type: ignore[operator]
                old = run.resident.popleft()
                old.content = ""
                old.tool_args = None
                old.tool_result = None
                old.replay.pop("response", None)
                old.metadata = {"spilled": True}

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

    # ------------------------------------------------------------------ helpers for plugins
    def propagate(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap ``fn`` to run in a copy of the current context (use when handing work to a thread)."""
        ctx = contextvars.copy_context()

        @functools.wraps(fn)
        def runner(*a: Any, **k: Any) -> Any:
            return ctx.run(fn, *a, **k)

        return runner


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    content = getattr(value, "content", None)
    if isinstance(content, str):
        return content
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def _redact_obj(obj: Any, redact: Callable[[str], str]) -> Any:
    """``obj`` with every string redacted (structure kept); see :func:`_clean` for a JSON-safe copy."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {k: _redact_obj(v, redact) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_redact_obj(v, redact) for v in obj]
    return obj


_PLAIN = (int, float, bool, type(None))


def _same(text: str) -> str:
    return text


def _clean(obj: Any, redact: Callable[[str], str], depth: int = 0) -> Any:
    """A JSON-safe copy of ``obj`` with every string redacted, in one pass.

    Objects that are not JSON types become their redacted ``content`` (messages) or ``str()``;
    nesting deeper than 32 levels is cut, so hostile inputs cannot blow the stack.
    """
    # fast paths for the exact JSON types (what payloads are made of); anything else, subclasses
    # included, takes the general path below
    t = type(obj)
    if t is str:
        return redact(obj)
    if t is int or t is bool or obj is None:
        return obj
    if depth <= 32:
        if t is dict:
            d = depth + 1
            out = {}
            for k, v in obj.items():
                tv = type(v)
                if tv is str:
                    v = redact(v)
                elif not (tv is int or tv is bool or v is None):
                    v = _clean(v, redact, d)
                out[k if isinstance(k, str) else str(k)] = v
            return out
        if t is list:
            d = depth + 1
            return [
                redact(v) if type(v) is str else v if (type(v) is int or v is None) else _clean(v, redact, d) for v in obj
            ]
    return _clean_any(obj, redact, depth)


def _clean_any(obj: Any, redact: Callable[[str], str], depth: int) -> Any:
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, _PLAIN):
        if isinstance(obj, float) and obj != obj:  # NaN is not JSON
            return None
        return obj
    if depth > 32:
        return "…"
    if isinstance(obj, dict):
        return {k if isinstance(k, str) else str(k): _clean(v, redact, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_clean(v, redact, depth + 1) for v in obj]
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        try:
            return _clean(dump(), redact, depth + 1)
        except Exception:
            pass
    return redact(str(obj))
