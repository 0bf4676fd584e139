"""Instrumentation of MaAS operator workflows: operators as agent steps, ``llm.aask`` calls as ``chat`` children.

MaAS (github.com/bingreeky/MaAS) is not on the package registry, so everything here is structural:

- a **workflow** is an object with an ``async __call__`` that holds operators among its attributes
  (directly, or inside a dict/list such as ``selection_operator_instances``);
- an **operator** is an object with an ``async __call__``, an ``llm`` attribute, and either a
  ``_fill_node`` method or a class named ``Operator`` in its MRO (MaAS's ``template/operator.py``);
- the **LLM** is whatever the operators hold in ``.llm``; its ``aask(msg, system_msgs=None, ...)``
  coroutine is wrapped on the instance;
- the **controller** is an attribute whose name contains ``controller`` and that has a ``forward``
  returning ``(log_probs_layers, selected_names_layers)`` (MaAS's ``MultiLayerController``).

Agent names: an operator's agent name is its ``name`` attribute (MaAS sets it to the class name, e.g.
``Generate``). When two distinct operator instances of one workflow share a name, the instance kept in
a dict under that name (the controller's selection pool) keeps the plain name and the others are named
``<name>@<attribute>`` (e.g. ``ScEnsemble@sc_ensemble``), so every agent name is unambiguous. The same
operator instance chosen in several layers is one agent; its calls are separate steps.

Instances are instrumented in place: the workflow's and each operator's class is swapped for a
cached subclass of the same name whose ``__call__`` records the step (``isinstance`` still holds), and
``aask``/``forward`` are wrapped as instance attributes. Nothing global is patched, and every
recorder interaction is guarded, so an error of ours is logged and never reaches the host run.

Where the parts live: :mod:`~agentracer_maas.detect` (the shapes above), :mod:`~agentracer_maas.operators`
(workflow and operator calls), :mod:`~agentracer_maas.wrappers` (``aask`` and ``forward``),
:mod:`~agentracer_maas.output` (step content, schema-keeping replacement), :mod:`~agentracer_maas.fork`
(:class:`MaasFork`), :mod:`~agentracer_maas.state` (shared state); this module attaches and detaches them.
"""

from __future__ import annotations

import weakref
from typing import Any

from agentracer.recording import Recorder, guarded

from .detect import _find_controller, _llms, find_operators
from .operators import _restore_class, _swap_class
from .state import _OWNERS, _STATE, MaasInstrumentation, instrumentation_of, log
from .wrappers import _unwrap_method, _wrap_controller, _wrap_llm

__all__ = ["instrument_workflow", "set_feedback", "uninstrument_workflow"]


def instrument_workflow(workflow: Any, recorder: Recorder) -> Any:
    """Instrument a MaAS workflow in place for ``recorder``; returns the same workflow object.

    Re-instrumenting an instrumented workflow only switches its recorder.
    """
    inst = instrumentation_of(workflow)
    if inst is not None:
        inst.recorder = recorder
        return workflow
    inst = MaasInstrumentation(workflow, recorder)
    inst.operators = find_operators(workflow)
    for op in inst.operators.values():
        if guarded(_swap_class, op, "operator", default=False):
            _OWNERS[id(op)] = weakref.ref(inst)
        else:
            log.warning("agentracer-maas: could not instrument operator %s (not recorded)", type(op).__name__)
    for llm in _llms(workflow, inst.operators):
        guarded(_wrap_llm, llm)
        inst.llms.append(llm)
    inst.controller = _find_controller(workflow)
    if inst.controller is not None:
        guarded(_wrap_controller, inst.controller)
    object.__setattr__(workflow, _STATE, inst)
    if not guarded(_swap_class, workflow, "workflow", default=False):
        log.warning("agentracer-maas: could not instrument workflow %s", type(workflow).__name__)
    return workflow


def uninstrument_workflow(workflow: Any) -> Any:
    """Undo :func:`instrument_workflow`: original classes, ``aask`` and ``forward`` restored."""
    inst = instrumentation_of(workflow)
    if inst is None:
        return workflow
    for obj in [workflow, *inst.operators.values()]:
        _restore_class(obj)
        _OWNERS.pop(id(obj), None)
    for llm in inst.llms:
        _unwrap_method(llm, "aask")
    if inst.controller is not None:
        _unwrap_method(inst.controller, "forward", raw=True)
    try:
        delattr(workflow, _STATE)
    except AttributeError:
        pass
    return workflow


def set_feedback(workflow: Any, agent: str, text: str) -> list[str]:
    """Set (replace) the feedback of operator ``agent``; an empty text clears it. Returns the agents set.

    ``agent`` is an operator agent name (normalised comparison); a bare operator name such as
    ``Generate`` also matches every ``Generate@...`` when no operator is named exactly that.
    Raises ``ValueError`` naming the operators when nothing matches.
    """
    inst = instrumentation_of(workflow)
    if inst is None:
        raise ValueError("workflow is not instrumented")
    targets = inst.resolve(agent)
    if not targets:
        raise ValueError(f"no operator named {agent!r} in this MaAS workflow; operators: {', '.join(inst.agents)}")
    for a in targets:
        if text and text.strip():
            inst.feedback[a] = text.strip()
        else:
            inst.feedback.pop(a, None)
    return targets
