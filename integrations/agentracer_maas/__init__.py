"""AgenTracer plugin for MaAS operator workflows (github.com/bingreeky/MaAS).

``agentracer.instrument(workflow)`` records each operator call as an agent step and each ``llm.aask``
inside it as a ``chat`` child; ``agentracer.fork`` and ``agentracer.inject_feedback`` work on the same
workflow. MaAS itself is not needed to import this package: workflows are recognised by their shape.
"""

from __future__ import annotations

from .instrument import (
    MaasFork,
    find_operators,
    instrument_workflow,
    instrumentation_of,
    is_operator,
    is_workflow,
    override_output,
    set_feedback,
    uninstrument_workflow,
)

__all__ = [
    "MaasFork",
    "find_operators",
    "instrument_workflow",
    "instrumentation_of",
    "is_operator",
    "is_workflow",
    "override_output",
    "set_feedback",
    "uninstrument_workflow",
]
