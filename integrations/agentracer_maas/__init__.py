"""AgenTracer plugin for MaAS operator workflows (github.com/bingreeky/MaAS).

``agentracer.instrument(workflow)`` records each operator call as an agent step and each ``llm.aask``
inside it as a ``chat`` child; ``agentracer.fork`` and ``agentracer.inject_feedback`` work on the same
workflow. MaAS itself is not needed to import this package: workflows are recognised by their shape
(:func:`is_maas`).
"""

from __future__ import annotations

from .detect import find_operators, is_maas, is_operator
from .fork import MaasFork
from .instrument import instrument_workflow, set_feedback, uninstrument_workflow
from .output import override_output
from .state import instrumentation_of

__all__ = [
    "MaasFork",
    "find_operators",
    "instrument_workflow",
    "instrumentation_of",
    "is_maas",
    "is_operator",
    "override_output",
    "set_feedback",
    "uninstrument_workflow",
]
