"""Run a MaAS workflow on one question (the ``agentracer_run`` hook, used by ``agentracer.refine``)."""

from __future__ import annotations

import asyncio
from typing import Any

from .detect import is_maas

__all__ = ["run_workflow"]


def run_workflow(system: Any, task: str) -> str | None:
    """``await workflow(task)``; its answer (the first item of MaAS's ``(answer, cost, log_prob)``), or None
    if ``system`` is not a MaAS workflow."""
    if not is_maas(system):
        return None
    out = asyncio.run(system(task))
    return str(out[0] if isinstance(out, tuple) else out)
