"""OpenTelemetry side of the recorder: the tracer (one per provider, OpenTelemetry imported on first use), the
content-capture default, and the span attributes of runs, agent steps, LLM calls and tool calls (GenAI
semantic conventions, their OpenInference mirror and ``agentracer.*`` keys)."""

from __future__ import annotations

import json
import os
import weakref
from typing import Any

from .._version import __version__
from ..trace import Step, Trace

__all__ = [
    "SCOPE",
    "agent_span_attributes",
    "capture_content_default",
    "end_span_attributes",
    "llm_span_attributes",
    "run_span_attributes",
    "tool_span_attributes",
]

SCOPE = "agentracer"


def capture_content_default() -> bool:
    """Whether message content goes on spans when the caller did not say.

    Follows the OTel GenAI guidance: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` opts in;
    the default is off because prompts and outputs can hold personal data and secrets.
    """
    return os.environ.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "").strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }


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
        tracer = provider.get_tracer(SCOPE, __version__)
        try:
            _TRACERS[provider] = tracer
        except TypeError:
            pass
    return tracer


def session_of(tr: Trace) -> str:
    """The session (thread, conversation) id of run ``tr`` for ``session.id`` and ``gen_ai.conversation.id``:
    its ``metadata["session_id"]`` when it has one, else its run id."""
    return tr.metadata.get("session_id") or tr.run_id


def run_span_attributes(run_id: str, framework: str, session_id: str | None = None) -> dict[str, Any]:
    """The attributes every ``invoke_workflow`` (run) span carries, live or exported: GenAI conventions, the
    OpenInference mirror and ``agentracer.*`` keys. ``session_id``: the thread or session of the run (several
    runs may share it; default the run id)."""
    sid = session_id or run_id
    attrs = {
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.provider.name": framework,
        "gen_ai.conversation.id": sid,
        "gen_ai.workflow.name": framework,
        "openinference.span.kind": "CHAIN",
        "session.id": sid,
        "agentracer.run.id": run_id,
        "agentracer.framework": framework,
    }
    if session_id:
        attrs["agentracer.session.id"] = session_id
    return attrs


def agent_span_attributes(tr: Trace, step: Step, prev: str | None, agent_id: str | None) -> dict[str, Any]:
    """The attributes of an ``invoke_agent`` span: agent ``step`` of run ``tr``, after agent ``prev``."""
    agent = step.agent
    sid = session_of(tr)
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": tr.framework,
        "gen_ai.agent.name": agent,
        "gen_ai.conversation.id": sid,
        "openinference.span.kind": "AGENT",
        "agent.name": agent,
        "graph.node.id": agent,
        "graph.node.parent_id": prev or "start",
        "session.id": sid,
        "agentracer.step.index": step.index,
        "agentracer.step.kind": step.kind,
        "agentracer.run.id": tr.run_id,
        "agentracer.framework": tr.framework,
    }
    if agent_id:
        attrs["gen_ai.agent.id"] = agent_id
    for k, v in step.replay.items():
        if isinstance(v, (str, int, float, bool)):
            attrs[f"agentracer.replay.{k}"] = v
    return attrs


def llm_span_attributes(tr: Trace, step: Step, model: str | None, provider: str | None, key: str) -> dict[str, Any]:
    """The attributes of a ``chat`` span: LLM call ``step`` of run ``tr`` with call key ``key``."""
    sid = session_of(tr)
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider or tr.framework,
        "gen_ai.request.model": model or "unknown",
        "gen_ai.conversation.id": sid,
        "gen_ai.agent.name": step.agent,
        "openinference.span.kind": "LLM",
        "llm.model_name": model or "unknown",
        "session.id": sid,
        "agentracer.step.index": step.index,
        "agentracer.step.kind": "llm_call",
        "agentracer.replay.llm_key": key,
    }


def tool_span_attributes(tr: Trace, step: Step, tool: str, call_id: str | None) -> dict[str, Any]:
    """The attributes of an ``execute_tool`` span: tool call ``step`` of run ``tr``."""
    sid = session_of(tr)
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool,
        "gen_ai.tool.type": "function",
        "gen_ai.agent.name": step.agent,
        "gen_ai.conversation.id": sid,
        "openinference.span.kind": "TOOL",
        "tool.name": tool,
        "session.id": sid,
        "agentracer.step.index": step.index,
        "agentracer.step.kind": "tool_call",
    }
    if call_id:
        attrs["gen_ai.tool.call.id"] = call_id
    return attrs


def end_span_attributes(step: Step, capture_content: bool, error: BaseException | str | None) -> dict[str, Any]:
    """The attributes set on a step's span when it ends: token usage, the output (with ``capture_content``)
    and the error type. Set in one call: each ``set_attribute`` takes the span's lock."""
    attrs: dict[str, Any] = {}
    su = step.usage
    if su:
        n = su.get("input_tokens")
        if n is not None:
            attrs["gen_ai.usage.input_tokens"] = n
            attrs["llm.token_count.prompt"] = n
        n = su.get("output_tokens")
        if n is not None:
            attrs["gen_ai.usage.output_tokens"] = n
            attrs["llm.token_count.completion"] = n
    if capture_content and step.content:
        attrs["output.value"] = step.content
        if step.kind == "llm_call":
            attrs["gen_ai.output.messages"] = json.dumps(
                [{"role": "assistant", "parts": [{"type": "text", "content": step.content}]}]
            )
        elif step.kind == "tool_call":
            attrs["gen_ai.tool.call.result"] = step.content
    if error is not None:
        attrs["error.type"] = type(error).__name__ if not isinstance(error, str) else "error"
    return attrs
