"""Generators: small multi-agent systems on each framework, solving checkable tasks, recorded and labelled.

A :class:`GeneratedSystem` is one task of a :mod:`~agentracer.annotation.domains` domain run by that
domain's agents on a framework:

- ``langgraph`` — a ``StateGraph`` with one node per agent and conditional edges that read who was handed
  the work; the agents call a LangChain chat model. Recorded and forked by the LangGraph plugin.
- ``autogen`` — a ``SelectorGroupChat`` of ``BaseChatAgent`` participants (a ``selector_func`` routes);
  each agent calls its own model client. Recorded and forked by the AutoGen plugin.
- ``maas`` — a MaAS-shaped operator workflow (each agent an ``Operator`` holding an ``llm.aask``).
  Recorded and forked by the MaAS plugin.
- ``camel`` — CAMEL ``ChatAgent`` s over a scripted model backend, driven round by round as OWL's
  ``run_society`` does. The CAMEL plugin forks RolePlaying and Workforce societies, not this loop, so
  the generator records it itself on CAMEL's runtime and replays by re-execution.
- ``python`` — a plain loop, recorded by the generator (fast tests; the fallback for a missing plugin).

The agents' "LLM" is either scripted (:class:`ScriptedPolicy`: the correct action, corrupted with a fault
from :mod:`~agentracer.annotation.inject` at seeded turns) or a real model behind an OpenAI-compatible
endpoint (``base_url``).

A generated system is a :class:`~agentracer.annotation.replay.Replayable`: ``run_with``/``run_from`` go
through the plugin's ``agentracer_fork`` hook (langgraph, autogen, maas) or re-run the task with a
:class:`~agentracer.recording.ReplayLLM` (camel, python); either way the recorded prefix is served from the
recording, so no live call happens before the fork point. Its trace carries the spec
(``metadata["agentracer.generated"]``), so :meth:`GeneratedSystem.from_trace` rebuilds the system from a
trace file — what ``agentracer annotate replay`` and ``agentracer attribute --verify`` use.

:func:`annotate_item` is one unit of the dataset pipeline: record a run, label it by replay when it
failed, by injection when it succeeded.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..recording import Recorder, ReplayLLM
from ..trace import AnnotatedTrace, Trace, TraceError
from .domains import Domain, Task, Turn, get_domain, parse_tool_calls
from .inject import FAULTS, InjectionError, MutationContext, inject, mutate
from .oracle import ScriptedOracle
from .replay import ReplayOutcome, count_live_calls_before, find_decisive

__all__ = [
    "FRAMEWORKS",
    "Control",
    "DomainOracle",
    "GeneratedSystem",
    "ScriptedPolicy",
    "SystemSpec",
    "annotate_item",
    "available_frameworks",
]

FRAMEWORKS = ("langgraph", "autogen", "camel", "maas", "python")
PLUGIN_FRAMEWORKS = ("langgraph", "autogen", "maas")  # recorded and forked by their agentracer plugin
META_KEY = "agentracer.generated"


# ============================================================================================ spec
@dataclass
class SystemSpec:
    """Everything needed to rebuild a generated system: framework, domain, task, seed and the fault plan.

    ``fault_rate`` is the per-turn probability that a scripted agent commits one of its faults (drawn
    from a generator seeded by ``(seed, agent, the agent's turn count)``, so a replay redoes the same
    slips); ``fault_plan`` (turn -> fault type) fixes the faults instead. ``base_url``/``model`` switch
    the agents to a real LLM.
    """

    framework: str
    domain: str
    task: Task
    seed: int = 0
    fault_rate: float = 0.0
    fault_plan: dict[int, str] | None = None
    base_url: str | None = None
    model: str | None = None
    temperature: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "framework": self.framework, "domain": self.domain, "task": self.task.to_dict(), "seed": self.seed,
            "fault_rate": self.fault_rate,
            "fault_plan": {str(k): v for k, v in self.fault_plan.items()} if self.fault_plan is not None else None,
            "base_url": self.base_url, "model": self.model, "temperature": self.temperature,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SystemSpec:
        plan = d.get("fault_plan")
        return cls(
            framework=d["framework"], domain=d["domain"], task=Task.from_dict(d["task"]), seed=int(d.get("seed", 0)),
            fault_rate=float(d.get("fault_rate") or 0.0),
            fault_plan={int(k): v for k, v in plan.items()} if plan is not None else None,
            base_url=d.get("base_url"), model=d.get("model"), temperature=float(d.get("temperature") or 0.0),
        )


@dataclass
class Control:
    """How one execution deviates from a plain run: a replaced turn, and/or the oracle from a turn on."""

    replace_turn: int | None = None
    replacement: str | None = None
    oracle_from: int | None = None
    oracle: Any = None


# ========================================================================================== policies
class ScriptedPolicy:
    """The scripted agents' LLM: the domain's correct action, with a fault injected at seeded turns."""

    def __init__(self, domain: Domain, spec: SystemSpec) -> None:
        self.domain = domain
        self.spec = spec
        self.faults: dict[int, str] = {}  # turn -> fault committed (bookkeeping for tests; not in the trace)

    def fault_at(self, turn: int, agent: str, nth: int = 0) -> list[str]:
        """The faults to try at ``turn`` (``agent``'s ``nth`` turn), most likely first; [] for a clean turn.

        Stochastic faults are drawn per (seed, agent, nth), so an agent's k-th action is faulty or not
        whatever the interleaving of the other agents — a replay that reroutes the run does not redraw them.
        """
        if self.spec.fault_plan is not None:
            f = self.spec.fault_plan.get(turn)
            return [f] if f else []
        kinds = self.domain.faults.get(agent) or ()
        r = random.Random(f"{self.spec.seed}:{agent}:{nth}")
        if not kinds or r.random() >= self.spec.fault_rate:
            return []
        first = r.choice(kinds)
        return [first, *[k for k in kinds if k != first]]

    def respond(self, agent: str, task: Task, transcript: list[Turn], turn: int, messages: list[dict[str, str]]) -> str:
        correct = self.domain.act(agent, task, transcript)
        nth = sum(1 for t in transcript if t.agent == agent)
        for fault in self.fault_at(turn, agent, nth):
            ctx = MutationContext(list(self.domain.agents), agent, self.domain.vocabulary(task))
            try:
                out = mutate(fault, correct, rng=random.Random(f"{self.spec.seed}:{turn}:{fault}"), ctx=ctx)
            except InjectionError:
                continue
            self.faults[turn] = fault
            return out
        return correct


class LLMPolicy:
    """Real LLM agents behind an OpenAI-compatible endpoint (``/v1/chat/completions``)."""

    def __init__(self, spec: SystemSpec) -> None:
        from ..attribution.backends.openai_http import OpenAIGenerator

        self.gen = OpenAIGenerator(spec.model or "default", spec.base_url or "", timeout=60.0, retries=1)
        self.spec = spec
        self.faults: dict[int, str] = {}

    def respond(self, agent: str, task: Task, transcript: list[Turn], turn: int, messages: list[dict[str, str]]) -> str:
        text = self.gen.complete(messages, temperature=self.spec.temperature, max_new_tokens=512, seed=self.spec.seed + turn)
        if "</think>" in text:
            text = text.split("</think>", 1)[1]
        return text.strip()


class DomainOracle(ScriptedOracle):
    """The scripted oracle of a generated task: a correct agent acting on the same inputs.

    Rebuilds the transcript before ``step`` from a trace of the task (agent steps and their tool calls)
    and answers what the domain's correct agent says there.
    """

    def __init__(self, domain: Domain, task: Task) -> None:
        self.domain = domain
        self.task = task
        super().__init__(self._solve, name=f"scripted-oracle:{domain.name}")

    def act_turn(self, agent: str, transcript: list[Turn]) -> str:
        return self.domain.act(agent, self.task, transcript)

    def _solve(self, trace: Trace, step: int, ground_truth: str | None) -> str:
        return self.act_turn(trace.steps[step].agent, transcript_of(trace, step))


def transcript_of(trace: Trace, upto: int | None = None) -> list[Turn]:
    """The agents' transcript of a generated trace: its agent steps (before ``upto``) and their tool calls."""
    out: list[Turn] = []
    by_parent: dict[int, list[Any]] = {}
    for s in trace.steps:
        if s.parent is not None and s.kind == "tool_call":
            by_parent.setdefault(s.parent, []).append(s)
    for s in trace.agent_steps():
        if upto is not None and s.index >= upto:
            break
        tools = [{"name": c.tool_name, "args": list(c.tool_args or []), "result": c.tool_result if c.tool_result is not None else c.content}
                 for c in by_parent.get(s.index, [])]
        out.append(Turn(s.agent, s.content, tools))
    return out


# ============================================================================================ engine
class Engine:
    """One execution of a generated system: the transcript, the turn counter, the LLM layer and tools.

    ``record=True``: the engine records agent steps, LLM calls (serving ``replay``) and tool calls itself.
    ``record=False``: a framework plugin records steps and LLM calls (the engine only asks the policy or
    the oracle for live turns) and tool calls go to the plugin's current run.
    """

    def __init__(self, system: GeneratedSystem, recorder: Recorder | None, run: Any, control: Control | None,
                 *, record: bool = True) -> None:
        self.system = system
        self.domain = system.domain
        self.task = system.spec.task
        self.policy = system.policy
        self.recorder = recorder
        self.run = run
        self.control = control or Control()
        self.record = record
        self.transcript: list[Turn] = []
        self.turn = 0
        self.current_agent: str | None = None
        self.last_tools: tuple[str, list[dict[str, Any]]] | None = None
        self._handle: Any = None
        self.lock = threading.Lock()

    # -- orchestration
    def next_agent(self) -> str | None:
        if self.turn >= self.domain.max_turns(self.task):
            return None
        return self.domain.next_agent(self.task, self.transcript)

    def messages(self, agent: str) -> list[dict[str, str]]:
        """The prompt an agent sees: its role, the task, the plan, and the recent turns."""
        sys = f"You are {agent}, one agent of a team ({', '.join(self.domain.agents)}). {self.domain.roles.get(agent, '')}"
        msgs = [{"role": "system", "content": sys}, {"role": "user", "content": f"Task: {self.task.question}"}]
        window = self.transcript[-6:]
        if self.transcript and self.transcript[0] not in window:
            msgs.append({"role": "user", "content": self.transcript[0].render()})
        msgs.extend({"role": "user", "content": t.render()} for t in window)
        msgs.append({"role": "user", "content": f"Now it is your turn, {agent}."})
        return msgs

    # -- the LLM layer
    def live(self, agent: str) -> tuple[str, str]:
        """A live (not replayed) answer for the current turn: the oracle's or the policy's, and which."""
        c = self.control
        if c.oracle_from is not None and self.turn >= c.oracle_from:
            o = c.oracle
            if isinstance(o, DomainOracle):
                return o.act_turn(agent, self.transcript), "oracle"
            run, handle = self.run, self._handle
            if run is None:  # recorded by a plugin: its run and step are the current ones
                from ..recording import current_run, current_step

                run, handle = current_run(), current_step()
            tr = run.trace if run is not None and hasattr(run, "trace") else None
            idx = handle.index if handle is not None and getattr(handle, "index", None) is not None else None
            if tr is None or idx is None:
                raise RuntimeError("a generic oracle needs the recorded run in progress")
            return o.act(tr, idx), "oracle"
        return self.policy.respond(agent, self.task, self.transcript, self.turn, self.messages(agent)), "policy"

    def llm(self, agent: str) -> str:
        """The agent's answer this turn (self-recording mode): replacement, recorded prefix, or live."""
        c = self.control
        msgs = self.messages(agent)
        if c.replace_turn is not None and self.turn == c.replace_turn:
            # the fork point: the step's output is the replacement, recorded as what its model said
            if self._handle is not None:
                self._handle.set(metadata={"replaced": True})
            h = self.recorder.begin_llm(self.system.model_name, messages=msgs, agent=agent, parent=self._handle)
            h.set(metadata={"turn": self.turn})
            text = c.replacement or ""
            h.end(text, response={"text": text})
            return text
        h = self.recorder.begin_llm(self.system.model_name, messages=msgs, agent=agent, parent=self._handle)
        h.set(metadata={"turn": self.turn})
        if h.replayed is not None:
            text = h.replayed.get("text") or ""
            h.end(text, response=h.replayed.get("response"))
            return text
        text, origin = self.live(agent)
        h.end(text, response={"text": text, "origin": origin})
        return text

    # -- a turn
    def take_turn(self, agent: str, invoke: Callable[[], str] | None = None) -> Turn:
        """Run one agent turn: open the step, get the text (``invoke`` or :meth:`llm`), run its tool calls."""
        self.current_agent = agent
        if self.record:
            last = self.transcript[-1].text if self.transcript else self.task.question
            self._handle = self.recorder.begin_step(agent, input=last, run=self.run, metadata={"turn": self.turn})
        text = invoke() if invoke is not None else self.llm(agent)
        turn = Turn(agent, text, [])
        self.run_tools(turn)
        if self.record:
            self._handle.end(text)
            self._handle = None
        self.transcript.append(turn)
        self.turn += 1
        return turn

    def sync_replacement(self) -> None:
        """Mirror a fork's replacement of turn k when the framework patched it into its own state (AutoGen)."""
        c = self.control
        k = c.replace_turn
        if k is None or k >= len(self.transcript) or self.transcript[k].text == (c.replacement or ""):
            return
        turn = Turn(self.transcript[k].agent, c.replacement or "", [])
        self.run_tools(turn, recorder=None)
        self.transcript[k] = turn

    def run_tools(self, turn: Turn, recorder: Recorder | None = None, parent: Any = None) -> None:
        calls = parse_tool_calls(turn.text)
        if not calls:
            return
        tools = self.domain.tools(self.task)
        rec = recorder if recorder is not None else (self.recorder if self.record else None)
        for name, args in calls:
            try:
                if hasattr(self.domain, "run_tool"):
                    result = self.domain.run_tool(self.task, self.transcript, name, args, self.system.sandbox)
                elif name in tools:
                    result = tools[name](*args)
                else:
                    result = f"unknown tool {name}"
            except Exception as e:  # a bad call is the agent's problem, not the run's
                result = f"error: {type(e).__name__}: {e}"
            if rec is not None:
                h = rec.begin_tool(name, args=list(args), agent=turn.agent, parent=parent if parent is not None else self._handle)
                h.end(result)
            turn.tools.append({"name": name, "args": list(args), "result": result})


# ======================================================================================= frameworks
def _run_python(engine: Engine) -> None:
    while (agent := engine.next_agent()) is not None:
        engine.take_turn(agent)


_ENGINE: contextvars.ContextVar[Engine | None] = contextvars.ContextVar("agentracer_gen_engine", default=None)
_LG_CACHE: dict[str, Any] = {}


def _routed_graph(state: Any, domain: Domain, node_for: Callable[[str], Any], route: Callable[[Any], str]) -> Any:
    """A compiled ``StateGraph``: one node per agent of ``domain``, ``route`` picking the next one (or END)
    from START and after every node."""
    from langgraph.graph import END, START, StateGraph

    g = StateGraph(state)
    for a in domain.agents:
        g.add_node(a, node_for(a))
    targets = {a: a for a in domain.agents} | {END: END}
    g.add_conditional_edges(START, route, targets)
    for a in domain.agents:
        g.add_conditional_edges(a, route, targets)
    return g.compile()


def _langgraph_app(domain: Domain) -> Any:
    app = _LG_CACHE.get(domain.name)
    if app is not None:
        return app
    import operator
    from typing import Annotated, TypedDict

    from langchain_core.messages import AIMessage
    from langgraph.graph import END
    from langgraph.graph.message import add_messages

    # functional syntax: this module's postponed annotations would hide the reducers from LangGraph
    State = TypedDict("State", {"messages": Annotated[list, add_messages], "turns": Annotated[list, operator.add]})  # noqa: UP013

    def node_for(agent: str) -> Callable[..., dict[str, Any]]:
        def node(state: Any) -> dict[str, Any]:
            engine = _ENGINE.get()
            assert engine is not None
            t = engine.take_turn(agent)
            return {"messages": [AIMessage(content=t.text, name=agent)], "turns": [t.to_dict()]}

        node.__name__ = agent
        return node

    def route(state: Any) -> str:
        engine = _ENGINE.get()
        nxt = engine.next_agent() if engine is not None else None
        return nxt if nxt is not None else END

    app = _routed_graph(State, domain, node_for, route)
    _LG_CACHE[domain.name] = app
    return app


_LG_PLUGIN_CACHE: dict[tuple[str, bool], Any] = {}


def _policy_chat_model() -> Any:
    """A LangChain chat model whose answer is the current engine's live answer (policy or oracle).

    The LangGraph plugin records its calls and serves recorded ones (the replay prefix, the fork's
    replacement) without calling it, so it is only asked for live turns.
    """
    model = _LG_PLUGIN_CACHE.get(("model", False))
    if model is not None:
        return model
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    class PolicyChatModel(BaseChatModel):
        model: str = "scripted"

        def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
            engine = _ENGINE.get()
            if engine is None:
                raise RuntimeError("PolicyChatModel called outside a generated run")
            text, _ = engine.live(engine.current_agent or "agent")
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

        @property
        def _llm_type(self) -> str:
            return "agentracer-generated-policy"

    model = PolicyChatModel()
    _LG_PLUGIN_CACHE[("model", False)] = model
    return model


def _langgraph_plugin_app(domain: Domain, redact: bool) -> Any:
    """The domain's graph for plugin recording: agents call a chat model; the state holds the turns.

    Every node reads the transcript from the state (not from memory), so it works whether a fork
    re-executes the run or resumes it from a checkpoint. Instrumented once by the LangGraph plugin.
    """
    key = (domain.name, redact)
    app = _LG_PLUGIN_CACHE.get(key)
    if app is not None:
        return app
    import operator
    from typing import Annotated, TypedDict

    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
    from langgraph.graph import END
    from langgraph.graph.message import add_messages

    import agentracer

    from ..recording import current_run, current_step

    State = TypedDict("State", {"messages": Annotated[list, add_messages], "turns": Annotated[list, operator.add]})  # noqa: UP013
    model = _policy_chat_model()

    def node_for(agent: str) -> Callable[..., dict[str, Any]]:
        def node(state: Any) -> dict[str, Any]:
            engine = _ENGINE.get()
            assert engine is not None
            engine.transcript = [Turn(**d) for d in state["turns"]]
            engine.turn = len(engine.transcript)
            engine.current_agent = agent
            msgs = engine.messages(agent)
            lc = [SystemMessage(content=msgs[0]["content"])] + [HumanMessage(content=m["content"]) for m in msgs[1:]]
            text = str(model.invoke(lc).content)
            turn = Turn(agent, text, [])
            run = current_run()
            engine.run_tools(turn, recorder=run.recorder if run is not None else None, parent=current_step())
            return {"messages": [AIMessage(content=text, name=agent)], "turns": [turn.to_dict()]}

        node.__name__ = agent
        return node

    def route(state: Any) -> str:
        engine = _ENGINE.get()
        if engine is None or len(state["turns"]) >= engine.domain.max_turns(engine.task):
            return END
        nxt = engine.domain.next_agent(engine.task, [Turn(**d) for d in state["turns"]])
        return nxt if nxt is not None else END

    app = _routed_graph(State, domain, node_for, route)
    agentracer.instrument(app, recorder=Recorder(framework="langgraph", capture_content=False,
                                                 redactor=None if redact else _no_redaction))
    _LG_PLUGIN_CACHE[key] = app
    return app


def _run_langgraph(engine: Engine) -> None:
    from langchain_core.messages import HumanMessage

    app = _langgraph_app(engine.domain)
    limit = engine.domain.max_turns(engine.task) + 10
    token = _ENGINE.set(engine)  # LangGraph runs nodes in a copy of this context
    try:
        app.invoke({"messages": [HumanMessage(content=engine.task.question)], "turns": []}, {"recursion_limit": limit})
    finally:
        _ENGINE.reset(token)


def _autogen_team(engine: Engine, *, plugin: bool) -> Any:
    """A fresh ``SelectorGroupChat`` of the domain's agents, bound to ``engine`` (a factory for forks).

    ``plugin``: the agents ask their own ``_model_client`` (the AutoGen plugin wraps it: records the call,
    serves recorded ones) and their tool calls go to the plugin's current run; otherwise each turn is
    recorded by the engine itself.
    """
    from autogen_agentchat.agents import BaseChatAgent
    from autogen_agentchat.base import Response
    from autogen_agentchat.conditions import FunctionalTermination, MaxMessageTermination
    from autogen_agentchat.messages import TextMessage
    from autogen_agentchat.teams import SelectorGroupChat
    from autogen_core.models import CreateResult, ModelInfo, RequestUsage, SystemMessage, UserMessage
    from autogen_ext.models.replay import ReplayChatCompletionClient

    info = ModelInfo(vision=False, function_calling=False, json_output=False, family="unknown", structured_output=False)

    class PolicyClient(ReplayChatCompletionClient):
        """A model client whose completion is the engine's live answer for its agent."""

        def __init__(self, agent: str) -> None:
            super().__init__(["-"], model_info=info)
            self.agent = agent

        async def create(self, messages: Any, **kwargs: Any) -> Any:
            text, _ = engine.live(self.agent)
            n = max(1, len(text.split()))
            return CreateResult(finish_reason="stop", content=text, usage=RequestUsage(prompt_tokens=1, completion_tokens=n),
                                cached=False)

    class ScriptedAgent(BaseChatAgent):
        """A participant whose turn is one engine turn (its text comes from the agent's model)."""

        def __init__(self, name: str, description: str) -> None:
            super().__init__(name, description)
            self._model_client = PolicyClient(name)

        @property
        def produced_message_types(self) -> tuple[type, ...]:
            return (TextMessage,)

        async def on_messages(self, messages: Any, cancellation_token: Any) -> Any:
            if not plugin:
                t = engine.take_turn(self.name)
                return Response(chat_message=TextMessage(content=t.text or "(empty)", source=self.name))
            from ..recording import current_run, current_step

            engine.sync_replacement()  # a fork patched step k in AutoGen's state: mirror it
            engine.current_agent = self.name
            msgs = engine.messages(self.name)
            res = await self._model_client.create(
                [SystemMessage(content=msgs[0]["content"])] + [UserMessage(content=m["content"], source="user") for m in msgs[1:]])
            turn = Turn(self.name, str(res.content), [])
            run = current_run()
            engine.run_tools(turn, recorder=run.recorder if run is not None else None, parent=current_step())
            engine.transcript.append(turn)
            engine.turn += 1
            return Response(chat_message=TextMessage(content=turn.text or "(empty)", source=self.name))

        async def on_reset(self, cancellation_token: Any) -> None:
            return None

    def selector(msgs: Any) -> str | None:
        engine.sync_replacement()
        return engine.next_agent()

    def done(msgs: Any) -> bool:
        engine.sync_replacement()
        return engine.next_agent() is None

    agents = [ScriptedAgent(a, engine.domain.roles.get(a, a)) for a in engine.domain.agents]
    stop = FunctionalTermination(done) | MaxMessageTermination(engine.domain.max_turns(engine.task) + 2)
    return SelectorGroupChat(agents, model_client=ReplayChatCompletionClient([engine.domain.agents[0]]),
                             selector_func=selector, termination_condition=stop, allow_repeated_speaker=True)


def _run_autogen(engine: Engine) -> None:
    asyncio.run(_autogen_team(engine, plugin=False).run(task=engine.task.question))


def _run_camel(engine: Engine) -> None:
    import time as _time

    from camel.agents import ChatAgent
    from camel.messages import BaseMessage
    from camel.models import StubModel
    from camel.types import ModelType
    from openai.types.chat import ChatCompletion, ChatCompletionMessage
    from openai.types.chat.chat_completion import Choice
    from openai.types.completion_usage import CompletionUsage

    class ScriptedModel(StubModel):
        """A CAMEL model backend whose completion is the current agent's LLM answer."""

        def _run(self, messages: Any, response_format: Any = None, tools: Any = None) -> Any:
            text = engine.llm(engine.current_agent or "agent")
            return ChatCompletion(
                id="scripted", model="scripted", object="chat.completion", created=int(_time.time()),
                choices=[Choice(finish_reason="stop", index=0, logprobs=None,
                                message=ChatCompletionMessage(content=text, role="assistant"))],
                usage=CompletionUsage(completion_tokens=len(text.split()), prompt_tokens=1, total_tokens=1 + len(text.split())),
            )

        async def _arun(self, messages: Any, response_format: Any = None, tools: Any = None) -> Any:
            return self._run(messages, response_format, tools)

    agents = {}
    for a in engine.domain.agents:
        agents[a] = ChatAgent(system_message=engine.domain.roles.get(a, a), model=ScriptedModel(ModelType.STUB),
                              step_timeout=None)
    msg = BaseMessage.make_user_message(role_name="User", content=engine.task.question)
    while (agent := engine.next_agent()) is not None:
        def invoke(agent: str = agent, msg: Any = msg) -> str:
            resp = agents[agent].step(msg)
            return resp.msgs[0].content if resp.msgs else ""

        t = engine.take_turn(agent, invoke=invoke)
        msg = BaseMessage.make_user_message(role_name=agent, content=t.render())


_RUNNERS: dict[str, Callable[[Engine], None]] = {
    "python": _run_python, "langgraph": _run_langgraph, "autogen": _run_autogen, "camel": _run_camel,
}


# ----------------------------------------------------------------------------------------------- maas
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
        from ..recording import current_run, current_step

        run = current_run()
        # the tool calls are children of this operator's step, recorded on the plugin's run
        engine.run_tools(turn, recorder=run.recorder if run is not None else None, parent=current_step())
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


# ========================================================================================== systems
def _no_redaction(text: str) -> str:
    return text


def available_frameworks() -> dict[str, bool]:
    """Which frameworks can run here (their package imports), plus ``python`` (always)."""
    import importlib.util

    mods = {"langgraph": "langgraph", "autogen": "autogen_agentchat", "camel": "camel", "maas": None, "python": None}
    out = {}
    for fw, mod in mods.items():
        out[fw] = True if mod is None else importlib.util.find_spec(mod) is not None
    return out


class GeneratedSystem:
    """A generated multi-agent system bound to one task; records runs and replays them (see module doc)."""

    def __init__(self, spec: SystemSpec, *, trace: Trace | None = None, tracer_provider: Any = None) -> None:
        if spec.framework not in FRAMEWORKS:
            raise ValueError(f"unknown framework {spec.framework!r}; expected one of {', '.join(FRAMEWORKS)}")
        self.spec = spec
        self.domain = get_domain(spec.domain)
        self.policy: Any = LLMPolicy(spec) if spec.base_url else ScriptedPolicy(self.domain, spec)
        self.trace = trace
        self.tracer_provider = tracer_provider
        self.model_name = spec.model or ("scripted" if not spec.base_url else "default")
        self.sandbox = bool(spec.base_url)  # model-written code runs in a separate process
        self._workflow: _GeneratedWorkflow | None = None
        self.executions = 0

    # -- construction
    @classmethod
    def create(
        cls,
        framework: str,
        domain: str,
        seed: int = 0,
        *,
        size: int | None = None,
        faults_per_run: float = 0.8,
        fault_plan: dict[int, str] | None = None,
        base_url: str | None = None,
        model: str | None = None,
        temperature: float = 0.0,
        tracer_provider: Any = None,
    ) -> GeneratedSystem:
        """A new system: a task drawn with ``seed`` (``size`` agent steps, else a domain default).

        ``faults_per_run``: expected number of scripted faults per run (the per-turn rate is this over the
        run length); ``fault_plan`` fixes them instead (turn -> fault type; ``{}`` = a fault-free run).
        """
        dom = get_domain(domain)
        rng = random.Random(f"task:{domain}:{seed}")
        task = dom.make_task(rng, size if size is not None else dom.size_for(rng))
        rate = min(1.0, faults_per_run / max(dom.expected_steps(task), 1))
        spec = SystemSpec(framework, domain, task, seed, rate, fault_plan, base_url, model, temperature)
        return cls(spec, tracer_provider=tracer_provider)

    @classmethod
    def from_trace(cls, trace: Trace, **kwargs: Any) -> GeneratedSystem:
        """Rebuild the system that recorded ``trace`` (bound to it); :class:`TraceError` if it was not generated."""
        d = trace.metadata.get(META_KEY)
        if not isinstance(d, dict):
            raise TraceError(
                "not a generated trace: it carries no system spec, so its system cannot be rebuilt for replay",
                field=f"metadata.{META_KEY}",
            )
        try:
            spec = SystemSpec.from_dict(d)
        except (KeyError, TypeError, ValueError) as e:
            raise TraceError(f"bad system spec: {e}", field=f"metadata.{META_KEY}") from None
        return cls(spec, trace=trace, **kwargs)

    @property
    def uses_plugin(self) -> bool:
        """Whether the framework's plugin records and forks this system (langgraph, maas), not the generator.

        A framework whose plugin is not installed falls back to the generator's own recording on the
        framework's runtime (and autogen/camel always do: see the module docstring).
        """
        fw = self.spec.framework
        if fw not in PLUGIN_FRAMEWORKS:
            return False
        from ..hooks import get_plugin_manager

        return get_plugin_manager().get_plugin(fw) is not None

    def oracle(self) -> DomainOracle:
        """The scripted oracle of this task (a correct agent on the same inputs)."""
        return DomainOracle(self.domain, self.spec.task)

    # -- execution
    def _sync_tool_steps(self, trace: Trace) -> None:
        """Make each agent step's tool-call children agree with the tools its final text really ran.

        A plugin fork that patches step k's output after it ran (AutoGen) keeps the tool calls of the
        recorded text; the engine re-ran them for the replacement, and the trace should show those.
        """
        engine = getattr(self, "last_engine", None)
        if engine is None or not engine.transcript:
            return
        kids: dict[int, list[Any]] = {}
        for s in trace.steps:
            if s.parent is not None and s.kind == "tool_call":
                kids.setdefault(s.parent, []).append(s)
        for pos, s in enumerate(trace.agent_steps()):
            if pos >= len(engine.transcript) or s.index not in kids:
                continue
            for child, call in zip(kids[s.index], engine.transcript[pos].tools, strict=False):
                if child.tool_args != call["args"] or child.tool_result != call["result"]:
                    child.tool_name, child.tool_args = call["name"], list(call["args"])
                    child.tool_result = child.content = str(call["result"])
                    child.metadata["resynced"] = True

    def _fill_overridden_step(self, trace: Trace, turn: int) -> None:
        """Give an operator step that a fork overrode (its operator never ran) the children a real run has:
        the LLM call that "said" its output and the tool calls that output made (MaaS forks)."""
        from ..trace import Step

        agents = trace.agent_steps()
        if turn >= len(agents) or turn >= len(self.last_engine.transcript):
            return
        k = agents[turn].index
        if any(s.parent == k for s in trace.steps):
            return
        t = self.last_engine.transcript[turn]
        kids = [Step(index=0, agent=t.agent, content=t.text, kind="llm_call", parent=k,
                     metadata={"model": self.model_name}, replay={"response": {"text": t.text}})]
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

    def _finish(self, trace: Trace, final: str | None) -> Trace:
        ok = self.domain.check(self.spec.task, final, sandbox=self.sandbox) if self.spec.domain == "code" \
            else self.domain.check(self.spec.task, final)
        trace.outcome = "success" if ok else "failure"
        trace.final_answer = final if final is None or len(final) < 4000 else final[:4000]
        trace.ground_truth = self.spec.task.answer
        trace.agents = [a for a in self.domain.agents if any(s.agent == a for s in trace.steps)] or list(self.domain.agents)
        if self.uses_plugin:
            self._sync_tool_steps(trace)
        trace.metadata[META_KEY] = self.spec.to_dict()
        trace.metadata["domain"] = self.spec.domain
        trace.metadata["task_id"] = self.spec.task.task_id
        trace.framework = self.spec.framework
        return trace

    def execute(self, control: Control | None = None, replay: ReplayLLM | None = None) -> Trace:
        """One run of the system (self-recording frameworks): plain, or per ``control`` with ``replay``."""
        self.executions += 1
        if self.uses_plugin:
            raise RuntimeError(f"{self.spec.framework} runs are recorded by its plugin: use record()/run_with()/run_from()")
        rec = Recorder(framework=self.spec.framework, replay=replay, tracer_provider=self.tracer_provider,
                       capture_content=False, redactor=self._redactor())
        run = rec.start_run(self.spec.task.question, framework=self.spec.framework, agents=list(self.domain.agents),
                            ground_truth=self.spec.task.answer)
        engine = Engine(self, rec, run, control)
        self.last_engine = engine
        try:
            _RUNNERS[self.spec.framework](engine)
        except Exception as e:
            rec.end_run(run, error=e)
            raise
        final = self.domain.final_answer(self.spec.task, engine.transcript)
        trace = rec.end_run(run, final_answer=final)
        if trace is None:
            raise RuntimeError("the recorder lost the run")
        return self._finish(trace, final)

    def _redactor(self) -> Callable[[str], str] | None:
        """Scripted agents write synthetic text with no secrets: skip redaction (the default otherwise)."""
        return None if self.spec.base_url else _no_redaction

    def workflow(self) -> _GeneratedWorkflow:
        """The MaAS-shaped workflow of this system, instrumented by the maas plugin (created once)."""
        if self._workflow is None:
            import agentracer

            wf = _GeneratedWorkflow(self)
            agentracer.instrument(wf, recorder=Recorder(framework="maas", tracer_provider=self.tracer_provider,
                                                        capture_content=False, redactor=self._redactor()))
            self._workflow = wf
        return self._workflow

    def _run_workflow(self, runnable: Callable[[], Any]) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return runnable()
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["out"] = runnable()
            except BaseException as e:
                box["err"] = e

        th = threading.Thread(target=target)
        th.start()
        th.join()
        if "err" in box:
            raise box["err"]
        return box["out"]

    def _lg_final(self, result: Any) -> str | None:
        turns = [Turn(**d) for d in (result or {}).get("turns", [])] if isinstance(result, dict) else []
        return self.domain.final_answer(self.spec.task, turns)

    def record(self) -> Trace:
        """Run the system with its own agents, record the run, bind it as ``self.trace``; returns the trace."""
        import agentracer

        if self.uses_plugin and self.spec.framework == "maas":
            wf = self.workflow()
            wf.control = None
            self.executions += 1
            final = self._run_workflow(lambda: asyncio.run(wf(self.spec.task.question)))
            trace = agentracer.recorder_of(wf).last_trace()
            self.last_engine = wf.engine
            trace = self._finish(copy.deepcopy(trace), final)
        elif self.uses_plugin and self.spec.framework == "autogen":
            engine = Engine(self, None, None, None, record=False)
            self.last_engine = engine
            self.executions += 1
            team = _autogen_team(engine, plugin=True)
            rec = Recorder(framework="autogen", capture_content=False, redactor=self._redactor())
            agentracer.instrument(team, recorder=rec)
            self._run_workflow(lambda: asyncio.run(team.run(task=self.spec.task.question)))
            trace = self._finish(copy.deepcopy(rec.last_trace()), self.domain.final_answer(self.spec.task, engine.transcript))
        elif self.uses_plugin:  # langgraph
            from langchain_core.messages import HumanMessage

            app = _langgraph_plugin_app(self.domain, redact=bool(self.spec.base_url))
            engine = Engine(self, None, None, None, record=False)
            self.last_engine = engine
            self.executions += 1
            token = _ENGINE.set(engine)
            try:
                result = app.invoke({"messages": [HumanMessage(content=self.spec.task.question)], "turns": []},
                                    {"recursion_limit": self.domain.max_turns(self.spec.task) + 10})
            finally:
                _ENGINE.reset(token)
            trace = agentracer.recorder_of(app).last_trace()
            trace = self._finish(copy.deepcopy(trace), self._lg_final(result))
        else:
            trace = self.execute()
        self.trace = trace
        return trace

    # -- Replayable
    def _bound(self) -> Trace:
        if self.trace is None:
            raise RuntimeError("no recorded trace: call record() first, or build the system with from_trace()")
        return self.trace

    def _turn_of(self, step: int) -> int:
        tr = self._bound()
        for pos, s in enumerate(tr.agent_steps()):
            if s.index == step:
                return pos
        raise TraceError(f"step {step} is not an agent step of the recorded trace", field="step", step=step)

    def _outcome(self, new: Trace, turn: int) -> ReplayOutcome:
        agents = new.agent_steps()
        fork_idx = agents[turn].index if turn < len(agents) else len(new.steps)
        live = count_live_calls_before(new, fork_idx)
        return ReplayOutcome(new.outcome == "success", new, new.final_answer, live, 1, {"fork_index": fork_idx})

    def _fork(self, step: int, replacement: str, control: Control | None) -> Trace:
        """Fork the bound trace through the framework plugin's ``agentracer_fork`` hook."""
        import agentracer

        self.executions += 1
        if self.spec.framework == "maas":
            wf = self.workflow()
            wf.control = control
            try:
                result, new = self._run_workflow(agentracer.fork(wf, self._bound(), step, replacement))
            finally:
                wf.control = None
            self.last_engine = wf.engine
            final = result
            if control is None or control.oracle_from is None:
                self._fill_overridden_step(new, self._turn_of(step))
        elif self.spec.framework == "autogen":
            turn = self._turn_of(step)
            c = control or Control()
            engine = Engine(self, None, None, Control(replace_turn=turn, replacement=replacement,
                                                      oracle_from=c.oracle_from, oracle=c.oracle), record=False)
            self.last_engine = engine
            result, new = self._run_workflow(agentracer.fork(lambda: _autogen_team(engine, plugin=True), self._bound(),
                                                             step, replacement))
            engine.sync_replacement()
            final = self.domain.final_answer(self.spec.task, engine.transcript)
        else:  # langgraph
            app = _langgraph_plugin_app(self.domain, redact=bool(self.spec.base_url))
            engine = Engine(self, None, None, control, record=False)
            self.last_engine = engine
            token = _ENGINE.set(engine)
            try:
                result, new = agentracer.fork(app, self._bound(), step, replacement)()
            finally:
                _ENGINE.reset(token)
            final = self._lg_final(result)
        if new is None:
            raise RuntimeError(f"the {self.spec.framework} plugin's fork returned no trace")
        return self._finish(new, final)

    def run_with(self, step: int, replacement: str) -> ReplayOutcome:
        """Replace agent step ``step``'s output, re-run the suffix with the system's own agents."""
        turn = self._turn_of(step)
        if self.uses_plugin:
            return self._outcome(self._fork(step, replacement, None), turn)
        replay = ReplayLLM.from_trace(self._bound(), upto_step=step)
        new = self.execute(Control(replace_turn=turn, replacement=replacement), replay)
        return self._outcome(new, turn)

    def run_from(self, step: int, oracle: Any) -> ReplayOutcome:
        """Keep the recorded steps before ``step``; the oracle takes every step from ``step`` on."""
        turn = self._turn_of(step)
        if self.uses_plugin:
            first = oracle.act(self._bound(), step)
            return self._outcome(self._fork(step, first, Control(oracle_from=turn, oracle=oracle)), turn)
        replay = ReplayLLM.from_trace(self._bound(), upto_step=step)
        new = self.execute(Control(oracle_from=turn, oracle=oracle), replay)
        return self._outcome(new, turn)


# ======================================================================================== pipeline
@dataclass
class ItemResult:
    """What :func:`annotate_item` produced for one generated run."""

    item_id: str
    status: str  # replay | injection | skipped
    annotated: AnnotatedTrace | None = None
    replays: int = 0
    executions: int = 0
    reason: str = ""
    stats: dict[str, Any] = field(default_factory=dict)


def annotate_item(
    framework: str,
    domain: str,
    seed: int,
    *,
    size: int | None = None,
    strategy: str = "bisect",
    fallback_linear: bool = True,
    faults_per_run: float = 0.8,
    base_url: str | None = None,
    model: str | None = None,
    inject_attempts: int = 4,
    item_id: str | None = None,
) -> ItemResult:
    """Generate one run and label it: by replay (``strategy``) if it failed, by injection if it succeeded.

    With ``fallback_linear``, a bisection or prior-guided search that answers *unsure* is redone
    linearly (the paper's definition), so labels always follow the linear scan's semantics.
    """
    iid = item_id or f"{framework}:{domain}:{seed}"
    system = GeneratedSystem.create(framework, domain, seed, size=size, faults_per_run=faults_per_run,
                                    base_url=base_url, model=model)
    trace = system.record()
    trace.run_id = f"gen-{framework}-{domain}-{seed}"
    base = {"domain": domain, "framework": framework, "task_id": system.spec.task.task_id, "item_id": iid}
    if trace.outcome == "failure":
        oracle = system.oracle()
        res = find_decisive(trace, system, oracle, strategy=strategy)
        replays = res.replays
        if not res.found and fallback_linear and strategy != "linear":
            res2 = find_decisive(trace, system, oracle, strategy="linear")
            replays += res2.replays
            res = res2
        if res.found:
            ann = res.annotated(trace)
            assert ann is not None
            ann.metadata.update(base, replays_total=replays)
            return ItemResult(iid, "replay", ann, replays, system.executions)
        return ItemResult(iid, "skipped", None, replays, system.executions, reason=res.reason)
    rng = random.Random(f"inject:{iid}")
    pairs = [(s, f) for s in trace.agent_steps() for f in system.domain.faults.get(s.agent, ()) if f in FAULTS]
    rng.shuffle(pairs)
    tried = 0
    for s, fault in pairs:
        if tried >= inject_attempts:
            break
        try:
            ann = inject(trace, s.index, fault, system=system, seed=rng)
        except InjectionError:
            continue  # the fault does not apply to this step's text: not an attempt
        tried += 1
        if ann is not None:
            ann.trace.run_id = f"gen-{framework}-{domain}-{seed}-inj"
            ann.metadata.update(base)
            return ItemResult(iid, "injection", ann, 1, system.executions)
    return ItemResult(iid, "skipped", None, 0, system.executions, reason="no injected fault made the run fail")
