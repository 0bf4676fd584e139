"""Model-client wrapping: every LLM call of an instrumented agent (or group chat manager) is recorded, and
served from the recording when the record/replay layer holds it.

Each participant's ``_model_client`` (and the team's, for SelectorGroupChat / MagenticOneGroupChat) is
replaced by :func:`TracedChatCompletionClient`, a delegating ``ChatCompletionClient`` that records every
``create`` / ``create_stream`` as a ``chat {model}`` child of the agent's current step. When the recorder
holds a recording for the call (``handle.replayed``), the recorded ``CreateResult`` is returned and the
model is not called; a fork overriding a selector's pick gets its forced answer the same way.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any

from agentracer.recording import guarded

from .detect import FRAMEWORK
from .messages import create_result_text, prompt_forms
from .session import Session

__all__ = ["TracedChatCompletionClient", "is_traced_client", "model_name", "wrap_client"]

_WHAT_BEGIN = "the AutoGen plugin (opening an LLM call)"
_WHAT_REPLAY = "the AutoGen plugin (a recorded LLM response)"
_WHAT_FINISH = "the AutoGen plugin (ending an LLM call)"


# where a client keeps its model's name: (attribute, key in it, or None for the attribute itself)
_MODEL_NAME_AT = (("_create_args", "model"), ("_raw_config", "model"), ("_model", None), ("model_info", "family"))


def model_name(client: Any) -> str:
    """The model a ``ChatCompletionClient`` calls (its create args or config), else its model family or class."""
    # getattr with a default, not try/except around each lookup: most clients lack most of these
    # attributes, and a raised AttributeError per lookup per LLM call is measurable
    for attr, key in _MODEL_NAME_AT:
        try:
            name = getattr(client, attr, None)
            if key is not None and name is not None:
                name = name.get(key)
        except Exception:
            name = None
        if isinstance(name, str) and name and (name != "unknown" or key != "family"):
            return name
    return type(client).__name__


def _usage(result: Any) -> dict[str, int] | None:
    """The token usage of a ``CreateResult`` in agentracer's form."""
    u = getattr(result, "usage", None)
    if u is None:
        return None
    try:
        return {"input_tokens": int(u.prompt_tokens), "output_tokens": int(u.completion_tokens)}
    except Exception:
        return None


def _client_base() -> type:
    """AutoGen's ``ChatCompletionClient`` base class (imported on first use)."""
    from autogen_core.models import ChatCompletionClient

    return ChatCompletionClient


