"""The ``maas`` plugin: the three AgenTracer hooks for MaAS operator workflows.

- wrap: each operator call is an agent step (``invoke_agent <Operator>``), each ``llm.aask`` inside it a
  ``chat`` child, the controller's sampled architecture goes to ``trace.metadata["maas"]``;
- fork: replay the recorded architecture with the recorded LLM responses, override operator call k's
  output (same schema), run the later operators again;
- inject_feedback: the operator's next prompts start with a feedback block (that operator only).

See :mod:`agentracer_maas.instrument` for how workflows, operators and the LLM are recognised
(:mod:`agentracer_maas.detect`).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from agentracer.hooks import hookimpl
from agentracer.recording import Recorder
from agentracer.trace import Trace

from .detect import is_maas
from .fork import MaasFork
from .instrument import instrument_workflow, set_feedback
from .state import FRAMEWORK, instrumentation_of


def _maas_installed() -> bool:
    """Whether a real MaAS checkout is importable (without importing it: its import has side effects)."""
    try:
        spec = importlib.util.find_spec("maas")
    except (ImportError, ValueError):
        spec = None
    locations = list(getattr(spec, "submodule_search_locations", None) or []) if spec else []
    extra = os.environ.get("MAAS_PATH")
    if extra:
        locations.append(str(Path(extra) / "maas"))
    return any((Path(loc) / "ext" / "maas").is_dir() for loc in locations)


@hookimpl
def agentracer_plugin_info() -> dict[str, Any]:
    """MaAS is not on the package registry: no distribution, installed = a MaAS checkout is importable."""
    return {
        "name": "maas",
        "framework": "MaAS (not on PyPI)",
        "distribution": None,
        "installed": _maas_installed(),
        "install": "nothing: not a package, recognised by shape (real MaAS: its checkout on PYTHONPATH or MAAS_PATH)",
    }


def _instrumented(system: Any) -> bool:
    """Whether ``system`` is a MaAS workflow; if so, it is instrumented (with a fresh recorder if it was not)."""
    if not is_maas(system):
        return False
    if instrumentation_of(system) is None:
        instrument_workflow(system, Recorder(framework=FRAMEWORK))
    return True


@hookimpl
def agentracer_wrap(system: Any, recorder: Recorder) -> Any:
    """Instrument a MaAS workflow in place (operators, LLM, controller); None if ``system`` is not one."""
    if not is_maas(system):
        return None
    if getattr(recorder, "framework", None) in (None, "unknown"):
        recorder.framework = FRAMEWORK
    return instrument_workflow(system, recorder)


@hookimpl
def agentracer_fork(system: Any, trace: Trace, step: int, replacement: str) -> Any:
    """A :class:`MaasFork` resuming ``trace`` at operator step ``step`` with its output replaced."""
    if not _instrumented(system):
        return None
    return MaasFork(system, trace, step, replacement)


@hookimpl
def agentracer_inject_feedback(system: Any, agent: str, text: str) -> Any:
    """Set operator ``agent``'s feedback (replacing any earlier one; empty text clears it)."""
    if not _instrumented(system):
        return None
    set_feedback(system, agent, text)
    return system


@hookimpl
def agentracer_run(system: Any, task: str) -> Any:
    """``await workflow(task)``; its answer, or None if ``system`` is not a MaAS workflow."""
    from .run import run_workflow

    return run_workflow(system, task)


@hookimpl
def agentracer_sample(framework: str, kind: str) -> Any:
    """MaAS samples: the annotation generator's driver (``generated``, :mod:`.generated`) and the MaAS-shaped
    ``simulated`` refinement pipeline (:func:`.simulated.maas_system`); None for anything else."""
    if framework != "maas":
        return None
    if kind == "generated":
        from .generated import DRIVER

        return DRIVER
    if kind == "simulated":
        from .simulated import maas_system

        return maas_system
    return None
