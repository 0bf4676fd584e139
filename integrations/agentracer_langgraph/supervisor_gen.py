"""Generated supervisor teams on LangGraph: a ``langgraph-supervisor`` supervisor handing work to ReAct tool agents.

The generator's ``supervisor`` system (``annotate generate --framework langgraph --system supervisor``) on
the orchestrator-led domains (``web``, ``files``, ``multihop``). The graph is the real thing:
``langgraph_supervisor.create_supervisor`` over workers built with ``langgraph.prebuilt.create_react_agent``;
the supervisor hands work over with its ``transfer_to_<worker>`` tools and each worker hands back with
``transfer_back_to_<supervisor>`` (the package's handoff-back messages).

Every model is a scripted fake chat model (:class:`~agentracer_langgraph.fakes.ScriptedChatModel`, LangChain's
``GenericFakeChatModel`` that accepts tools) acting from the domain's scripted policy through the engine:

- the supervisor's model call is one lead turn (``engine.take_turn``); it answers with that turn's text and
  a tool call: ``write_plan`` after the plan, ``transfer_to_<next>`` for an instruction (the addressee read
  from the text by the domain, so a wrong handoff really reroutes the team), none for the final answer;
- a worker's first model call in an activation is one worker turn; its ``CALL tool(...)`` lines become the
  AIMessage's tool calls, run by the ReAct agent's ``ToolNode``. A tool answers what the domain's world
  gives for that call (nothing, a distractor page or row, an error), computed and recorded by the engine
  when the turn ran; the worker's next model call closes the activation with its reply.

The generator records these runs itself (one agent step per turn, tool calls as children) and replays them by
re-execution with the recorded prefix served, so no live call happens before a fork point.
"""

from __future__ import annotations

from typing import Annotated, Any

from agentracer.annotation.domains import Turn
from agentracer.annotation.domains.team_styles import CALL_LINE, WORKER_TOOLS
from agentracer.annotation.generate import Engine
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.tools import InjectedToolCallId, StructuredTool
from langgraph.prebuilt import create_react_agent
from langgraph_supervisor import create_supervisor
from langgraph_supervisor.handoff import create_handoff_tool
from pydantic import create_model

from .fakes import ScriptedChatModel

__all__ = ["run_supervisor", "supervisor_app"]


class _Activation:
    """What one execution's agents share: tool results by call id, and each worker's turn in progress."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.results: dict[str, str] = {}
        self.pending: dict[str, Turn] = {}
        self.served: list[str] = []  # the tools the ReAct agents' ToolNodes ran, in order

    def tool(self, name: str, arg: str, doc: str) -> StructuredTool:
        """A LangChain tool whose answer is the engine's result for this call (the domain's world)."""
        schema = create_model(f"{name}_args", **{arg: (str, ""), "tool_call_id": (Annotated[str, InjectedToolCallId], ...)})

        def call(tool_call_id: str, **kw: Any) -> str:
            self.served.append(name)
            return self.results.pop(tool_call_id, "Error: the tool returned nothing")

        return StructuredTool.from_function(call, name=name, description=doc, args_schema=schema)

    def worker_answer(self, agent: str) -> AIMessage:
        """A worker's model call: a new turn (with its tool calls), or the reply that closes the turn in progress."""
        turn = self.pending.pop(agent, None)
        if turn is not None:
            rest = CALL_LINE.sub("", turn.text).strip()
            return AIMessage(content=rest or "Done; the tool output is above.", name=agent)
        e = self.engine
        turn = e.take_turn(agent)
        if not turn.tools:
            return AIMessage(content=turn.text or "(no reply)", name=agent)
        calls = []
        for i, t in enumerate(turn.tools):
            cid = f"call_{e.turn - 1}_{i}"
            self.results[cid] = str(t["result"])
            arg = WORKER_TOOLS.get(e.domain.role_of(e.task, agent), ())
            key = next((a for n, a, _ in arg if n == t["name"]), "value")
            calls.append({"name": t["name"], "args": {key: str(t["args"][0]) if t["args"] else ""}, "id": cid})
        self.pending[agent] = turn
        return AIMessage(content=CALL_LINE.sub("", turn.text).strip(), tool_calls=calls, name=agent)

    def lead_answer(self, lead: str) -> AIMessage:
        """The supervisor's model call: one lead turn, handed to the agent its text addresses."""
        e = self.engine
        if e.next_agent() != lead:  # out of turns: stop without an answer
            return AIMessage(content="The team ran out of turns without an answer.", name=lead)
        turn = e.take_turn(lead)
        nxt = e.next_agent()
        if nxt is None:
            return AIMessage(content=turn.text, name=lead)
        if nxt == lead:
            call = {"name": "write_plan", "args": {"plan": "(see the message)"}, "id": f"plan_{e.turn - 1}"}
        else:
            call = {"name": create_handoff_tool(agent_name=nxt).name, "args": {}, "id": f"handoff_{e.turn - 1}"}
        return AIMessage(content=turn.text, tool_calls=[call], name=lead)


def write_plan(plan: str) -> str:
    """Record the team's plan (the supervisor's planning tool)."""
    return "Plan recorded."


def supervisor_app(engine: Engine) -> tuple[Any, _Activation]:
    """The compiled supervisor graph of ``engine``'s task: the supervisor and one ReAct agent per worker."""
    act = _Activation(engine)
    dom, task = engine.domain, engine.task
    lead, workers = dom.agents[0], dom.agents[1:]

    def worker_model(agent: str) -> ScriptedChatModel:
        return ScriptedChatModel(respond=lambda msgs, a=agent: act.worker_answer(a), model=f"scripted:{agent}")

    agents = []
    for w in workers:
        tools = [act.tool(n, a, d) for n, a, d in WORKER_TOOLS.get(dom.role_of(task, w), ())]
        agents.append(create_react_agent(worker_model(w), tools, name=w, prompt=dom.roles.get(w, w)))
    sup_model = ScriptedChatModel(respond=lambda msgs: act.lead_answer(lead), model=f"scripted:{lead}")
    prompt = f"{dom.roles.get(lead, '')}\n\nYour team:\n{dom.team_description(task)}"
    graph = create_supervisor(agents, model=sup_model, tools=[write_plan], prompt=prompt, supervisor_name=lead,
                              output_mode="last_message")
    return graph.compile(), act


def run_supervisor(engine: Engine) -> list[BaseMessage]:
    """One run of the supervisor team on ``engine``'s task; returns the graph's final messages."""
    app, _ = supervisor_app(engine)
    limit = 8 * engine.domain.max_turns(engine.task) + 40
    out = app.invoke({"messages": [HumanMessage(content=engine.task.question)]}, {"recursion_limit": limit})
    return list(out.get("messages", []))