def _make_traced_client_class() -> type:
    """The recording client class, made on first use (it subclasses AutoGen's ``ChatCompletionClient``)."""
    from autogen_core.models import ChatCompletionClient, CreateResult, RequestUsage

    def _canned(text: str, *, cached: bool) -> Any:
        """A ``CreateResult`` holding ``text`` (a recorded or forced answer; no tokens used)."""
        return CreateResult(
            finish_reason="stop", content=text, usage=RequestUsage(prompt_tokens=0, completion_tokens=0), cached=cached
        )

    class _Traced(ChatCompletionClient):  # type: ignore[misc]
        """A ``ChatCompletionClient`` that delegates to ``inner`` and records each call as ``chat {model}``.

        With a recording for the call (the record/replay layer), the recorded ``CreateResult`` is
        returned and ``inner`` is not called.
        """

        component_type = "model"

        def __init__(self, inner: Any, agent_name: str, session: Session) -> None:
            self._agentracer_inner = inner
            self._agentracer_agent = agent_name
            self._agentracer_session = session

        # ---- recording helpers
        def _begin(self, messages: Sequence[Any]) -> tuple[Any, Any]:
            s = self._agentracer_session
            parent = s.llm_parent(self._agentracer_agent)
            if getattr(parent, "step", None) is None:  # no step (the recorder failed): let it find one
                parent = None
            msgs, parts = prompt_forms(s.recorder, messages)
            h = s.recorder.begin_llm(
                model_name(self._agentracer_inner),
                messages=msgs,
                key_parts=parts,
                prepared=True,
                agent=self._agentracer_agent,
                parent=parent,
                provider=FRAMEWORK,
            )
            return h, parent

        def _replayed(self, h: Any) -> Any:
            rec = getattr(h, "replayed", None)
            if not rec:
                return None
            payload = rec.get("response")
            if isinstance(payload, dict):
                return CreateResult.model_validate(payload)
            return _canned(rec.get("text") or "", cached=True)

        def _finish(self, h: Any, parent: Any, result: Any) -> None:
            usage = _usage(result)
            self._agentracer_session.add_usage(parent, usage)
            h.end(create_result_text(result), response=result.model_dump(mode="json"), usage=usage)

        def _forced(self, parent: Any) -> Any:
            s = self._agentracer_session
            text = s.llm_override(parent) if s.override is not None else None
            if text is None:
                return None
            s._fire_override()
            return _canned(text, cached=False)

        def _start(self, messages: Sequence[Any]) -> tuple[Any, Any, Any]:
            """Open the call's ``chat`` step: ``(handle, parent step, answer)``. ``answer`` is the fork's forced
            answer or the recorded one (the step is then already ended with it), else None: call the model."""
            h, parent = guarded(self._begin, messages, default=(None, None), what=_WHAT_BEGIN)
            if h is None:
                return None, None, None
            replayed = guarded(self._replayed, h, what=_WHAT_REPLAY)
            forced = self._forced(parent)
            answer = forced if forced is not None else replayed
            if answer is not None:
                guarded(self._finish, h, parent, answer, what=_WHAT_FINISH)
            return h, parent, answer

        # ---- ChatCompletionClient API
        async def create(self, messages: Sequence[Any], *args: Any, **kwargs: Any) -> Any:
            h, parent, answer = self._start(messages)
            if answer is not None:
                return answer
            try:
                result = await self._agentracer_inner.create(messages, *args, **kwargs)
            except BaseException as e:
                if h is not None:
                    h.end(error=e)
                raise
            if h is not None:
                guarded(self._finish, h, parent, result, what=_WHAT_FINISH)
            return result

        async def create_stream(self, messages: Sequence[Any], *args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
            h, parent, answer = self._start(messages)
            if answer is not None:
                if isinstance(answer.content, str) and answer.content:
                    yield answer.content
                yield answer
                return
            final = None
            gen = self._agentracer_inner.create_stream(messages, *args, **kwargs)
            try:
                async for chunk in gen:
                    if isinstance(chunk, CreateResult):
                        final = chunk
                    yield chunk
            except BaseException as e:
                if h is not None:
                    h.end(error=e)
                raise
            if h is not None:
                if final is not None:
                    guarded(self._finish, h, parent, final, what=_WHAT_FINISH)
                else:
                    h.end(None)

        async def close(self) -> None:
            await self._agentracer_inner.close()

        def actual_usage(self) -> Any:
            return self._agentracer_inner.actual_usage()

        def total_usage(self) -> Any:
            return self._agentracer_inner.total_usage()

        def count_tokens(self, messages: Sequence[Any], **kwargs: Any) -> int:
            return self._agentracer_inner.count_tokens(messages, **kwargs)

        def remaining_tokens(self, messages: Sequence[Any], **kwargs: Any) -> int:
            return self._agentracer_inner.remaining_tokens(messages, **kwargs)

        @property
        def capabilities(self) -> Any:  # deprecated in AutoGen, kept for the ABC
            return self._agentracer_inner.capabilities

        @property
        def model_info(self) -> Any:
            return self._agentracer_inner.model_info

        def dump_component(self) -> Any:
            return self._agentracer_inner.dump_component()

        def _to_config(self) -> Any:
            return self._agentracer_inner._to_config()

        def __getattr__(self, name: str) -> Any:  # create_calls, _create_args, ... of the inner client
            if name.startswith("_agentracer"):
                raise AttributeError(name)
            return getattr(self._agentracer_inner, name)

        def __repr__(self) -> str:
            return f"TracedChatCompletionClient({self._agentracer_inner!r}, agent={self._agentracer_agent!r})"

    _Traced.__name__ = _Traced.__qualname__ = "TracedChatCompletionClient"
    return _Traced


_TRACED_CLS: type | None = None


def TracedChatCompletionClient(inner: Any, agent_name: str, session: Session) -> Any:  # noqa: N802 (a class factory)
    """Wrap ``inner`` (any AutoGen ``ChatCompletionClient``) so that its calls are recorded for ``agent_name``."""
    global _TRACED_CLS
    if _TRACED_CLS is None:
        _TRACED_CLS = _make_traced_client_class()
    return _TRACED_CLS(inner, agent_name, session)


def is_traced_client(client: Any) -> bool:
    """Whether ``client`` is already a :func:`TracedChatCompletionClient`."""
    return _TRACED_CLS is not None and isinstance(client, _TRACED_CLS)


def wrap_client(client: Any, agent_name: str, session: Session) -> Any:
    """``client`` recorded for ``agent_name`` (a traced client is re-pointed at ``session``); None and
    objects that are not ``ChatCompletionClient``s are returned as they are."""
    if client is None:
        return None
    if is_traced_client(client):
        client._agentracer_session = session
        client._agentracer_agent = agent_name
        return client
    if not isinstance(client, _client_base()):
        return client
    return TracedChatCompletionClient(client, agent_name, session)
