"""The recording state of one instrumented AutoGen team (or single agent): its run, its agent steps, fork overrides.

A :class:`Session` is attached to the team and to each participant (:func:`session_of`). The wrappers of
:mod:`.instrument`, :mod:`.agents`, :mod:`.client` and :mod:`.tools` report to it: it opens and ends the
run, opens one top-level agent step per agent turn (and steps of the group chat manager), knows the parent
step of each LLM and tool call, sums their token usage, adopts AutoGen's own spans when they go to the same
tracer provider as ours, and applies a fork's live override of one step's output.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from agentracer.recording import Recorder, Run

from .detect import FRAMEWORK, ag_class
from .messages import msg_text, prompt_forms, task_text

log = logging.getLogger("agentracer.autogen")

__all__ = ["SESSION_ATTR", "Session", "session_of"]

SESSION_ATTR = "_agentracer_autogen_session"


def session_of(obj: Any) -> Session | None:
    """The :class:`Session` attached to an instrumented team or agent, if any."""
    return getattr(obj, SESSION_ATTR, None)


class Session:
    """The instrumentation state of one team (or one single agent) and the recorder it reports to.

    ``external_run``: when set (forks), team runs report into this already-open run instead of opening
    their own. ``override``: ``(position, text)`` replaces the output of the agent step at that position
    (0-based among top-level steps) while the run goes on (the live-override fork path).
    """

    def __init__(self, recorder: Recorder, team: Any = None, agent: Any = None, external_run: Run | None = None) -> None:
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
        self.external_run = external_run
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
        """The recorded prompt and the call-key parts of ``messages`` (see :func:`.messages.prompt_forms`)."""
        return prompt_forms(self.recorder, messages)

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
            task_text(task),
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
                final = msg_text(pick[-1])
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
        text = "\n".join(f"[{getattr(m, 'source', '?')}] {msg_text(m)}" for m in messages) if messages else None
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
            meta = _message_meta(msg)
            target = getattr(msg, "target", None)
            if target:
                meta["handoff_target"] = target
            inner = [type(m).__name__ for m in (response.inner_messages or [])]
            if inner:
                meta["inner_messages"] = inner
            for m in response.inner_messages or []:
                if type(m).__name__ == "ThoughtEvent":
                    meta["thought"] = msg_text(m)
            fields: dict[str, Any] = {"metadata": meta, "content": msg_text(msg)}
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
        self._end_top(h, None, error)

    def manager_output(self, item: Any) -> None:
        """A message put on the team's output queue: the manager's own chat messages become its steps."""
        if self.manager_name is None or not isinstance(item, ag_class("BaseChatMessage")) or item.source != self.manager_name:
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
        h.set(metadata=_message_meta(item), kind="agent_message")
        self._end_top(h, msg_text(item))

    def _end_top(self, h: Any, output: Any, error: BaseException | str | None = None) -> None:
        """End a top-level step with the token usage of its LLM calls."""
        self._positions.pop(id(h), None)
        usage = self.step_usage.pop(id(h), None)
        h.end(output, usage=usage or None, error=error)

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


def _message_meta(msg: Any) -> dict[str, Any]:
    """The step metadata every recorded chat message gives: its id and its type."""
    return {"message_id": getattr(msg, "id", None), "message_type": type(msg).__name__}
