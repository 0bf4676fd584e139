"""Orchestrator-led generated teams on AutoGen's real ``MagenticOneGroupChat``.

The orchestrator is AutoGen's own ``MagenticOneOrchestrator``: its model client
(:class:`LedgerClient`) answers the facts, plan, progress-ledger and final-answer prompts from the
engine's orchestrator turns (the plan turn answers the facts and plan prompts; each progress-ledger
prompt is one turn, turned into the ledger JSON whose ``next_speaker`` is read from that turn's text, so a
wrong handoff really reroutes the team). Workers are ``BaseChatAgent`` participants, one engine turn each.
The generator records these runs itself (each turn through ``engine.take_turn``) and replays them by
re-execution with the recorded prefix served (the plugin's fork of MagenticOne re-runs the task too).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from agentracer.annotation.generate import Engine
from autogen_agentchat.agents import BaseChatAgent
from autogen_agentchat.base import Response
from autogen_agentchat.messages import TextMessage
from autogen_agentchat.teams import MagenticOneGroupChat
from autogen_core.models import CreateResult, ModelInfo, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient

__all__ = ["LedgerClient", "magentic_team", "run_magentic"]

_INFO = ModelInfo(vision=False, function_calling=False, json_output=False, family="unknown", structured_output=False)


def _result(text: str) -> CreateResult:
    return CreateResult(finish_reason="stop", content=text, cached=False,
                        usage=RequestUsage(prompt_tokens=1, completion_tokens=max(1, len(text.split()))))


class LedgerClient(ReplayChatCompletionClient):
    """The orchestrator's model client: each ledger prompt answered from the engine's orchestrator turns."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(["-"], model_info=_INFO)
        self.engine = engine
        self.lead = engine.domain.agents[0]
        self.plan: str | None = None
        self.final: str | None = None

    async def create(self, messages: Any, **kwargs: Any) -> Any:
        prompt = str(getattr(messages[-1], "content", "")) if messages else ""
        e = self.engine
        if "pre-survey" in prompt:  # facts: the plan turn
            self.plan = e.take_turn(self.lead).text
            facts, _, _ = self.plan.partition("Plan:")
            return _result(facts.strip() or self.plan)
        if "To address this request we have assembled" in prompt or "update the plan" in prompt.lower():
            return _result(self.plan or "")
        if "is_request_satisfied" not in prompt:  # the final-answer prompt
            return _result(self.final or "The team could not finish the task.")
        # the progress ledger: one orchestrator turn
        if e.next_agent() != self.lead:
            self.final = self.final or "The team could not finish the task."
            return _result(self._ledger(True, self.final, self.lead))
        text = e.take_turn(self.lead).text
        nxt = e.next_agent()
        if nxt is None:
            self.final = text
            return _result(self._ledger(True, text, self.lead))
        return _result(self._ledger(False, text, nxt))

    @staticmethod
    def _ledger(done: bool, instruction: str, speaker: str) -> str:
        def a(ans: Any, why: str) -> dict[str, Any]:
            return {"reason": why, "answer": ans}

        return json.dumps({
            "is_request_satisfied": a(done, instruction if done else "more information is needed"),
            "is_in_loop": a(False, "new steps each round"), "is_progress_being_made": a(True, "results come in"),
            "next_speaker": a(speaker, "the plan's next step"),
            "instruction_or_question": a(instruction, "the next step of the plan"),
        })


class Worker(BaseChatAgent):
    """A team member whose every turn is one engine turn (its text and tool calls recorded by the engine)."""

    def __init__(self, engine: Engine, name: str, description: str) -> None:
        super().__init__(name, description)
        self.engine = engine

    @property
    def produced_message_types(self) -> tuple[type, ...]:
        return (TextMessage,)

    async def on_messages(self, messages: Any, cancellation_token: Any) -> Any:
        turn = self.engine.take_turn(self.name)
        return Response(chat_message=TextMessage(content=turn.render() or "(empty)", source=self.name))

    async def on_reset(self, cancellation_token: Any) -> None:
        return None


def magentic_team(engine: Engine) -> MagenticOneGroupChat:
    """A fresh ``MagenticOneGroupChat`` of the domain's workers, its orchestrator driven by :class:`LedgerClient`."""
    d = engine.domain
    workers = [Worker(engine, a, d.roles.get(a, a)) for a in d.agents[1:]]
    return MagenticOneGroupChat(workers, model_client=LedgerClient(engine), max_turns=d.max_turns(engine.task),
                                max_stalls=1000)


def run_magentic(engine: Engine) -> None:
    """One run of the task on a fresh MagenticOne team (each turn recorded by the engine)."""
    team = magentic_team(engine)
    asyncio.run(team.run(task=engine.task.question))
