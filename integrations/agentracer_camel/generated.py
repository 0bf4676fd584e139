"""The CAMEL driver of the annotation generator's systems (``agentracer_sample(kind="generated")``).

A generated system on CAMEL is one ``ChatAgent`` per agent of its domain over a scripted model backend
(:class:`~agentracer_camel.testing.ScriptedModel` answering with the run's turn), driven round by round as
OWL's ``run_society`` does. This plugin forks RolePlaying and Workforce societies, not this loop, so the
generator records these runs itself (on CAMEL's runtime) and replays them by re-execution.
"""

from __future__ import annotations

from typing import Any

from agentracer.annotation.generate import Engine, GeneratedDriver
from camel.agents import ChatAgent
from camel.messages import BaseMessage

from .testing import ScriptedModel

__all__ = ["DRIVER", "CamelDriver"]


class CamelDriver(GeneratedDriver):
    """Generated systems as CAMEL ChatAgents in a round loop, recorded by the generator."""

    framework = "camel"
    plugin_records = False

    def execute(self, engine: Engine) -> None:
        """One run: each agent's turn is one ``ChatAgent.step`` whose model answers ``engine.llm``.

        The ``workforce`` system runs on CAMEL's ``Workforce`` instead (:mod:`.workforce_gen`).
        """
        if engine.system.spec.system == "workforce":
            from agentracer.annotation.generate import run_outside_loop

            from .workforce_gen import run_workforce

            run_outside_loop(lambda: run_workforce(engine))
            return

        def answer(messages: list[dict[str, Any]]) -> str:
            return engine.llm(engine.current_agent or "agent")

        agents = {a: ChatAgent(system_message=engine.domain.roles.get(a, a), model=ScriptedModel(answer, name="scripted"),
                               step_timeout=None) for a in engine.domain.agents}
        msg = BaseMessage.make_user_message(role_name="User", content=engine.task.question)
        while (agent := engine.next_agent()) is not None:
            def invoke(agent: str = agent, msg: Any = msg) -> str:
                resp = agents[agent].step(msg)
                return resp.msgs[0].content if resp.msgs else ""

            t = engine.take_turn(agent, invoke=invoke)
            msg = BaseMessage.make_user_message(role_name=agent, content=t.render())


DRIVER = CamelDriver()
