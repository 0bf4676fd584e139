"""Annotation: label failed runs with no human in the loop.

- :mod:`~agentracer.annotation.replay` — counterfactual replay (linear, bisection, prior-guided) over any
  :class:`~agentracer.annotation.replay.Replayable` system;
- :mod:`~agentracer.annotation.oracle` — who redoes a step (scripted, or any LLM backend, w/ or w/o G);
- :mod:`~agentracer.annotation.inject` — the fault taxonomy and one mutator per fault;
- :mod:`~agentracer.annotation.generate` — small multi-agent systems on each framework, with checkable tasks;
- :mod:`~agentracer.annotation.dataset` — TracerTraj-style rows, a Hugging Face dataset and its card;
- :mod:`~agentracer.annotation.scale` — resumable, append-only pipelines, optionally on Ray;
- :mod:`~agentracer.annotation.verify` — confirm or refute a predicted attribution by replay.

Nothing heavy is imported here.
"""

from __future__ import annotations

from .replay import Replayable, ReplayError, ReplayOutcome, ReplayResult, find_decisive

__all__ = ["ReplayError", "ReplayOutcome", "ReplayResult", "Replayable", "find_decisive"]
