"""Generators: small multi-agent systems on each framework, solving checkable tasks, recorded and labelled.

A :class:`GeneratedSystem` is one task of a :mod:`~agentracer.annotation.domains` domain run by that
domain's agents on a framework. The framework code lives in each plugin (its ``generated.py``), offered
to the generator as a :class:`~.drivers.GeneratedDriver` through
``agentracer_sample(framework=..., kind="generated")``:

- ``langgraph`` — a ``StateGraph`` with one node per agent and conditional edges that read who was handed
  the work; the agents call a LangChain chat model. Recorded and forked by the LangGraph plugin.
- ``autogen`` — a ``SelectorGroupChat`` of ``BaseChatAgent`` participants (a ``selector_func`` routes);
  each agent calls its own model client. Recorded and forked by the AutoGen plugin.
- ``maas`` — a MaAS-shaped operator workflow (each agent an ``Operator`` holding an ``llm.aask``).
  Recorded and forked by the MaAS plugin.
- ``camel`` — CAMEL ``ChatAgent`` s over a scripted model backend, driven round by round as OWL's
  ``run_society`` does. The CAMEL plugin forks RolePlaying and Workforce societies, not this loop, so
  the generator records it itself on CAMEL's runtime and replays by re-execution.
- ``python`` — a plain loop, recorded by the generator (no framework; fast tests).

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

Modules: :mod:`.spec` (spec, control), :mod:`.policies` (scripted / LLM agents, the domain oracle),
:mod:`.engine` (one execution), :mod:`.drivers` (the plugin contract), :mod:`.system` (the system),
:mod:`.pipeline` (:func:`annotate_item`).
"""

from __future__ import annotations

from .drivers import GeneratedDriver, available_frameworks, driver_for
from .engine import Engine, no_redaction, run_outside_loop, run_python
from .pipeline import ItemResult, annotate_item
from .policies import DomainOracle, LLMPolicy, ScriptedPolicy, transcript_of
from .spec import FRAMEWORKS, META_KEY, Control, SystemSpec
from .system import GeneratedSystem

__all__ = [
    "FRAMEWORKS",
    "META_KEY",
    "Control",
    "DomainOracle",
    "Engine",
    "GeneratedDriver",
    "GeneratedSystem",
    "ItemResult",
    "LLMPolicy",
    "ScriptedPolicy",
    "SystemSpec",
    "annotate_item",
    "available_frameworks",
    "driver_for",
    "no_redaction",
    "run_outside_loop",
    "run_python",
    "transcript_of",
]
