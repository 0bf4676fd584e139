"""A small MaAS-shaped operator workflow written for AgenTracer's tests (our own code, not MaAS's).

It has MaAS's *shape* (github.com/bingreeky/MaAS): operator classes with an async ``__call__`` and a
``_fill_node`` that calls ``llm.aask``; a stochastic, seeded controller whose ``forward`` samples the
operators of each layer (``selected_names_layers``); workflows whose ``__call__(problem, entry_point,
log_path)`` returns ``(solution, cost, log_prob)``. The LLM is scripted (:class:`ScriptedLLM`).
"""

from .controller import FixedController, LayerController
from .llm import CostManager, ScriptedLLM, math_script
from .operators import (
    OPERATORS,
    CustomCodeGenerate,
    EarlyStop,
    Generate,
    GenerateCoT,
    MultiGenerateCoT,
    Operator,
    Programmer,
    ScEnsemble,
    SelfRefine,
    Test,
)
from .prompts import kind_of
from .workflow import CodeWorkflow, MathWorkflow, last_int

__all__ = [
    "OPERATORS",
    "CodeWorkflow",
    "CostManager",
    "CustomCodeGenerate",
    "EarlyStop",
    "FixedController",
    "Generate",
    "GenerateCoT",
    "LayerController",
    "MathWorkflow",
    "MultiGenerateCoT",
    "Operator",
    "Programmer",
    "ScEnsemble",
    "ScriptedLLM",
    "SelfRefine",
    "Test",
    "kind_of",
    "last_int",
    "math_script",
]
