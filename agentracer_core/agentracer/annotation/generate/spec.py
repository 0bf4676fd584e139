"""The spec of a generated system (what rebuilds it from a trace) and the control of one execution.

:class:`SystemSpec` is stored in a generated trace's ``metadata["agentracer.generated"]``;
:class:`Control` says how one execution deviates from a plain run (a replaced turn, an oracle from a turn on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..domains import Task

__all__ = ["FRAMEWORKS", "META_KEY", "SYSTEMS", "Control", "SystemSpec"]

FRAMEWORKS = ("langgraph", "autogen", "camel", "maas", "python")
META_KEY = "agentracer.generated"
#: The named system shapes per framework (beyond its default one), each run by the framework's plugin:
#: ``langgraph``/``supervisor`` — a ``langgraph-supervisor`` supervisor handing work to ReAct tool agents;
#: ``camel``/``workforce`` — a CAMEL ``Workforce`` (planner, workers, quality checks).
SYSTEMS: dict[str, tuple[str, ...]] = {"langgraph": ("supervisor",), "camel": ("workforce",)}


@dataclass
class SystemSpec:
    """Everything needed to rebuild a generated system: framework, domain, task, seed and the fault plan.

    ``fault_rate`` is the per-turn probability that a scripted agent commits one of its faults (drawn
    from a generator seeded by ``(seed, agent, the agent's turn count)``, so a replay redoes the same
    slips); ``fault_plan`` (turn -> fault type) fixes the faults instead. ``base_url``/``model`` switch
    the agents to a real LLM. ``system`` names a system shape other than the framework's default one
    (``supervisor`` on LangGraph, ``workforce`` on CAMEL; see :data:`SYSTEMS`); None for the default.
    """

    framework: str
    domain: str
    task: Task
    seed: int = 0
    fault_rate: float = 0.0
    fault_plan: dict[int, str] | None = None
    base_url: str | None = None
    model: str | None = None
    temperature: float = 0.0
    system: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {
            "framework": self.framework, "domain": self.domain, "task": self.task.to_dict(), "seed": self.seed,
            "fault_rate": self.fault_rate,
            "fault_plan": {str(k): v for k, v in self.fault_plan.items()} if self.fault_plan is not None else None,
            "base_url": self.base_url, "model": self.model, "temperature": self.temperature,
        }
        if self.system:  # only the named system shapes carry it (older specs stay byte-identical)
            d["system"] = self.system
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SystemSpec:
        plan = d.get("fault_plan")
        return cls(
            framework=d["framework"], domain=d["domain"], task=Task.from_dict(d["task"]), seed=int(d.get("seed", 0)),
            fault_rate=float(d.get("fault_rate") or 0.0),
            fault_plan={int(k): v for k, v in plan.items()} if plan is not None else None,
            base_url=d.get("base_url"), model=d.get("model"), temperature=float(d.get("temperature") or 0.0),
            system=d.get("system") or None,
        )


@dataclass
class Control:
    """How one execution deviates from a plain run: a replaced turn, and/or the oracle from a turn on."""

    replace_turn: int | None = None
    replacement: str | None = None
    oracle_from: int | None = None
    oracle: Any = None

