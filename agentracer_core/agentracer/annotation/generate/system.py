"""A generated multi-agent system bound to one task: records its runs and replays them (a ``Replayable``).

The ``python`` framework is recorded by the generator itself (a plain loop); every other framework is
run by its plugin's :class:`~agentracer.annotation.generate.drivers.GeneratedDriver` — recorded and forked
by the plugin (``plugin_records``), or run on the framework's runtime and recorded here (re-executed with
a :class:`~agentracer.recording.ReplayLLM` for replays).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

from ...recording import Recorder, ReplayLLM
from ...trace import Trace, TraceError
from ..domains import get_domain
from ..domains.team_styles import restyle
from ..replay import ReplayOutcome, count_live_calls_before
from .drivers import driver_for
from .engine import Engine, no_redaction, run_python
from .policies import DomainOracle, LLMPolicy, ScriptedPolicy
from .spec import FRAMEWORKS, META_KEY, SYSTEMS, Control, SystemSpec

__all__ = ["SYSTEM_SIZES", "GeneratedSystem", "check_system"]

#: The run-length range (agent steps) a named system shape draws its tasks' sizes from.
SYSTEM_SIZES: dict[str, tuple[int, int]] = {"supervisor": (8, 36), "workforce": (8, 36)}


def check_system(framework: str, domain: str, system: str) -> None:
    """``ValueError`` unless ``system`` is a named shape of ``framework`` and ``domain`` is orchestrator-led."""
    if system not in SYSTEMS.get(framework, ()):
        known = ", ".join(f"{f}/{s}" for f, ss in SYSTEMS.items() for s in ss)
        raise ValueError(f"no system {system!r} on {framework}; the named systems are {known}")
    if not getattr(get_domain(domain), "orchestrated", False):
        raise ValueError(f"the {system} system runs orchestrator-led domains (web, files, multihop), not {domain!r}")


class GeneratedSystem:
    """A generated multi-agent system bound to one task; records runs and replays them (see module doc)."""

    def __init__(self, spec: SystemSpec, *, trace: Trace | None = None, tracer_provider: Any = None) -> None:
        if spec.framework not in FRAMEWORKS:
            raise ValueError(f"unknown framework {spec.framework!r}; expected one of {', '.join(FRAMEWORKS)}")
        self.spec = spec
        self.domain = get_domain(spec.domain).bind(spec.task)
        self.policy: Any = LLMPolicy(spec) if spec.base_url else ScriptedPolicy(self.domain, spec)
        self.trace = trace
        self.tracer_provider = tracer_provider
        self.model_name = spec.model or ("scripted" if not spec.base_url else "default")
        self.sandbox = bool(spec.base_url)  # model-written code runs in a separate process
        self.driver_state: dict[str, Any] = {}  # what a driver keeps per system (e.g. an instrumented workflow)
        self.last_engine: Engine | None = None
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
        system: str | None = None,
    ) -> GeneratedSystem:
        """A new system: a task drawn with ``seed`` (``size`` agent steps, else a domain default).

        ``faults_per_run``: expected number of scripted faults per run (the per-turn rate is this over the
        run length); ``fault_plan`` fixes them instead (turn -> fault type; ``{}`` = a fault-free run).
        ``system``: a named system shape of ``framework`` (:data:`~.spec.SYSTEMS`), run on an
        orchestrator-led domain (``web``, ``files``, ``multihop``) with that system's names and prompts.
        """
        dom = get_domain(domain)
        if system is not None:
            check_system(framework, domain, system)
        rng = random.Random(f"task:{domain}:{seed}")
        if system is not None and size is None:
            size = rng.randint(*SYSTEM_SIZES.get(system, (30, 80)))
        task = dom.make_task(rng, size if size is not None else dom.size_for(rng))
        if system is not None:
            task = restyle(task, system)
        rate = min(1.0, faults_per_run / max(dom.expected_steps(task), 1))
        spec = SystemSpec(framework, domain, task, seed, rate, fault_plan, base_url, model, temperature, system)
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
    def driver(self) -> Any:
        """The installed plugin's driver of this framework (None for ``python``, or when no plugin offers one)."""
        return driver_for(self.spec.framework)

    @property
    def uses_plugin(self) -> bool:
        """Whether the framework's plugin records and forks this system (langgraph, autogen, maas).

        Otherwise the generator records it itself: ``python``, and camel on CAMEL's runtime (the CAMEL
        plugin forks RolePlaying and Workforce societies, not the generator's loop).
        """
        d = self.driver
        return d is not None and bool(d.records(self))

    def oracle(self) -> DomainOracle:
        """The scripted oracle of this task (a correct agent on the same inputs)."""
        return DomainOracle(self.domain, self.spec.task)

    # -- execution
    def _sync_tool_steps(self, trace: Trace) -> None:
        """Make each agent step's tool-call children agree with the tools its final text really ran.

        A plugin fork that patches step k's output after it ran (AutoGen) keeps the tool calls of the
        recorded text; the engine re-ran them for the replacement, and the trace should show those.
        """
        engine = self.last_engine
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
        runner = self._runner()
        rec = Recorder(framework=self.spec.framework, replay=replay, tracer_provider=self.tracer_provider,
                       capture_content=False, redactor=self.redactor())
        run = rec.start_run(self.spec.task.question, framework=self.spec.framework, agents=list(self.domain.agents),
                            ground_truth=self.spec.task.answer)
        engine = Engine(self, rec, run, control)
        self.last_engine = engine
        try:
            runner(engine)
        except Exception as e:
            rec.end_run(run, error=e)
            raise
        final = self.domain.final_answer(self.spec.task, engine.transcript)
        trace = rec.end_run(run, final_answer=final)
        if trace is None:
            raise RuntimeError("the recorder lost the run")
        return self._finish(trace, final)

    def _runner(self) -> Callable[[Engine], None]:
        if self.spec.framework == "python":
            return run_python
        d = self.driver
        if d is None:
            raise RuntimeError(f"no installed agentracer plugin runs generated {self.spec.framework} systems "
                               f"(pip install 'agentracer[{self.spec.framework}]')")
        return d.execute

    def redactor(self) -> Callable[[str], str] | None:
        """Scripted agents write synthetic text with no secrets: skip redaction (the default otherwise)."""
        return None if self.spec.base_url else no_redaction

    def record(self) -> Trace:
        """Run the system with its own agents, record the run, bind it as ``self.trace``; returns the trace."""
        if self.uses_plugin:
            self.executions += 1
            trace, final = self.driver.record(self)
            trace = self._finish(copy.deepcopy(trace), final)
        else:
            trace = self.execute()
        self.trace = trace
        return trace

    # -- Replayable
    def bound(self) -> Trace:
        """The recorded trace this system is bound to (``RuntimeError`` if none)."""
        if self.trace is None:
            raise RuntimeError("no recorded trace: call record() first, or build the system with from_trace()")
        return self.trace

    def turn_of(self, step: int) -> int:
        """The turn (position among agent steps) of agent step ``step`` of the bound trace."""
        tr = self.bound()
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
        """Fork the bound trace through the framework plugin's driver (its ``agentracer_fork`` hook)."""
        self.executions += 1
        new, final = self.driver.fork(self, step, replacement, control)
        if new is None:
            raise RuntimeError(f"the {self.spec.framework} plugin's fork returned no trace")
        return self._finish(new, final)

    def run_with(self, step: int, replacement: str) -> ReplayOutcome:
        """Replace agent step ``step``'s output, re-run the suffix with the system's own agents."""
        turn = self.turn_of(step)
        if self.uses_plugin:
            return self._outcome(self._fork(step, replacement, None), turn)
        replay = ReplayLLM.from_trace(self.bound(), upto_step=step)
        new = self.execute(Control(replace_turn=turn, replacement=replacement), replay)
        return self._outcome(new, turn)

    def run_from(self, step: int, oracle: Any) -> ReplayOutcome:
        """Keep the recorded steps before ``step``; the oracle takes every step from ``step`` on."""
        turn = self.turn_of(step)
        if self.uses_plugin:
            first = oracle.act(self.bound(), step)
            return self._outcome(self._fork(step, first, Control(oracle_from=turn, oracle=oracle)), turn)
        replay = ReplayLLM.from_trace(self.bound(), upto_step=step)
        new = self.execute(Control(oracle_from=turn, oracle=oracle), replay)
        return self._outcome(new, turn)
