"""Simulated agents for the offline refinement demo (``agentracer refine --demo``). **They are not LLMs.**

A simulated agent is a small deterministic program standing in for an LLM. It answers the prompts of
one role of a three-stage word-problem pipeline, and **its behaviour depends on the instructions it
receives**: every agent has one built-in flaw, and the feedback notes that reach its prompt (through
the real framework plugins: a MaAS operator prompt, a LangGraph agent's system prompt) can fix that
flaw, or, when a note is about something else, confuse it. So feedback aimed at the responsible agent
helps, feedback aimed at the wrong agent can hurt, and a critique given to everyone helps less.

The pipeline (three agents, in order):

==========  ===========================  =======================  ==========================================
role        MaAS operator / LangGraph    job                      built-in flaw (its trigger word)
==========  ===========================  =======================  ==========================================
extract     ``GenerateCoT`` / reader     starting TOTAL           a dozen counted as 10 (``dozen``)
compute     ``Programmer`` / calculator  code applying the op     "p percent" subtracted as p (``percent``)
finalize    ``SelfRefine`` / reviewer    final ANSWER             forgets to round (``nearest ten``)
==========  ===========================  =======================  ==========================================

How a simulated agent reads feedback (the only "learning" it does), per note (a ``- [step ...]`` or
``- [critique ...]`` line in its prompt), with seeded hash draws (a note seen n times gets n draws' worth
of chance, ``1 - (1 - p)^n``):

- a note aimed at it whose reason or correction names its flaw word fixes the flaw with ``p_learn``;
- a note aimed at it that quotes one of its outputs where the flaw shows (a vague reason, but the right
  agent and step) fixes it with ``p_learn_vague``;
- any other note aimed at it (an output that was not its mistake) may be misread as a rule about one of
  the note's trigger words: with ``p_confuse`` it becomes confused about that word and mis-adjusts its
  value on every task containing it (trigger words include neutral ones such as ``pairs``, so this breaks
  tasks that were right); a note saying ``do not adjust for <word>`` cures that;
- a critique given to every agent (not localised) fixes its flaw with ``p_generic_learn`` when it mentions
  the flaw's word, else confuses it with ``p_generic_confuse``.

Same notes, same seed: same behaviour. The probabilities are assumptions of the simulation
(:class:`SimPolicy`); the demo shows what the loop does with feedback of different precision and aim.

The same pipelines run with real LLM agents (``agentracer refine --base-url ... --model ...``): only the
LLM changes; the prompts below are ordinary instructions.

This module is the framework-neutral entry point: the problems (:mod:`.word_problems`), the agents'
behaviour (:mod:`.sim_policy`), the gold attribution (:mod:`.sim_oracle`), the :class:`System` shape the
refinement loop runs, and :func:`labelled_failures`. The pipelines themselves are built by the framework
plugins (``agentracer_maas.simulated``, ``agentracer_langgraph.simulated``), reached through the
``agentracer_sample(framework, "simulated")`` hook by :func:`maas_system` and :func:`langgraph_system`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..hooks import get_sample
from ..trace import AnnotatedTrace, Attribution, Trace
from .sim_oracle import oracle_attribution, simulated_critique
from .sim_policy import SimPolicy
from .word_problems import ROLE_PROMPTS, ROLES, SimTask, make_tasks, role_of

__all__ = [
    "NOTICE",
    "ROLE_PROMPTS",
    "SimPolicy",
    "SimTask",
    "System",
    "labelled_failures",
    "langgraph_system",
    "maas_system",
    "make_tasks",
    "oracle_attribution",
    "role_of",
    "run_solve",
    "simulated_critique",
]

NOTICE = (
    "SIMULATED AGENTS: the agents in this demo are small deterministic programs standing in for LLMs "
    "(agentracer.samples.simulated). Their behaviour depends on the instructions they receive, so feedback "
    "changes what they do, but these figures are not LLM results."
)


# ---------------------------------------------------------------------------------------------- code
def run_solve(code: str, *, isolate: bool = False, timeout: float = 5.0) -> tuple[bool, str]:
    """Run ``code`` (which defines ``solve()``) and return ``(ok, str(result) or the error)``.

    ``isolate=True`` runs it in a separate Python process with a timeout (use it for code written by
    a real LLM); otherwise in-process with a few safe builtins (the simulated agents' own code).
    """
    m = re.search(r"```(?:python)?\n(.*?)```", code, flags=re.S)
    src = m.group(1) if m else code
    if isolate:
        prog = src + "\nprint(solve())\n"
        try:
            out = subprocess.run([sys.executable, "-I", "-c", prog], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return False, "timed out"
        if out.returncode != 0:
            return False, (out.stderr.strip().splitlines() or ["error"])[-1]
        return True, out.stdout.strip()
    ns: dict[str, Any] = {}
    try:
        exec(src, {"__builtins__": {"round": round, "int": int, "float": float, "abs": abs, "range": range}}, ns)
        result = ns["solve"]()
    except Exception as e:
        return False, f"{type(e).__name__}: {e}"
    if isinstance(result, float):
        result = round(result, 2)
        if float(result).is_integer():
            result = int(result)
    return True, str(result)


# ---------------------------------------------------------------------------------------------- systems
@dataclass
class System:
    """A runnable pipeline for the refinement loop: how to build a fresh instance, run a task on it,
    its agents by role, and (for generated tasks) the oracle attribution."""

    name: str
    build: Callable[[], Any]
    run: Callable[[Any, Any], str]
    roles: dict[str, str]
    prompts: list[tuple[str | None, str]] = field(default_factory=list)

    @property
    def agents(self) -> list[str]:
        """Agent names in pipeline order."""
        return [self.roles[r] for r in ROLES]

    def oracle(self, trace: Trace, task: Any) -> Attribution:
        """Gold attribution (first wrong stage) for a :class:`SimTask`."""
        return oracle_attribution(trace, task, self.roles)



def _builder(framework: str) -> Callable[..., System]:
    build = get_sample(framework, "simulated")
    if build is None:
        raise RuntimeError(f"the simulated {framework} pipeline needs the agentracer {framework} plugin "
                           f"(and, for LangGraph, langgraph itself) installed")
    return build


def maas_system(llm_factory: Callable[[], Any] | None = None, *, policy: SimPolicy | None = None,
                isolate: bool = False) -> System:
    """The MaAS-shaped pipeline (GenerateCoT -> Programmer -> SelfRefine), built by the MaAS plugin;
    simulated agents unless ``llm_factory`` gives a real ``aask`` LLM."""
    return _builder("maas")(llm_factory, policy=policy, isolate=isolate)


def langgraph_system(model_factory: Callable[[str], Any] | None = None, *, policy: SimPolicy | None = None,
                     isolate: bool = False, endpoint: dict[str, Any] | None = None) -> System:
    """The LangGraph pipeline (reader -> calculator -> reviewer), built by the LangGraph plugin; simulated
    agents unless ``model_factory(role)`` gives chat models or ``endpoint`` (``base_url``, ``model``,
    ``api_key``) names an OpenAI-compatible endpoint for every agent."""
    return _builder("langgraph")(model_factory, policy=policy, isolate=isolate, endpoint=endpoint)



def labelled_failures(
    seeds: Iterable[int], n_tasks: int = 40, systems: tuple[str, ...] = ("maas", "langgraph"), *, prefix: str = "train"
) -> list[AnnotatedTrace]:
    """Failed round-0 runs of the simulated pipelines, recorded through the real plugins and labelled.

    Each failure's gold is the simulation's :func:`oracle_attribution` (the first stage whose value is
    wrong). This is training data for the embedded attributor's ``framework`` profile; the tasks come
    from ``make_tasks(n_tasks, seed, prefix=prefix)``, so a ``prefix`` other than the refinement
    benchmark's ``"t"`` keeps the two apart. Needs the ``maas`` / ``langgraph`` plugins installed.
    """
    from ..recording import Recorder
    from ..refinement.checks import numeric_match
    from ..systems import instrument

    out: list[AnnotatedTrace] = []
    for name in systems:
        if name not in ("maas", "langgraph"):
            raise ValueError(f"unknown simulated system {name!r}; expected 'maas' or 'langgraph'")
        for seed in seeds:
            policy = SimPolicy(seed=seed)
            system = maas_system(policy=policy) if name == "maas" else langgraph_system(policy=policy)
            rec = Recorder()
            inst = instrument(system.build(), recorder=rec)
            for task in make_tasks(n_tasks, seed, prefix=prefix):
                answer = system.run(inst, task)
                if numeric_match(answer, task):
                    continue
                trace = rec.last_trace()
                if trace is None:
                    continue
                trace.outcome = "failure"
                trace.ground_truth = str(task.answer)
                gold = system.oracle(trace, task)
                out.append(AnnotatedTrace(trace=trace, gold=gold, source="simulation",
                                          metadata={"system": name, "seed": seed, "task": task.id}))
    return out
