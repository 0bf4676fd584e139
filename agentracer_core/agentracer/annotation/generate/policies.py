"""Who speaks for a generated system's agents: scripted (seeded faults) or a real LLM; and the domain oracle.

:class:`ScriptedPolicy` answers the domain's correct action, corrupted with a fault from
:mod:`~agentracer.annotation.inject` at seeded turns; :class:`LLMPolicy` asks a model behind an
OpenAI-compatible endpoint; :class:`DomainOracle` is a correct agent acting on the same inputs.
"""

from __future__ import annotations

import random
from typing import Any

from ...trace import Trace
from ..domains import Domain, Task, Turn
from ..inject import InjectionError, MutationContext, mutate
from ..oracle import ScriptedOracle
from .spec import SystemSpec

__all__ = ["DomainOracle", "LLMPolicy", "ScriptedPolicy", "transcript_of"]


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
        weight = getattr(self.domain, "fault_weight", None)
        rate = self.spec.fault_rate * (weight(self.spec.task, agent) if weight is not None else 1.0)
        if not kinds or r.random() >= rate:
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
        from ...attribution.backends.openai_http import OpenAIGenerator

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

