"""The LangGraph driver of the annotation generator's systems (``agentracer_sample(kind="generated")``).

A generated system on LangGraph is a ``StateGraph`` with one node per agent of its domain and conditional
edges that read who was handed the work; each agent asks a chat model (:class:`LiveChatModel`, this
plugin's scripted fake answering with the run's live turn). The graph is instrumented by this plugin,
which records every run and forks it (``agentracer.fork``): recorded LLM calls, the replay prefix and the
fork's replacement, are served from the recording, so the model is only asked for live turns.
"""

from __future__ import annotations

import contextvars
import operator
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

import agentracer
from agentracer.annotation.domains import Domain, Turn
from agentracer.annotation.generate import Control, Engine, GeneratedDriver, GeneratedSystem, run_outside_loop
from agentracer.recording import Recorder
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from .fakes import ScriptedChatModel

__all__ = ["DRIVER", "LangGraphDriver", "LiveChatModel"]

_ENGINE: contextvars.ContextVar[Engine | None] = contextvars.ContextVar("agentracer_gen_engine", default=None)
_APPS: dict[tuple[str, bool], Any] = {}

# functional syntax: postponed annotations would hide the reducers from LangGraph
State = TypedDict("State", {"messages": Annotated[list, add_messages], "turns": Annotated[list, operator.add]})  # noqa: UP013


def _live_answer(messages: list[BaseMessage]) -> str:
    engine = _ENGINE.get()
    if engine is None:
        raise RuntimeError("LiveChatModel called outside a generated run")
    text, _ = engine.live(engine.current_agent or "agent")
    return text


class LiveChatModel(ScriptedChatModel):
    """The scripted fake answering with the current generated run's live turn (policy or oracle).

    One model serves every generated run of the process, so it keeps no call log.
    """

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> Any:
        try:
            return super()._generate(messages, stop, run_manager, **kwargs)
        finally:
            self.calls.clear()


_MODEL = LiveChatModel(respond=_live_answer)


def routed_graph(state: Any, domain: Domain, node_for: Callable[[str], Any], route: Callable[[Any], str]) -> Any:
    """A compiled ``StateGraph``: one node per agent of ``domain``, ``route`` picking the next one (or END)
    from START and after every node."""
    g = StateGraph(state)
    for a in domain.agents:
        g.add_node(a, node_for(a))
    targets = {a: a for a in domain.agents} | {END: END}
    g.add_conditional_edges(START, route, targets)
    for a in domain.agents:
        g.add_conditional_edges(a, route, targets)
    return g.compile()


def generated_app(domain: Domain, redactor: Callable[[str], str] | None) -> Any:
    """The domain's graph, instrumented once per (domain, redaction): agents call the chat model; the state
    holds the turns.

    Every node reads the transcript from the state (not from memory), so it works whether a fork
    re-executes the run or resumes it from a checkpoint.
    """
    key = (domain.name, domain.agents, redactor is None)  # agent names vary per task in some domains
    app = _APPS.get(key)
    if app is not None:
        return app
    def node_for(agent: str) -> Callable[..., dict[str, Any]]:
        def node(state: Any) -> dict[str, Any]:
            engine = _ENGINE.get()
            assert engine is not None
            engine.transcript = [Turn(**d) for d in state["turns"]]
            engine.turn = len(engine.transcript)
            engine.current_agent = agent
            msgs = engine.messages(agent)
            lc = [SystemMessage(content=msgs[0]["content"])] + [HumanMessage(content=m["content"]) for m in msgs[1:]]
            text = str(_MODEL.invoke(lc).content)
            turn = Turn(agent, text, [])
            engine.run_tools_in_current_run(turn)
            return {"messages": [AIMessage(content=text, name=agent)], "turns": [turn.to_dict()]}

        node.__name__ = agent
        return node

    def route(state: Any) -> str:
        engine = _ENGINE.get()
        if engine is None or len(state["turns"]) >= engine.domain.max_turns(engine.task):
            return END
        nxt = engine.domain.next_agent(engine.task, [Turn(**d) for d in state["turns"]])
        return nxt if nxt is not None else END

    app = routed_graph(State, domain, node_for, route)
    agentracer.instrument(app, recorder=Recorder(framework="langgraph", capture_content=False, redactor=redactor))
    _APPS[key] = app
    return app


class LangGraphDriver(GeneratedDriver):
    """Generated systems as LangGraph graphs, recorded and forked by this plugin."""

    framework = "langgraph"
    plugin_records = True

    def records(self, system: GeneratedSystem) -> bool:
        """The ``supervisor`` system is recorded by the generator (:mod:`.supervisor_gen`); the default one here."""
        return system.spec.system != "supervisor"

    def execute(self, engine: Engine) -> None:
        """One run of the ``supervisor`` system: a langgraph-supervisor team of ReAct agents (:mod:`.supervisor_gen`)."""
        from .supervisor_gen import run_supervisor

        run_outside_loop(lambda: run_supervisor(engine))

    def _final(self, system: GeneratedSystem, result: Any) -> str | None:
        turns = [Turn(**d) for d in (result or {}).get("turns", [])] if isinstance(result, dict) else []
        return system.domain.final_answer(system.spec.task, turns)

    def record(self, system: GeneratedSystem) -> tuple[Any, str | None]:
        app = generated_app(system.domain, system.redactor())
        engine = Engine(system, None, None, None, record=False)
        system.last_engine = engine
        token = _ENGINE.set(engine)
        try:
            result = app.invoke({"messages": [HumanMessage(content=system.spec.task.question)], "turns": []},
                                {"recursion_limit": system.domain.max_turns(system.spec.task) + 10})
        finally:
            _ENGINE.reset(token)
        return agentracer.recorder_of(app).last_trace(), self._final(system, result)

    def fork(self, system: GeneratedSystem, step: int, replacement: str,
             control: Control | None) -> tuple[Any, str | None]:
        app = generated_app(system.domain, system.redactor())
        engine = Engine(system, None, None, control, record=False)
        system.last_engine = engine
        token = _ENGINE.set(engine)  # LangGraph runs nodes in a copy of this context
        try:
            result, new = agentracer.fork(app, system.bound(), step, replacement)()
        finally:
            _ENGINE.reset(token)
        return new, self._final(system, result)


DRIVER = LangGraphDriver()
