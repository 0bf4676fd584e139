"""The AutoGen driver of the annotation generator's systems (``agentracer_sample(kind="generated")``).

Orchestrator-led domains (``web``, ``files``, ``multihop``) run on ``MagenticOneGroupChat`` instead
(:mod:`.magentic`). Any other generated system on AutoGen is a ``SelectorGroupChat`` of ``BaseChatAgent`` participants, one per agent
of its domain, a ``selector_func`` routing from the transcript. Each agent asks its own model client (a
``ReplayChatCompletionClient`` answering with the run's live turn), which this plugin wraps: it records
every call and serves recorded ones, so a fork (``agentracer.fork`` on a team factory) runs no live call
before the fork point.
"""

from __future__ import annotations

import asyncio
from typing import Any

import agentracer
from agentracer.annotation.domains import Turn
from agentracer.annotation.generate import Control, Engine, GeneratedDriver, GeneratedSystem, run_outside_loop
from agentracer.recording import Recorder
from autogen_agentchat.agents import BaseChatAgent
from autogen_agentchat.base import Response
from autogen_agentchat.conditions import FunctionalTermination, MaxMessageTermination
from autogen_agentchat.messages import TextMessage
from autogen_agentchat.teams import SelectorGroupChat
from autogen_core.models import CreateResult, ModelInfo, RequestUsage, SystemMessage, UserMessage
from autogen_ext.models.replay import ReplayChatCompletionClient

__all__ = ["DRIVER", "AutogenDriver", "generated_team"]

_INFO = ModelInfo(vision=False, function_calling=False, json_output=False, family="unknown", structured_output=False)


class PolicyClient(ReplayChatCompletionClient):
    """A model client whose completion is the engine's live answer for its agent."""

    def __init__(self, engine: Engine, agent: str) -> None:
        super().__init__(["-"], model_info=_INFO)
        self.engine = engine
        self.agent = agent

    async def create(self, messages: Any, **kwargs: Any) -> Any:
        text, _ = self.engine.live(self.agent)
        n = max(1, len(text.split()))
        return CreateResult(finish_reason="stop", content=text, usage=RequestUsage(prompt_tokens=1, completion_tokens=n),
                            cached=False)


class ScriptedAgent(BaseChatAgent):
    """A participant whose turn is one engine turn (its text comes from the agent's model client)."""

    def __init__(self, engine: Engine, name: str, description: str) -> None:
        super().__init__(name, description)
        self.engine = engine
        self._model_client = PolicyClient(engine, name)

    @property
    def produced_message_types(self) -> tuple[type, ...]:
        return (TextMessage,)

    async def on_messages(self, messages: Any, cancellation_token: Any) -> Any:
        engine = self.engine
        engine.sync_replacement()  # a fork patched step k in AutoGen's state: mirror it
        engine.current_agent = self.name
        msgs = engine.messages(self.name)
        res = await self._model_client.create(
            [SystemMessage(content=msgs[0]["content"])] + [UserMessage(content=m["content"], source="user") for m in msgs[1:]])
        turn = Turn(self.name, str(res.content), [])
        engine.run_tools_in_current_run(turn)
        engine.transcript.append(turn)
        engine.turn += 1
        return Response(chat_message=TextMessage(content=turn.text or "(empty)", source=self.name))

    async def on_reset(self, cancellation_token: Any) -> None:
        return None


def generated_team(engine: Engine) -> SelectorGroupChat:
    """A fresh ``SelectorGroupChat`` of the domain's agents, bound to ``engine`` (a factory for forks)."""

    def selector(msgs: Any) -> str | None:
        engine.sync_replacement()
        return engine.next_agent()

    def done(msgs: Any) -> bool:
        engine.sync_replacement()
        return engine.next_agent() is None

    agents = [ScriptedAgent(engine, a, engine.domain.roles.get(a, a)) for a in engine.domain.agents]
    stop = FunctionalTermination(done) | MaxMessageTermination(engine.domain.max_turns(engine.task) + 2)
    return SelectorGroupChat(agents, model_client=ReplayChatCompletionClient([engine.domain.agents[0]]),
                             selector_func=selector, termination_condition=stop, allow_repeated_speaker=True)


class AutogenDriver(GeneratedDriver):
    """Generated systems as AutoGen teams, recorded and forked by this plugin."""

    framework = "autogen"
    plugin_records = True

    def records(self, system: GeneratedSystem) -> bool:
        """Orchestrator-led domains run on ``MagenticOneGroupChat`` and are recorded by the generator."""
        return not getattr(system.domain, "orchestrated", False)

    def execute(self, engine: Engine) -> None:
        """One run of an orchestrator-led domain on AutoGen's real MagenticOne orchestrator (:mod:`.magentic`)."""
        from .magentic import run_magentic

        run_outside_loop(lambda: run_magentic(engine))

    def record(self, system: GeneratedSystem) -> tuple[Any, str | None]:
        engine = Engine(system, None, None, None, record=False)
        system.last_engine = engine
        team = generated_team(engine)
        rec = Recorder(framework="autogen", capture_content=False, redactor=system.redactor())
        agentracer.instrument(team, recorder=rec)
        run_outside_loop(lambda: asyncio.run(team.run(task=system.spec.task.question)))
        return rec.last_trace(), system.domain.final_answer(system.spec.task, engine.transcript)

    def fork(self, system: GeneratedSystem, step: int, replacement: str,
             control: Control | None) -> tuple[Any, str | None]:
        c = control or Control()
        engine = Engine(system, None, None, Control(replace_turn=system.turn_of(step), replacement=replacement,
                                                    oracle_from=c.oracle_from, oracle=c.oracle), record=False)
        system.last_engine = engine
        _, new = run_outside_loop(agentracer.fork(lambda: generated_team(engine), system.bound(), step, replacement))
        engine.sync_replacement()
        return new, system.domain.final_answer(system.spec.task, engine.transcript)


DRIVER = AutogenDriver()
