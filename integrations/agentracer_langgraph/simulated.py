"""The simulated refinement pipeline on LangGraph: reader -> calculator -> reviewer (``agentracer refine``).

The word problems, the simulated agents' behaviour (:class:`~agentracer.samples.simulated.SimPolicy`) and
the :class:`~agentracer.samples.simulated.System` shape are framework-neutral and live in core; this module
builds the graph, puts a simulated agent behind LangChain's chat-model interface
(:class:`SimulatedChatModel`, a :class:`~agentracer_langgraph.fakes.ScriptedChatModel`), or an
OpenAI-compatible endpoint (:func:`openai_chat_model`) for real LLM agents. :func:`langgraph_system` is
what the plugin offers as the ``("langgraph", "simulated")`` sample.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

from agentracer.refinement.checks import question_of
from agentracer.samples.simulated import ROLE_PROMPTS, SimPolicy, System, run_solve
from agentracer.samples.word_problems import ROLES, line_after
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph

from .fakes import ScriptedChatModel

__all__ = ["LANGGRAPH_AGENTS", "SimulatedChatModel", "build_langgraph_graph", "langgraph_system", "openai_chat_model",
           "sim_chat_model"]

#: The graph's node (agent) for each role of the pipeline.
LANGGRAPH_AGENTS = {"extract": "reader", "compute": "calculator", "finalize": "reviewer"}


class _State(TypedDict, total=False):
    problem: str
    total: str
    result: str
    answer: str


def build_langgraph_graph(model_for: Callable[[str], Any], *, isolate: bool = False) -> Any:
    """A compiled LangGraph graph reader -> calculator -> reviewer; ``model_for(role)`` gives each node's chat model."""
    models = {role: model_for(role) for role in ROLES}

    def reader(state: _State) -> dict[str, str]:
        msg = models["extract"].invoke([SystemMessage(ROLE_PROMPTS["extract"]), HumanMessage(f"Problem: {state['problem']}")])
        return {"total": str(msg.content)}

    def calculator(state: _State) -> dict[str, str]:
        msg = models["compute"].invoke([
            SystemMessage(ROLE_PROMPTS["compute"]),
            HumanMessage(f"Problem: {state['problem']}\nAnalysis: {state.get('total', '')}"),
        ])
        ok, out = run_solve(str(msg.content), isolate=isolate)
        return {"result": f"{msg.content}\nRESULT: {out if ok else 'error: ' + out}"}

    def reviewer(state: _State) -> dict[str, str]:
        result = line_after(state.get("result", ""), "RESULT:")
        msg = models["finalize"].invoke([
            SystemMessage(ROLE_PROMPTS["finalize"]),
            HumanMessage(f"Problem: {state['problem']}\nComputed result: {result}"),
        ])
        return {"answer": str(msg.content)}

    g = StateGraph(_State)
    g.add_node("reader", reader)
    g.add_node("calculator", calculator)
    g.add_node("reviewer", reviewer)
    g.add_edge(START, "reader")
    g.add_edge("reader", "calculator")
    g.add_edge("calculator", "reviewer")
    g.add_edge("reviewer", END)
    return g.compile()


class SimulatedChatModel(ScriptedChatModel):
    """A simulated agent behind LangChain's chat-model interface (not an LLM): a scripted model that answers
    through ``respond(messages)``."""

    model: str = "SimulatedChatModel"

    @property
    def _llm_type(self) -> str:
        return "simulated-agent"


def sim_chat_model(policy: SimPolicy, role: str, log: list[tuple[str, str]] | None = None) -> SimulatedChatModel:
    """A chat model whose replies come from :class:`SimPolicy` for ``role``; each prompt goes to ``log``."""

    def respond(messages: list[BaseMessage]) -> str:
        text = "\n".join(str(m.content) for m in messages)
        if log is not None:
            log.append((role, text))
        return policy.respond(role, text)

    return SimulatedChatModel(respond=respond)


_OPENAI_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}


def openai_chat_model(base_url: str, model: str, api_key: str | None = None, temperature: float = 0.0,
                      max_tokens: int | None = None) -> BaseChatModel:
    """A LangChain chat model for an OpenAI-compatible endpoint: ``ChatOpenAI`` when ``langchain-openai`` is
    installed, else a scripted model answering through :func:`agentracer.refinement.openai_chat` (no tools,
    no streaming). ``max_tokens`` bounds each reply (None: the server's default)."""
    try:
        from langchain_openai import ChatOpenAI  # type: ignore[import-not-found]

        # langchain-openai sends the bound as max_completion_tokens, which llama.cpp's server ignores: send
        # max_tokens as well (extra_body), so that a local server stops too
        extra = {"extra_body": {"max_tokens": max_tokens}} if max_tokens else {}
        return ChatOpenAI(base_url=base_url, model=model, api_key=api_key or "none", temperature=temperature,
                          max_tokens=max_tokens, **extra)
    except ImportError:
        pass
    from agentracer.refinement.llm import openai_chat

    def respond(messages: list[BaseMessage]) -> str:
        payload = [{"role": _OPENAI_ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]
        return openai_chat(base_url, model, payload, api_key=api_key, temperature=temperature,
                           max_tokens=max_tokens or 512)

    return ScriptedChatModel(respond=respond, model=model)


def langgraph_system(model_factory: Callable[[str], Any] | None = None, *, policy: SimPolicy | None = None,
                     isolate: bool = False, endpoint: dict[str, Any] | None = None) -> System:
    """The LangGraph pipeline; simulated agents unless ``model_factory(role)`` gives chat models or
    ``endpoint`` (``base_url``, ``model``, ``api_key``) an OpenAI-compatible endpoint for every agent."""
    prompts: list[tuple[str | None, str]] = []
    pol = policy or SimPolicy()
    if model_factory is None and endpoint is not None:
        def model_factory(role: str) -> Any:
            return openai_chat_model(**endpoint)

    def build() -> Any:
        factory = model_factory or (lambda role: sim_chat_model(pol, role, prompts))
        return build_langgraph_graph(factory, isolate=isolate)

    def run(system: Any, task: Any) -> str:
        out = system.invoke({"problem": question_of(task)})
        return str(out.get("answer", ""))

    return System("langgraph", build, run, dict(LANGGRAPH_AGENTS), prompts)
