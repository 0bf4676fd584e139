"""The MaAS driver of the annotation generator's systems (``agentracer_sample(kind="generated")``).

A generated system on MaAS is a MaAS-shaped operator workflow: one ``Operator`` per agent of its domain,
each holding the workflow's ``llm`` (whose ``aask`` answers with the run's live turn), and an
``async __call__(problem)`` driving the turns. This plugin instruments it (each operator call an agent
step, each ``aask`` a ``chat`` child) and forks it (``agentracer.fork``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import agentracer
from agentracer.annotation.domains import Turn
from agentracer.annotation.generate import Control, Engine, GeneratedDriver, GeneratedSystem, run_outside_loop
from agentracer.recording import Recorder
from agentracer.trace import Step, Trace

__all__ = ["DRIVER", "MaasDriver", "Operator"]


class _ScriptedLLM:
    """The LLM every operator of the MaAS-shaped workflow holds (``aask`` is what MaAS operators call)."""

    def __init__(self, workflow: _GeneratedWorkflow) -> None:
        self.workflow = workflow
        self.model = "scripted"

    async def aask(self, msg: Any, system_msgs: Any = None, **kwargs: Any) -> str:
        engine = self.workflow.engine
        text, _ = engine.live(engine.current_agent or "agent")
        return text


class Operator:
    """Base of the generated operators: one agent turn per call (MaaS operators are named ``Operator``)."""

    def __init__(self, name: str, llm: _ScriptedLLM) -> None:
        self.name = name
        self.llm = llm

    async def __call__(self, problem: str) -> str:
        engine = self.llm.workflow.engine
        msgs = engine.messages(self.name)
        text = await self.llm.aask("\n\n".join(m["content"] for m in msgs[1:]), system_msgs=[msgs[0]["content"]])
        turn = Turn(self.name, text, [])
        engine.run_tools_in_current_run(turn)  # children of this operator's step, on the plugin's run
        engine.last_tools = (text, turn.tools)
        return text


class _GeneratedWorkflow:
    """A MaAS-shaped workflow: operators as attributes, ``async __call__(problem)`` driving the turns."""

    def __init__(self, system: GeneratedSystem) -> None:
        self._agentracer_system = system
        self.llm = _ScriptedLLM(self)
        self.operators = {a: type(a, (Operator,), {})(a, self.llm) for a in system.domain.agents}
        self.engine: Engine = Engine(system, None, None, None, record=False)
        self.control: Control | None = None

    async def __call__(self, problem: str) -> str:
        engine = Engine(self._agentracer_system, None, None, self.control, record=False)
        self.engine = engine
        while (agent := engine.next_agent()) is not None:
            engine.current_agent = agent
            engine.last_tools = None
            text = str(await self.operators[agent](problem))
            turn = Turn(agent, text, [])
            if engine.last_tools is not None and engine.last_tools[0] == text:
                turn.tools = engine.last_tools[1]
            else:  # an overridden output (the operator did not run): run its tool calls now
                engine.run_tools(turn, recorder=None)
            engine.transcript.append(turn)
            engine.turn += 1
        return engine.domain.final_answer(engine.task, engine.transcript) or ""


def _fill_overridden_step(system: GeneratedSystem, trace: Trace, turn: int) -> None:
    """Give an operator step that a fork overrode (its operator never ran) the children a real run has:
    the LLM call that "said" its output and the tool calls that output made."""
    engine = system.last_engine
    agents = trace.agent_steps()
    if engine is None or turn >= len(agents) or turn >= len(engine.transcript):
        return
    k = agents[turn].index
    if any(s.parent == k for s in trace.steps):
        return
    t = engine.transcript[turn]
    kids = [Step(index=0, agent=t.agent, content=t.text, kind="llm_call", parent=k,
                 metadata={"model": system.model_name}, replay={"response": {"text": t.text}})]
    kids += [Step(index=0, agent=t.agent, role="tool", kind="tool_call", tool_name=c["name"], tool_args=list(c["args"]),
                  tool_result=str(c["result"]), content=str(c["result"]), parent=k) for c in t.tools]
    old = trace.steps
    new_steps = old[: k + 1] + kids + old[k + 1:]
    remap = {s.index: i for i, s in enumerate(old[: k + 1])}
    remap.update({s.index: i + len(kids) for i, s in enumerate(old[k + 1:], start=k + 1)})
    kid_ids = {id(x) for x in kids}
    for i, s in enumerate(new_steps):
        s.index = i
        if s.parent is not None and id(s) not in kid_ids:
            s.parent = remap.get(s.parent, s.parent)
    trace.steps = new_steps



class MaasDriver(GeneratedDriver):
    """Generated systems as MaAS-shaped workflows, recorded and forked by this plugin."""

    framework = "maas"
    plugin_records = True

    def workflow(self, system: GeneratedSystem) -> _GeneratedWorkflow:
        """The workflow of ``system``, instrumented by this plugin (created once per system)."""
        wf = system.driver_state.get("maas.workflow")
        if wf is None:
            wf = _GeneratedWorkflow(system)
            agentracer.instrument(wf, recorder=Recorder(framework="maas", tracer_provider=system.tracer_provider,
                                                        capture_content=False, redactor=system.redactor()))
            system.driver_state["maas.workflow"] = wf
        return wf

    def record(self, system: GeneratedSystem) -> tuple[Any, str | None]:
        wf = self.workflow(system)
        wf.control = None
        final = run_outside_loop(lambda: asyncio.run(wf(system.spec.task.question)))
        system.last_engine = wf.engine
        return agentracer.recorder_of(wf).last_trace(), final

    def fork(self, system: GeneratedSystem, step: int, replacement: str,
             control: Control | None) -> tuple[Any, str | None]:
        wf = self.workflow(system)
        wf.control = control
        try:
            result, new = run_outside_loop(agentracer.fork(wf, system.bound(), step, replacement))
        finally:
            wf.control = None
        system.last_engine = wf.engine
        if new is not None and (control is None or control.oracle_from is None):
            _fill_overridden_step(system, new, system.turn_of(step))
        return new, result


DRIVER = MaasDriver()
