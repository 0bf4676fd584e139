"""The engine of one execution of a generated system: transcript, turn counter, LLM layer and tools.

Framework drivers (each plugin's ``generated.py``) build their agents around an :class:`Engine`; the
``python`` framework is :func:`run_python`, a plain loop over the engine's turns.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...recording import Recorder, current_run, current_step
from ..domains import Turn, parse_tool_calls
from .policies import DomainOracle
from .spec import Control

if TYPE_CHECKING:
    from .system import GeneratedSystem

__all__ = ["Engine", "no_redaction", "run_outside_loop", "run_python"]


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

    def run_tools_in_current_run(self, turn: Turn) -> None:
        """Run ``turn``'s tool calls, recorded on the plugin's run in progress under its current step."""
        run = current_run()
        self.run_tools(turn, recorder=run.recorder if run is not None else None, parent=current_step())

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



def run_python(engine: Engine) -> None:
    """The ``python`` framework: a plain loop, each turn recorded by the engine."""
    while (agent := engine.next_agent()) is not None:
        engine.take_turn(agent)


def run_outside_loop(runnable: Callable[[], Any]) -> Any:
    """``runnable()``, in a separate thread when an event loop is running here (it may call ``asyncio.run``)."""
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


def no_redaction(text: str) -> str:
    """The identity redactor: scripted agents write synthetic text with no secrets."""
    return text
