"""Running the system: one task through its framework plugin, and all tasks under one feedback state.

:func:`default_runner` asks the framework plugins (``agentracer_run`` hook) to run a system on a task.
:class:`_Runner` instruments the system (a fresh one per feedback state when given a factory), tells
each agent its feedback, runs every task, checks the answers and keeps each run's trace; identical
evaluations (same tasks, same feedback) are cached.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import types
from collections.abc import Callable, Sequence
from typing import Any

from ..hooks import run_system
from .checks import answer_of, question_of, task_id_of
from .notes import FeedbackMemory
from .records import Evaluation, TaskOutcome

__all__ = ["default_runner"]

log = logging.getLogger("agentracer.refine")


def _is_factory(system: Any) -> bool:
    return isinstance(system, (types.FunctionType, types.MethodType, functools.partial, type)) or getattr(
        system, "__agentracer_factory__", False)


def default_runner(system: Any, task: Any) -> str:
    """Run one task on any system a framework plugin can run (``agentracer_run``): a MaAS workflow, a
    LangGraph graph, an AutoGen team, a CAMEL Workforce.

    Anything else needs ``run=``: a function ``(system, task) -> answer``.
    """
    return run_system(system, question_of(task))


class _Runner:
    """Runs all tasks with a feedback state on a (fresh or shared) instrumented system; caches by state."""

    def __init__(self, system: Any, run: Callable[[Any, Any], Any], checker: Callable[[Any, Any], bool],
                 cache: dict[str, Evaluation] | None, progress: Callable[[str], None] | None) -> None:
        from ..recording import Recorder
        from ..systems import instrument

        self.factory = system if _is_factory(system) else None
        self.instance = None if self.factory else system
        self.run = run
        self.checker = checker
        self.cache = cache if cache is not None else {}
        self.progress = progress
        self.recorder = Recorder(keep=4)
        self._instrument = instrument
        self._told: dict[str, str] = {}
        self.agents: list[str] = []
        if self.instance is not None:
            self.instance = instrument(self.instance, recorder=self.recorder)

    def _system_for(self, memory: FeedbackMemory) -> Any:
        from ..systems import inject_feedback

        def tell(system: Any, agent: str, text: str) -> None:
            try:
                inject_feedback(system, agent, text)
            except (TypeError, ValueError) as e:  # an agent the plugin cannot reach: say so, keep going
                log.warning("agentracer.refine: feedback for %r not delivered: %s", agent, e)

        if self.factory is not None:
            sys_ = self._instrument(self.factory(), recorder=self.recorder)
            for agent in memory.agents():
                tell(sys_, agent, memory.summary(agent))
            return sys_
        want = {a: memory.summary(a) for a in memory.agents()}
        for agent in sorted(set(self._told) | set(want)):
            text = want.get(agent, "")
            if self._told.get(agent, "") != text:
                tell(self.instance, agent, text)
        self._told = {a: t for a, t in want.items() if t}
        return self.instance

    def settle(self, memory: FeedbackMemory) -> None:
        """Leave a system instance told exactly ``memory`` (after a rollback, and at the end)."""
        if self.instance is not None:
            self._system_for(memory)

    def _note_agents(self, ev: Evaluation) -> None:
        for o in ev.outcomes:
            for s in o.trace.agent_steps() if o.trace is not None else []:
                if s.agent not in self.agents:
                    self.agents.append(s.agent)

    def evaluate(self, tasks: Sequence[Any], memory: FeedbackMemory, tag: str) -> Evaluation:
        ids = hashlib.sha256("|".join(task_id_of(t, i) for i, t in enumerate(tasks)).encode()).hexdigest()[:12]
        key = f"{tag}:{ids}:{memory.fingerprint()}"
        if key in self.cache:
            self._note_agents(self.cache[key])
            return self.cache[key]
        system = self._system_for(memory)
        outcomes = []
        for i, task in enumerate(tasks):
            before = self.recorder.last_trace()
            err = None
            try:
                answer = self.run(system, task)
            except Exception as e:  # a crashing run is a failed task, not a crashed loop
                answer, err = None, f"{type(e).__name__}: {e}"
                log.warning("agentracer.refine: task %s raised %s", task_id_of(task, i), err)
            tr = self.recorder.last_trace()
            tr = tr if tr is not None and tr is not before else None
            ok = False
            if err is None:
                try:
                    ok = bool(self.checker(answer, task))
                except Exception as e:  # a checker that cannot read the answer marks it wrong
                    log.warning("agentracer.refine: checker failed on task %s: %s", task_id_of(task, i), e)
            if tr is not None:
                tr.outcome = "success" if ok else "failure"
                if answer_of(task) is not None:
                    tr.ground_truth = answer_of(task)
            outcomes.append(TaskOutcome(task_id_of(task, i), ok, None if answer is None else str(answer), tr, err))
        ev = Evaluation(outcomes)
        self._note_agents(ev)
        self.cache[key] = ev
        if self.progress:
            self.progress(f"{tag}: {ev.correct}/{len(outcomes)} correct")
        return ev

