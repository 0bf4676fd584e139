"""The LLM record/replay layer: call keys (:func:`llm_call_key`, :func:`llm_key_part`), the store of
recorded responses (:class:`ReplayLLM`), and :meth:`~agentracer.recording.Recorder.begin_llm`, which keys
each LLM call and, when a recording exists for it, hands the plugin the response to serve instead of calling
the model. A fork thus reproduces the prefix of a run exactly and only the suffix is generated afresh."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from ..trace import Step, Trace
from .clean import _clean, _same
from .handles import NullHandle, Run, StepHandle
from .spans import _otel, llm_span_attributes
from .text import fix_text

__all__ = ["LLMRecording", "ReplayLLM", "llm_call_key", "llm_call_key_from_parts", "llm_key_part"]


def llm_call_key(agent: str | None, model: str | None, messages: Any) -> str:
    """Stable key of an LLM call: a hash of the agent, the model and the canonical prompt messages."""
    # default=str only applies to values JSON cannot encode; everything else serialises as without it
    blob = json.dumps([agent or "", model or "", messages], sort_keys=True, default=str, ensure_ascii=False)
    return _hash(blob)


def _hash(blob: str) -> str:
    """The first 32 hex digits of the SHA-256 of ``blob`` in UTF-8 (lone surrogates replaced by U+FFFD)."""
    try:
        data = blob.encode("utf-8")
    except UnicodeEncodeError:
        data = fix_text(blob).encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:32]


def llm_key_part(message: Any) -> str:
    """The canonical JSON of one prompt message as the call key serialises it, for plugins that cache it
    per message; :func:`llm_call_key_from_parts` of these equals the key :meth:`Recorder.begin_llm` derives
    from ``key_messages`` (a list of these messages)."""
    return json.dumps(_clean(message, _same, 1), sort_keys=True, ensure_ascii=False)


def llm_call_key_from_parts(agent: str | None, model: str | None, parts: list[str]) -> str:
    """:func:`llm_call_key` of a message list given as its :func:`llm_key_part` strings (no re-serialising)."""
    head = json.dumps([agent or "", model or ""], default=str, ensure_ascii=False)[:-1]
    blob = head + ", [" + ", ".join(parts) + "]]"
    return _hash(blob)


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
    def from_trace(cls, trace: Trace, upto_step: int | None = None, since_step: int = 0) -> ReplayLLM:
        """Collect the recorded responses of ``trace`` whose owning step index is in ``[since_step, upto_step)``
        (to the end if ``upto_step`` is None)."""
        rec: dict[str, list[dict[str, Any]]] = {}
        for s in trace.steps:
            if s.kind != "llm_call" or "llm_key" not in s.replay:
                continue
            owner = s.parent if s.parent is not None else s.index
            if owner < since_step or (upto_step is not None and owner >= upto_step):
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


class LLMRecording:
    """Mixin of :class:`~agentracer.recording.Recorder`: :meth:`begin_llm` (an LLM call, keyed and possibly
    served from :attr:`replay`) and :meth:`clean`. The recorder provides what is annotated here."""

    redact: Callable[[str], str]
    capture_content: bool
    replay: ReplayLLM | None
    tracer: Any
    _internal_error: Callable[[Callable[..., Any]], None]
    _run_for: Callable[[StepHandle | None], Run]
    _parent_handle: Callable[[StepHandle | None], StepHandle | None]

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
        attrs = llm_span_attributes(run.trace, step, model, provider, key)
        if self.capture_content and messages is not None:
            attrs["gen_ai.input.messages"] = json.dumps(step.metadata["messages"], ensure_ascii=False)
            attrs["input.value"] = attrs["gen_ai.input.messages"]
        ctx = otel.set_span_in_context(ph.span if ph else run.span)
        span = self.tracer.start_span(f"chat {model or 'unknown'}", context=ctx, kind=otel.SpanKind.CLIENT, attributes=attrs)
        h = StepHandle(self, run, step, span)  # type: ignore[arg-type]
        if self.replay is not None:
            hit = self.replay.lookup(key)
            if hit is not None:
                h.replayed = hit
                step.replay["served_from"] = hit.get("step")
                span.set_attribute("agentracer.replay.served", True)
        with run.lock:
            run.open_steps.append(h)
        return h
