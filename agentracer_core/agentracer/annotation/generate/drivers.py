"""The framework-neutral contract between the generator and the framework plugins that run its systems.

Each framework plugin answers ``agentracer_sample(framework=<its framework>, kind="generated")`` with a
:class:`GeneratedDriver`: the agents of a generated system built on that framework's runtime. Core
reaches drivers only through :func:`agentracer.hooks.get_sample`; ``python`` needs none (a plain loop).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...hooks import get_sample
from .spec import FRAMEWORKS

if TYPE_CHECKING:
    from ...trace import Trace
    from .engine import Engine
    from .spec import Control
    from .system import GeneratedSystem

__all__ = ["GeneratedDriver", "available_frameworks", "driver_for"]


class GeneratedDriver:
    """A plugin's runner of generated systems on its framework (subclass it; the defaults raise).

    ``plugin_records``: True when the plugin records and forks the runs (implement :meth:`record` and
    :meth:`fork`); False when the generator records them itself and the driver only runs the turns on
    the framework's runtime (implement :meth:`execute`). :meth:`record` and :meth:`fork` set
    ``system.last_engine`` to the engine they ran and return the plugin's trace (the system copies a
    recorded one and finishes both: outcome, spec, labels) with the final answer.
    """

    framework: str = ""
    plugin_records: bool = True

    def records(self, system: GeneratedSystem) -> bool:
        """Whether this plugin records and forks ``system`` (default: :attr:`plugin_records`)."""
        return self.plugin_records

    def execute(self, engine: Engine) -> None:
        """Run the turns of one self-recorded execution (each turn through ``engine.take_turn``)."""
        raise NotImplementedError(f"{self.framework} generated runs are recorded by its plugin: use record()")

    def record(self, system: GeneratedSystem) -> tuple[Trace, str | None]:
        """Run ``system`` once, recorded by the plugin: ``(trace, final answer)``."""
        raise NotImplementedError(f"{self.framework} generated runs are recorded by the generator: use execute()")

    def fork(self, system: GeneratedSystem, step: int, replacement: str,
             control: Control | None) -> tuple[Trace | None, str | None]:
        """Fork ``system``'s bound trace at agent step ``step`` through the plugin: ``(trace, final answer)``.

        ``control`` is None for a plain replacement; with ``oracle_from`` set, the oracle answers every
        live turn from there on (``replacement`` is its first answer).
        """
        raise NotImplementedError(f"{self.framework} generated runs are replayed by re-execution, not forked")


def driver_for(framework: str) -> Any:
    """The installed plugin's driver of generated systems on ``framework``; None for ``python`` or none installed."""
    if framework == "python":
        return None
    return get_sample(framework, "generated")


def available_frameworks() -> dict[str, bool]:
    """Which frameworks can run generated systems here (a plugin offers a driver), plus ``python`` (always)."""
    return {fw: fw == "python" or driver_for(fw) is not None for fw in FRAMEWORKS}
