"""Instrumentation of AutoGen AgentChat 0.7 teams and agents (in place, per instance, never global).

What is patched, on the instances passed in (no class is touched, so other teams are unaffected):

* ``team.run_stream`` (``team.run`` goes through it): one :class:`~agentracer.recording.Run` per run,
  with the task as ``Trace.task`` and the last chat message as ``final_answer``.
* each participant's ``on_messages_stream``: one agent step per agent turn, named after the agent;
  ``kind`` is ``handoff`` when the turn ends in a ``HandoffMessage`` (Swarm), else ``agent_message``.
* each participant's ``_model_client`` (and the team's, for SelectorGroupChat / MagenticOneGroupChat) is
  replaced by :class:`TracedChatCompletionClient`, a delegating client that records every ``create`` /
  ``create_stream`` as a ``chat {model}`` child and, when the recorder holds a recording for the call
  (``handle.replayed``), returns the recorded ``CreateResult`` instead of calling the model.
* each tool instance's ``run`` (tools of the agent's static workbenches and its handoff tools):
  ``execute_tool {tool}`` children.
* the team's output queue ``put``: the group chat manager's own chat messages (the MagenticOne
  orchestrator's ledger, instructions and final answer) become steps of the manager agent. The
  manager's LLM calls (selector / orchestrator) are children of a manager step that is opened lazily
  at the first call; for SelectorGroupChat it is a ``handoff`` step whose content is the selected
  speaker.

No duplicates: AutoGen opens its own ``invoke_agent {agent}`` and ``execute_tool {tool}`` spans on the
*global* tracer provider. When our recorder exports to that same provider, the step adopts AutoGen's
open span (our attributes are added to it; AutoGen ends it) instead of opening a second one. When the
recorder has its own provider, AutoGen's spans go elsewhere and ours are complete on their own.

Every hook is guarded: an error inside agentracer is logged and the host's call proceeds unchanged.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

from agentracer.recording import Recorder, Run, llm_key_part

log = logging.getLogger("agentracer.autogen")

__all__ = [
    "FRAMEWORK",
    "Session",
    "TracedChatCompletionClient",
    "create_result_text",
    "instrument",
    "is_autogen_object",
    "llm_messages_for_key",
    "session_of",
]

FRAMEWORK = "autogen"
_SESSION_ATTR = "_agentracer_autogen_session"
_TOOL_ATTR = "_agentracer_autogen_tool"
_ORIG_ATTR = "_agentracer_orig"

# (session, step handle) of the agent turn running in this context: tools read it (a tool instance may
# be shared by several agents, so it cannot know its agent by itself).
_TURN: contextvars.ContextVar[tuple[Session, Any] | None] = contextvars.ContextVar("agentracer_autogen_turn", default=None)


_AG_CLASSES: dict[str, type] = {}


def _ag(name: str) -> type:
    """An ``autogen_agentchat`` class by name, imported once (an import statement per hook call costs)."""
    cls = _AG_CLASSES.get(name)
    if cls is None:
        if name in ("Response", "TaskResult"):
            from autogen_agentchat import base as mod
        else:
            from autogen_agentchat import messages as mod  # type: ignore[no-redef]
        cls = _AG_CLASSES[name] = getattr(mod, name)
    return cls


def _guard(fn: Callable[..., Any], *args: Any, default: Any = None, **kwargs: Any) -> Any:
    """Call ``fn``; log and swallow any exception (instrumentation never raises into the host)."""
    try:
        return fn(*args, **kwargs)
    except Exception:
        log.exception("agentracer: internal error in the AutoGen plugin (%s); the host run continues", getattr(fn, "__name__", fn))
        return default


def is_autogen_object(obj: Any) -> bool:
    """True if ``obj`` is an instance of an ``autogen_agentchat`` class (or a subclass of one)."""
    try:
        return any(c.__module__.startswith("autogen_agentchat") for c in type(obj).__mro__)
    except Exception:
        return False


def session_of(obj: Any) -> Session | None:
    """The :class:`Session` attached to an instrumented team or agent, if any."""
    return getattr(obj, _SESSION_ATTR, None)


# --------------------------------------------------------------------------------------------- text helpers
def _msg_text(msg: Any) -> str:
    for attr in ("to_model_text", "to_text"):
        fn = getattr(msg, attr, None)
        if callable(fn):
            try:
                return str(fn())
            except Exception:
                continue
    content = getattr(msg, "content", msg)
    return content if isinstance(content, str) else str(content)


def _task_text(task: Any) -> str:
    if task is None:
        return ""
    if isinstance(task, str):
        return task
    if isinstance(task, (list, tuple)):
        return "\n".join(_msg_text(m) for m in task)
    return _msg_text(task)


def create_result_text(result: Any) -> str:
    """The text of a ``CreateResult``: its content, or its function calls as JSON."""
    content = getattr(result, "content", result)
    if isinstance(content, str):
        return content
    try:
        return json.dumps(
            [{"name": c.name, "arguments": c.arguments, "id": c.id} for c in content], ensure_ascii=False
        )
    except Exception:
        return str(content)


_ROLES = {
    "SystemMessage": "system",
    "UserMessage": "user",
    "AssistantMessage": "assistant",
    "FunctionExecutionResultMessage": "tool",
}


def llm_messages_for_key(messages: Sequence[Any]) -> list[Any]:
    """Canonical, deterministic form of AutoGen ``LLMMessage``s (the record/replay call key)."""
    out: list[Any] = []
    for m in messages:
        try:
            out.append(m.model_dump(mode="json"))
        except Exception:
            out.append(str(m))
    return out


def _llm_messages_for_step(messages: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for m in messages:
        typ = type(m).__name__
        content = getattr(m, "content", "")
        if not isinstance(content, str):
            try:
                content = json.dumps([c.model_dump(mode="json") for c in content], ensure_ascii=False)
            except Exception:
                content = str(content)
        d: dict[str, Any] = {"role": _ROLES.get(typ, typ), "content": content}
        src = getattr(m, "source", None)
        if src:
            d["name"] = src
        out.append(d)
    return out


_PROMPT_CACHE_MAX = 4096  # entries
_PROMPT_CACHE_MAX_CHARS = 65536  # a longer message is not cached
_PROMPT_CACHE_BUDGET = 4_000_000  # characters of message content held by the cache, in all
_PROMPT_CACHE_SIZE = [0]
# value key of a prompt message -> (redactor, its redacted step form, its call-key part); see prompt_forms
_PROMPT_CACHE: dict[Any, tuple[Any, Any, str]] = {}
_PLAIN_FIELD_TYPES = frozenset({str, int, bool, type(None)})
_PLAIN_TYPES: dict[tuple[type, ...], bool] = {}  # field value types of a message -> all plain?


def _message_key(m: Any) -> Any:
    """:func:`_value_key` of a message, made without a Python loop when its fields are plain values
    (strings, ints, bools, None: the usual system / user / assistant text messages)."""
    d = getattr(m, "__dict__", None)
    if type(d) is not dict or getattr(m, "__pydantic_extra__", None):
        return None
    content = d.get("content")
    if type(content) is str and len(content) > _PROMPT_CACHE_MAX_CHARS:  # huge messages are not kept
        return None
    types = tuple(map(type, d.values()))
    plain = _PLAIN_TYPES.get(types)
    if plain is None:
        plain = all(t in _PLAIN_FIELD_TYPES for t in types)
        if len(_PLAIN_TYPES) < 1024:
            _PLAIN_TYPES[types] = plain
    if plain:  # equal keys: same class, same field names, same value types and equal values
        return (type(m), tuple(d.items()), types)
    return _value_key(m)


def _value_key(obj: Any, depth: int = 0) -> Any:
    """A hashable key equal for two messages exactly when their fields are equal (same class, same values),
    so a message's recorded forms can be cached by value; None when a field is not a plain value (then the
    forms are computed afresh). By value, not by ``id()``: a message mutated in place gets a new key."""
    d = getattr(obj, "__dict__", None)
    if type(d) is not dict or depth > 3 or getattr(obj, "__pydantic_extra__", None):
        return None
    parts: list[Any] = [type(obj)]
    for k, v in d.items():
        t = type(v)
        if t is str or v is None:
            parts.append((k, v))
        elif t is bool or t is int:
            parts.append((k, t, v))
        elif t is list:
            items: list[Any] = []
            for x in v:
                if type(x) is str:
                    items.append(x)
                    continue
                xk = _value_key(x, depth + 1)  # function calls / results in a message
                if xk is None:
                    return None
                items.append(xk)
            parts.append((k, list, tuple(items)))
        else:  # floats (-0.0 == 0.0, NaN), nested models, images...: not cached
            return None
    return tuple(parts)


def _model_name(client: Any) -> str:
    # getattr with a default, not try/except around each lookup: most clients lack most of these
    # attributes, and a raised AttributeError per lookup per LLM call is measurable
    for attr in ("_create_args", "_raw_config"):
        try:
            cfg = getattr(client, attr, None)
            name = cfg.get("model") if cfg is not None else None
        except Exception:
            name = None
        if isinstance(name, str) and name:
            return name
    try:
        name = getattr(client, "_model", None)
    except Exception:
        name = None
    if isinstance(name, str) and name:
        return name
    try:
        name = client.model_info.get("family")
    except Exception:
        name = None
    if isinstance(name, str) and name and name != "unknown":
        return name
    return type(client).__name__


def _usage(result: Any) -> dict[str, int] | None:
    u = getattr(result, "usage", None)
    if u is None:
        return None
    try:
        return {"input_tokens": int(u.prompt_tokens), "output_tokens": int(u.completion_tokens)}
    except Exception:
        return None


# --------------------------------------------------------------------------------------------- session
class Session:
    """The instrumentation state of one team (or one single agent) and the recorder it reports to.

    ``external_run``: when set (forks), team runs report into this already-open run instead of opening
    their own. ``override``: ``(position, text)`` replaces the output of the agent step at that position
    (0-based among top-level steps) while the run goes on (the live-override fork path).
    """

    def __init__(self, recorder: Recorder, team: Any = None, agent: Any = None) -> None:
        self.recorder = recorder
        self.team = team
        self.agent = agent
        self.manager_name: str | None = getattr(team, "_group_chat_manager_name", None) if team is not None else None
        tname = type(team).__name__ if team is not None else ""
        self.manager_kind = "handoff" if "Selector" in tname else "agent_message"
        if team is not None:
            self.participants = list(getattr(team, "_participant_names", []) or [])
        else:
            self.participants = [agent.name] if agent is not None else []
        self.run: Run | None = None
        self.own_run = False
        self.external_run: Run | None = None
        self.manager_step: Any = None
        self.turns: dict[str, Any] = {}
        self.step_usage: dict[int, dict[str, int]] = {}
        self.position = 0
        self._positions: dict[int, int] = {}  # id(handle) -> position among this session's top-level steps
        self.override: tuple[int, str] | None = None
        self.overridden: dict[str, Any] | None = None
        self.on_override: Callable[[], None] | None = None
        self.last_result: Any = None
        self._pending_context_patch: tuple[Any, str, str] | None = None
        self._adopted: set[int] = set()
        self._shared: tuple[Run, bool] | None = None  # shared_provider() of the current run

    def prompt_forms(self, messages: Sequence[Any]) -> tuple[list[Any], list[str]]:
        """The recorded prompt (redacted step forms, as ``Recorder.begin_llm(prepared=True)`` takes them)
        and the call-key parts of ``messages``, each message's forms computed once and then cached (by
        value, with the redactor they were made with): a multi-turn prompt resends the same messages on
        every LLM call, and runs of one team resend the same system and task messages."""
        rec = self.recorder
        red = rec.redact
        cache = _PROMPT_CACHE
        msgs: list[Any] = []
        parts: list[str] = []
        for m in messages:
            k = _message_key(m)
            hit = cache.get(k) if k is not None else None
            if hit is None or hit[0] is not red:
                hit = (red, rec.clean(_llm_messages_for_step((m,))[0], 1), llm_key_part(llm_messages_for_key((m,))[0]))
                if k is not None:
                    size = len(hit[2])
                    if len(cache) >= _PROMPT_CACHE_MAX or _PROMPT_CACHE_SIZE[0] + size > _PROMPT_CACHE_BUDGET:
                        cache.clear()
                        _PROMPT_CACHE_SIZE[0] = 0
                    cache[k] = hit
                    _PROMPT_CACHE_SIZE[0] += size
            step = hit[1]
            msgs.append(dict(step) if type(step) is dict else step)
            parts.append(hit[2])
        return msgs, parts

    # ------------------------------------------------------------------ providers / spans
    def shared_provider(self) -> bool:
        """True when AutoGen's own spans (global provider) and ours go to the same provider.

        Looked up once per run (``get_tracer_provider`` reads the environment on each call)."""
        run, cached = self.run, self._shared
        if cached is not None and run is not None and cached[0] is run:
            return cached[1]
        from opentelemetry import trace as otel

        tp = getattr(self.recorder, "_tracer_provider", None)
        shared = tp is None or tp is otel.get_tracer_provider()
        if run is not None:
            self._shared = (run, shared)
        return shared

    def _adoptable(self, name: str) -> Any:
        if not self.shared_provider():
            return None
        from opentelemetry import trace as otel

        cur = otel.get_current_span()
        if not cur.is_recording() or getattr(cur, "name", None) != name:
            return None
        sid = cur.get_span_context().span_id
        if sid in self._adopted:
            return None
        self._adopted.add(sid)
        if len(self._adopted) > 4096:
            self._adopted = {sid}
        return cur

    # ------------------------------------------------------------------ runs
    def begin_run(self, task: Any) -> None:
        if self.external_run is not None:
            self.run, self.own_run = self.external_run, False
            return
        if self.run is not None and not self.run.ended:
            return  # re-entrant call inside an open run (e.g. on_messages outside of run())
        run = self.recorder.start_run(
            _task_text(task),
            framework=FRAMEWORK,
            agents=list(self.participants),
            metadata={
                "autogen.team": type(self.team).__name__ if self.team is not None else None,
                "autogen.manager": self.manager_name,
                "autogen.participants": list(self.participants),
            },
        )
        self.run = run if isinstance(run, Run) else None
        self.own_run = self.run is not None
        self.position = 0
        self._positions.clear()

    def attach_context(self) -> Any:
        """Make our run span current (shared provider only) so AutoGen's spans nest under it."""
        if self.run is None or not self.shared_provider():
            return None
        from opentelemetry import context
        from opentelemetry import trace as otel

        return context.attach(otel.set_span_in_context(self.run.span))

    @staticmethod
    def detach_context(token: Any) -> None:
        if token is None:
            return
        from opentelemetry import context

        try:
            context.detach(token)
        except Exception:
            pass

    def end_run(self, result: Any, error: BaseException | str | None) -> None:
        self.last_result = result
        if self.manager_step is not None:
            self.manager_step.end(None)
            self.manager_step = None
        run = self.run
        if run is None:
            return
        final = None
        messages = list(getattr(result, "messages", None) or [])
        try:
            from autogen_agentchat.messages import BaseChatMessage, StopMessage

            chat = [m for m in messages if isinstance(m, BaseChatMessage)]
            pick = [m for m in chat if not isinstance(m, StopMessage) and m.source != "user"] or chat
            if pick:
                final = _msg_text(pick[-1])
        except Exception:
            log.debug("agentracer: no final answer", exc_info=True)
        if result is not None:
            run.trace.metadata["stop_reason"] = getattr(result, "stop_reason", None)
        if final is not None:
            run.trace.metadata["autogen.last_message"] = final
        if not self.own_run:
            return
        err = error if isinstance(error, BaseException) else None
        if isinstance(error, str):
            run.trace.metadata["error"] = error
        self.recorder.end_run(run, final_answer=final, error=err)
        self.run, self.own_run = None, False

    def _ensure_run(self) -> Run | None:
        if (self.run is None or self.run.ended) and self.external_run is not None:
            self.run = self.external_run
        return self.run

    # ------------------------------------------------------------------ top-level steps
    def _begin_top(self, agent: str, *, kind: str, input: Any = None, span_name: str | None = None) -> Any:
        run = self._ensure_run()
        adopt = self._adoptable(span_name) if span_name else None
        h = self.recorder.begin_step(agent, input=input, kind=kind, run=run, span=adopt)
        if getattr(h, "step", None) is not None:
            self._positions[id(h)] = self.position
            self.position += 1
        return h

    def position_of(self, h: Any) -> int | None:
        """The position of an open top-level step among this session's top-level steps."""
        return self._positions.get(id(h))

    def begin_turn(self, agent: Any, messages: Sequence[Any]) -> Any:
        name = agent.name
        if self.manager_step is not None:  # the selector's decision ends when the chosen speaker starts
            self.manager_step.set(metadata={"selected": name})
            self._positions.pop(id(self.manager_step), None)
            self.manager_step.end(name)
            self.manager_step = None
        text = "\n".join(f"[{getattr(m, 'source', '?')}] {_msg_text(m)}" for m in messages) if messages else None
        h = self._begin_top(name, kind="agent_message", input=text, span_name=f"invoke_agent {name}")
        self.turns[name] = h
        return h

    def turn_response(self, agent: Any, h: Any, response: Any) -> Any:
        """Observe the turn's final ``Response``; apply a pending override; return what to yield."""
        msg = response.chat_message
        pos = self.position_of(h)
        if self.override is not None and pos == self.override[0]:
            response = self._apply_turn_override(agent, response)
            msg = response.chat_message
        if getattr(h, "step", None) is not None:
            meta = {"message_id": getattr(msg, "id", None), "message_type": type(msg).__name__}
            target = getattr(msg, "target", None)
            if target:
                meta["handoff_target"] = target
            inner = [type(m).__name__ for m in (response.inner_messages or [])]
            if inner:
                meta["inner_messages"] = inner
            for m in response.inner_messages or []:
                if type(m).__name__ == "ThoughtEvent":
                    meta["thought"] = _msg_text(m)
            fields: dict[str, Any] = {"metadata": meta, "content": _msg_text(msg)}
            if type(msg).__name__ == "HandoffMessage":
                fields["kind"] = "handoff"
            h.set(**fields)
        return response

    def _apply_turn_override(self, agent: Any, response: Any) -> Any:
        from dataclasses import replace as dc_replace

        pos, text = self.override  # type: ignore[misc]
        msg = response.chat_message
        original = msg.content if isinstance(msg.content, str) else None
        if original is None:
            raise TypeError(f"cannot override a {type(msg).__name__} (its content is not text)")
        new_msg = msg.model_copy(update={"content": text})
        self.overridden = {"position": pos, "agent": agent.name, "original": original, "message_id": msg.id}
        self._pending_context_patch = (agent, original, text)
        return dc_replace(response, chat_message=new_msg)

    def end_turn(self, agent: Any, h: Any, error: BaseException | str | None) -> None:
        name = agent.name
        if self.turns.get(name) is h:
            self.turns.pop(name, None)
        usage = self.step_usage.pop(id(h), None)
        self._positions.pop(id(h), None)
        h.end(None, usage=usage or None, error=error)

    def manager_output(self, item: Any) -> None:
        """A message put on the team's output queue: the manager's own chat messages become its steps."""
        if self.manager_name is None or not isinstance(item, _ag("BaseChatMessage")) or item.source != self.manager_name:
            return
        h = self.manager_step
        self.manager_step = None
        if h is None:
            h = self._begin_top(self.manager_name, kind="agent_message")
        pos = self._positions.pop(id(h), None)
        if self.override is not None and pos == self.override[0] and isinstance(item.content, str):
            # the same object is the manager's thread entry and what it broadcasts: patch it in place
            self.overridden = {"position": pos, "agent": self.manager_name, "original": item.content, "message_id": item.id}
            item.content = self.override[1]
            self._fire_override()
        meta = {"message_id": getattr(item, "id", None), "message_type": type(item).__name__}
        h.set(metadata=meta, kind="agent_message")
        usage = self.step_usage.pop(id(h), None)
        h.end(_msg_text(item), usage=usage or None)

    def _fire_override(self) -> None:
        cb, self.on_override = self.on_override, None
        if cb is not None:
            cb()

    # ------------------------------------------------------------------ LLM and tool children
    def llm_parent(self, agent_name: str) -> Any:
        h = self.turns.get(agent_name)
        if h is not None:
            return h
        if agent_name == self.manager_name:
            if self.manager_step is None:
                self.manager_step = self._begin_top(agent_name, kind=self.manager_kind)
            return self.manager_step
        return None

    def llm_override(self, parent: Any) -> str | None:
        """The forced answer of a selector pick being overridden (the pick is the model's answer), else None."""
        if self.override is None or parent is None or parent is not self.manager_step or self.manager_kind != "handoff":
            return None
        if self.position_of(parent) != self.override[0]:
            return None
        if self.overridden is not None:
            return None
        self.overridden = {"position": self.override[0], "agent": self.manager_name, "original": None}
        return self.override[1]

    def add_usage(self, parent: Any, usage: dict[str, int] | None) -> None:
        if parent is None or not usage:
            return
        key = id(parent)
        tot = self.step_usage.get(key)
        if tot is None:
            self.step_usage[key] = {k: int(v) for k, v in usage.items()}
            return
        for k, v in usage.items():
            tot[k] = tot.get(k, 0) + int(v)


