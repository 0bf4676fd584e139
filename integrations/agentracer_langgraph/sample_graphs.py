"""Small multi-agent LangGraph graphs in the three shapes people build, for tests, examples and benchmarks.

- :func:`pipeline_graph`: a plain ``StateGraph`` whose nodes are agents, run in a fixed order.
- :func:`supervisor_graph`: a supervisor node that routes with ``Command(goto=...)`` to worker agents
  built with ``create_react_agent``, each of which reports back to the supervisor.
- :func:`handoff_graph`: ``create_react_agent`` agents that hand the conversation to each other through
  handoff tools (``Command(goto=..., graph=Command.PARENT)``), swarm style.

Every agent takes any LangChain chat model; tests pass :class:`~agentracer_langgraph.fakes.ScriptedChatModel`.
Nodes read an optional ``feedback`` state key (``dict[agent -> str]``) into their system prompt.
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Sequence
from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool, InjectedToolCallId, tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import InjectedState
from langgraph.types import Command
from typing_extensions import TypedDict

__all__ = ["AgentState", "handoff_graph", "handoff_tool", "pipeline_graph", "supervisor_graph"]


class AgentState(TypedDict, total=False):
    """Shared state: the conversation, per-agent feedback, and a free-form scratch log."""

    messages: Annotated[list[AnyMessage], add_messages]
    feedback: dict[str, str]
    log: Annotated[list[str], operator.add]


def _system(name: str, role: str, state: dict[str, Any]) -> SystemMessage:
    text = f"You are {name}. {role}".strip()
    fb = (state.get("feedback") or {}).get(name)
    if fb:
        text += f"\n\nFeedback for you from a previous run: {fb}"
    return SystemMessage(content=text)


def _agent_node(name: str, model: Any, role: str) -> Any:
    def node(state: dict[str, Any]) -> dict[str, Any]:
        reply = model.invoke([_system(name, role, state), *state.get("messages", [])])
        return {"messages": [reply.model_copy(update={"name": name})]}

    node.__name__ = name
    return node


def pipeline_graph(
    models: dict[str, Any],
    *,
    roles: dict[str, str] | None = None,
    checkpointer: Any = None,
    name: str = "LangGraph",
) -> Any:
    """Agents called in the order of ``models`` (``{"planner": m1, "solver": m2, ...}``), each once."""
    g = StateGraph(AgentState)
    names = list(models)
    for n in names:
        g.add_node(n, _agent_node(n, models[n], (roles or {}).get(n, "")))
    g.add_edge(START, names[0])
    for a, b in zip(names, names[1:], strict=False):
        g.add_edge(a, b)
    g.add_edge(names[-1], END)
    return g.compile(checkpointer=checkpointer, name=name)


def _react_agent(model: Any, tools: Sequence[BaseTool], name: str, prompt: str | None = None) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_react_agent is deprecated in favour of langchain.agents
        from langgraph.prebuilt import create_react_agent

        return create_react_agent(model, list(tools), name=name, prompt=prompt)


def supervisor_graph(
    supervisor: Any,
    workers: dict[str, Any],
    *,
    tools: dict[str, Sequence[BaseTool]] | None = None,
    checkpointer: Any = None,
    max_rounds: int = 8,
) -> Any:
    """A supervisor that answers with a worker's name (or ``FINISH``) and routes to it; workers report back.

    Each worker is a ``create_react_agent`` subgraph named after it, with its ``tools``.
    """
    names = list(workers)

    def supervisor_node(state: dict[str, Any]) -> Command:
        rounds = sum(1 for m in state.get("messages", []) if getattr(m, "name", None) == "supervisor")
        reply = supervisor.invoke([
            _system("supervisor", f"Pick the next worker among {', '.join(names)}, or FINISH.", state),
            *state.get("messages", []),
        ])
        choice = str(reply.content).strip().split()[0] if str(reply.content).strip() else "FINISH"
        goto = choice if choice in names and rounds < max_rounds else END
        return Command(goto=goto, update={"messages": [AIMessage(content=str(reply.content), name="supervisor")]})

    g = StateGraph(AgentState)
    g.add_node("supervisor", supervisor_node, destinations=(*names, END))
    for n in names:
        g.add_node(n, _react_agent(workers[n], (tools or {}).get(n, []), n))
        g.add_edge(n, "supervisor")
    g.add_edge(START, "supervisor")
    return g.compile(checkpointer=checkpointer)


def handoff_tool(to: str) -> BaseTool:
    """A tool that hands the conversation over to agent ``to`` of the parent graph."""

    @tool(f"transfer_to_{to}", description=f"Hand the conversation over to {to}.")
    def transfer(state: Annotated[dict, InjectedState], tool_call_id: Annotated[str, InjectedToolCallId]) -> Command:
        msg = ToolMessage(content=f"Transferred to {to}.", tool_call_id=tool_call_id, name=f"transfer_to_{to}")
        # the parent graph gets the agent's whole conversation, including the call that handed off
        return Command(goto=to, graph=Command.PARENT, update={"messages": [*state["messages"], msg]})

    return transfer


def handoff_graph(
    agents: dict[str, Any],
    *,
    tools: dict[str, Sequence[BaseTool]] | None = None,
    checkpointer: Any = None,
    first: str | None = None,
) -> Any:
    """``create_react_agent`` agents that can each hand off to every other one; ``first`` starts."""
    names = list(agents)
    g = StateGraph(AgentState)
    for n in names:
        hand = [handoff_tool(o) for o in names if o != n]
        g.add_node(n, _react_agent(agents[n], [*(tools or {}).get(n, []), *hand], n),
                   destinations=tuple(o for o in names if o != n))
    g.add_edge(START, first or names[0])
    return g.compile(checkpointer=checkpointer)
