"""Attribution: name the agent and the decisive step of a failed trace.

:func:`get_attributor` turns a method string into an :class:`Attributor`:

- ``embedded`` — the default: offline, CPU, no weights to download;
- ``first-speaker``, ``step-one``, ``random`` — the trivial floors;
- ``transformers:PATH``, ``vllm:PATH``, ``openai:MODEL@URL`` — an LLM tracer (all-at-once prompt);
- ``all-at-once:BACKEND``, ``step-by-step:BACKEND``, ``binary-search:BACKEND`` — Who&When's baselines;
- ``rerank:BACKEND[?k=3]`` — the embedded ranker's top k steps, decided between by an LLM.
"""

from __future__ import annotations

from typing import Any

from .base import Attributor, TrainableAttributor, get_attributor, register

__all__ = ["Attributor", "TrainableAttributor", "get_attributor", "register"]


def __getattr__(name: str) -> Any:  # lazy access to submodules without importing them eagerly
    raise AttributeError(name)