# --------------------------------------------------------------------------------------------- model client
def _client_base() -> type:
    from autogen_core.models import ChatCompletionClient

    return ChatCompletionClient


def _make_traced_client_class() -> type:
    from autogen_core.models import ChatCompletionClient, CreateResult, RequestUsage

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
            msgs, parts = s.prompt_forms(messages)
            h = s.recorder.begin_llm(
                _model_name(self._agentracer_inner),
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
            return CreateResult(
                finish_reason="stop", content=rec.get("text") or "", usage=RequestUsage(prompt_tokens=0, completion_tokens=0), cached=True
            )

        def _finish(self, h: Any, parent: Any, result: Any) -> None:
            usage = _usage(result)
            self._agentracer_session.add_usage(parent, usage)
            h.end(create_result_text(result), response=result.model_dump(mode="json"), usage=usage)

        # ---- ChatCompletionClient API
        def _forced(self, parent: Any) -> Any:
            s = self._agentracer_session
            text = s.llm_override(parent) if s.override is not None else None
            if text is None:
                return None
            s._fire_override()
            return CreateResult(
                finish_reason="stop", content=text, usage=RequestUsage(prompt_tokens=0, completion_tokens=0), cached=False
            )

        async def create(self, messages: Sequence[Any], *args: Any, **kwargs: Any) -> Any:
            h, parent = _guard(self._begin, messages, default=(None, None))
            replayed = _guard(self._replayed, h) if h is not None else None
            forced = self._forced(parent) if h is not None else None
            if forced is not None:
                _guard(self._finish, h, parent, forced)
                return forced
            if replayed is not None:
                _guard(self._finish, h, parent, replayed)
                return replayed
            try:
                result = await self._agentracer_inner.create(messages, *args, **kwargs)
            except BaseException as e:
                if h is not None:
                    h.end(error=e)
                raise
            if h is not None:
                _guard(self._finish, h, parent, result)
            return result

        async def create_stream(self, messages: Sequence[Any], *args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
            h, parent = _guard(self._begin, messages, default=(None, None))
            replayed = _guard(self._replayed, h) if h is not None else None
            forced = self._forced(parent) if h is not None else None
            if forced is not None:
                replayed = forced
            if replayed is not None:
                _guard(self._finish, h, parent, replayed)
                if isinstance(replayed.content, str) and replayed.content:
                    yield replayed.content
                yield replayed
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
                    _guard(self._finish, h, parent, final)
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


def _is_traced_client(client: Any) -> bool:
    return _TRACED_CLS is not None and isinstance(client, _TRACED_CLS)


def _wrap_client(client: Any, agent_name: str, session: Session) -> Any:
    if client is None:
        return None
    if _is_traced_client(client):
        client._agentracer_session = session
        client._agentracer_agent = agent_name
        return client
    if not isinstance(client, _client_base()):
        return client
    return TracedChatCompletionClient(client, agent_name, session)


# --------------------------------------------------------------------------------------------- tools
def _wrap_tool(tool: Any) -> None:
    """Record ``tool.run`` under the agent turn running in the context (the tool may be shared)."""
    if getattr(tool, _TOOL_ATTR, False) or not callable(getattr(tool, "run", None)):
        return
    orig = _late_bound(tool, "run")
    name = getattr(tool, "name", type(tool).__name__)

    async def run(args: Any, cancellation_token: Any, *rest: Any, **kwargs: Any) -> Any:
        cur = _TURN.get()
        if cur is None:
            return await orig(args, cancellation_token, *rest, **kwargs)
        session, parent = cur
        if getattr(parent, "step", None) is None:  # the turn was not recorded
            return await orig(args, cancellation_token, *rest, **kwargs)

        def begin() -> Any:
            try:
                a = args.model_dump(mode="json")
            except Exception:
                a = str(args)
            adopt = session._adoptable(f"execute_tool {name}")
            call_id = None
            if adopt is not None:
                call_id = (getattr(adopt, "attributes", None) or {}).get("gen_ai.tool.call.id")
            return session.recorder.begin_tool(name, args=a, call_id=call_id, parent=parent, span=adopt)

        h = _guard(begin)
        try:
            result = await orig(args, cancellation_token, *rest, **kwargs)
        except BaseException as e:
            if h is not None:
                h.end(error=e)
            raise
        if h is not None:

            def finish() -> None:
                try:
                    out = tool.return_value_as_string(result)
                except Exception:
                    out = str(result)
                h.end(out)

            _guard(finish)
        return result

    try:
        object.__setattr__(tool, "run", run)
        object.__setattr__(tool, _TOOL_ATTR, True)
    except Exception:
        log.debug("agentracer: cannot wrap tool %r", name, exc_info=True)


def _late_bound(obj: Any, name: str) -> Callable[..., Any]:
    """``obj.name`` resolved at call time, so class-level instrumentors (OpenInference) added or removed
    after us still apply; an instance-level attribute that was there before us is kept."""
    own = obj.__dict__.get(name) if hasattr(obj, "__dict__") else None
    if own is not None:
        return own  # type: ignore[no-any-return]

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(type(obj), name).__get__(obj, type(obj))(*args, **kwargs)

    return call


def _agent_tools(agent: Any) -> list[Any]:
    tools: list[Any] = []
    for wb in getattr(agent, "_workbench", None) or []:
        tools.extend(getattr(wb, "_tools", None) or [])
    tools.extend(getattr(agent, "_handoff_tools", None) or [])
    return tools


# --------------------------------------------------------------------------------------------- agent turns
def _wrap_agent(agent: Any, session: Session) -> None:
    """Instrument one ``ChatAgent``: its turns, its model client and its tools."""
    prev = getattr(agent, _SESSION_ATTR, None)
    object.__setattr__(agent, _SESSION_ATTR, session)
    if hasattr(agent, "_model_client"):
        agent._model_client = _wrap_client(agent._model_client, agent.name, session)
    for tool in _agent_tools(agent):
        _wrap_tool(tool)
    if prev is not None:
        return  # already wrapped: the wrappers look the session up on the agent
    orig = _late_bound(agent, "on_messages_stream")

    def on_messages_stream(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
        return _traced_turn(agent, orig, args, kwargs)

    setattr(on_messages_stream, _ORIG_ATTR, orig)
    object.__setattr__(agent, "on_messages_stream", on_messages_stream)


async def _traced_turn(agent: Any, orig: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> AsyncGenerator[Any, None]:
    Response = _ag("Response")  # noqa: N806
    session: Session = getattr(agent, _SESSION_ATTR)
    messages = args[0] if args else kwargs.get("messages", [])
    own_run = False
    if session.run is None and session.external_run is None:  # a bare on_messages() call: a run of its own
        _guard(session.begin_run, messages)
        own_run = session.run is not None
    h = _guard(session.begin_turn, agent, messages)
    token = _guard(_TURN.set, (session, h)) if h is not None else None
    gen = orig(*args, **kwargs)
    response = None
    try:
        while True:
            try:
                item = await gen.__anext__()
            except StopAsyncIteration:
                break
            if isinstance(item, Response) and h is not None:
                if session.override is not None:
                    # the override must not be swallowed: a failure here is the fork's, not the host's
                    item = session.turn_response(agent, h, item)
                    patch = session._pending_context_patch
                    if patch is not None:
                        session._pending_context_patch = None
                        await _patch_model_context(*patch)
                        session._fire_override()
                else:
                    item = _guard(session.turn_response, agent, h, item, default=item)
                response = item
            yield item
    except GeneratorExit:
        try:
            await gen.aclose()
        finally:
            if h is not None:
                _guard(session.end_turn, agent, h, "the turn was closed before it finished")
        raise
    except BaseException as e:
        if h is not None:
            _guard(session.end_turn, agent, h, e)
        if own_run:
            _guard(session.end_run, None, e)
        raise
    else:
        if h is not None:
            _guard(session.end_turn, agent, h, None)
        if own_run:
            _guard(session.end_run, _Result([response.chat_message] if response else []), None)
    finally:
        if token is not None:
            try:
                _TURN.reset(token)
            except Exception:
                pass


class _Result:
    def __init__(self, messages: list[Any]) -> None:
        self.messages = messages
        self.stop_reason = None


async def _patch_model_context(agent: Any, original: str, text: str) -> None:
    """Replace the speaker's own copy of its message (last matching AssistantMessage) by ``text``."""
    ctx = getattr(agent, "_model_context", None)
    if ctx is None:
        return
    state = await ctx.save_state()
    msgs = state.get("messages", [])
    for m in reversed(msgs):
        if m.get("type") == "AssistantMessage" and m.get("content") == original:
            m["content"] = text
            break
    await ctx.load_state(state)


# --------------------------------------------------------------------------------------------- teams
def _wrap_run_stream(obj: Any, session_getter: Callable[[], Session]) -> None:
    orig = _late_bound(obj, "run_stream")

    def run_stream(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
        return _traced_run_stream(session_getter(), orig, args, kwargs)

    setattr(run_stream, _ORIG_ATTR, orig)
    object.__setattr__(obj, "run_stream", run_stream)


async def _traced_run_stream(session: Session, orig: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> AsyncGenerator[Any, None]:
    TaskResult = _ag("TaskResult")  # noqa: N806
    _guard(session.begin_run, kwargs.get("task", args[0] if args else None))
    gen = orig(*args, **kwargs)
    result = None
    try:
        while True:
            token = _guard(session.attach_context)
            try:
                item = await gen.__anext__()
            except StopAsyncIteration:
                break
            finally:
                session.detach_context(token)
            if isinstance(item, TaskResult):
                result = item
            yield item
    except GeneratorExit:
        try:
            await gen.aclose()  # AutoGen finishes the turns in flight here: they belong to this run
        finally:
            _guard(session.end_run, result, "the run was closed before it finished")
        raise
    except BaseException as e:
        _guard(session.end_run, result, e)
        raise
    else:
        _guard(session.end_run, result, None)


def _wrap_agent_run(agent: Any, session_getter: Callable[[], Session]) -> None:
    """Single agent: ``agent.run()`` is one run (``run_stream`` is wrapped like a team's)."""
    orig = _late_bound(agent, "run")

    async def run(*args: Any, **kwargs: Any) -> Any:
        session = session_getter()
        _guard(session.begin_run, kwargs.get("task", args[0] if args else None))
        token = _guard(session.attach_context)
        try:
            result = await orig(*args, **kwargs)
        except BaseException as e:
            session.detach_context(token)
            _guard(session.end_run, None, e)
            raise
        session.detach_context(token)
        _guard(session.end_run, result, None)
        return result

    setattr(run, _ORIG_ATTR, orig)
    object.__setattr__(agent, "run", run)


def _wrap_output_queue(team: Any, session_getter: Callable[[], Session]) -> None:
    queue = getattr(team, "_output_message_queue", None)
    if queue is None or getattr(queue, _SESSION_ATTR, False):
        return
    orig_put = queue.put

    async def put(item: Any) -> None:
        session = session_getter()
        if session.override is not None:
            session.manager_output(item)  # a fork: its override errors must surface
        else:
            _guard(session.manager_output, item)
        return await orig_put(item)

    queue.put = put
    setattr(queue, _SESSION_ATTR, True)


def instrument(system: Any, recorder: Recorder, *, external_run: Run | None = None) -> Session:
    """Instrument an AutoGen team (``BaseGroupChat``) or a single ``ChatAgent`` in place; return its session.

    Instrumenting again only points the existing hooks at the new ``recorder``. Call it before the
    team's first run, so that the selector / orchestrator model client is wrapped too.
    """
    from autogen_agentchat.base import ChatAgent, Team
    from autogen_agentchat.teams import BaseGroupChat

    existing = session_of(system)
    if isinstance(system, BaseGroupChat):
        session = Session(recorder, team=system)
        session.external_run = external_run
        object.__setattr__(system, _SESSION_ATTR, session)
        if existing is None:
            _wrap_run_stream(system, lambda: getattr(system, _SESSION_ATTR))
            _wrap_output_queue(system, lambda: getattr(system, _SESSION_ATTR))
        if getattr(system, "_model_client", None) is not None and session.manager_name:
            if getattr(system, "_initialized", False) and not _is_traced_client(system._model_client):
                log.warning("agentracer: %s already ran; its manager's LLM calls will not be recorded", type(system).__name__)
            system._model_client = _wrap_client(system._model_client, session.manager_name, session)
        for p in system._participants:
            if isinstance(p, Team):
                log.warning("agentracer: nested team %r is not instrumented (record it separately)", getattr(p, "name", p))
                continue
            _wrap_agent(p, session)
        return session
    if isinstance(system, ChatAgent):
        session = Session(recorder, agent=system)
        session.external_run = external_run
        _wrap_agent(system, session)  # sets the session attribute
        if existing is None:
            _wrap_agent_run(system, lambda: getattr(system, _SESSION_ATTR))
            _wrap_run_stream(system, lambda: getattr(system, _SESSION_ATTR))
        return session
    raise TypeError(f"not an AutoGen team or agent: {type(system).__qualname__}")
