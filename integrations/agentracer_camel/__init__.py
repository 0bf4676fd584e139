"""AgenTracer plugin for CAMEL (ChatAgent, RolePlaying, Workforce) and OWL.

``agentracer.instrument(x)`` records a ``ChatAgent``, a ``RolePlaying`` society (OWL's
``OwlRolePlaying`` included) or a ``Workforce``::

    society = agentracer.instrument(society)
    answer, history, tokens = agentracer_camel.run_society(society, round_limit=15)   # OWL's loop
    trace = agentracer.last_trace()

This module adds what the three generic hooks cannot express: readable names for Workforce workers
(``instrument(wf, names={...})``), OWL's round loop (:func:`run_society`), :func:`end_run` for runs
driven by your own loop, and :func:`fork` with a round limit. Importing it does not import CAMEL.

The plugin module (:mod:`agentracer_camel.plugin`) is what the ``agentracer`` entry point loads. Inside:
:mod:`.detect` (:func:`is_camel`), :mod:`.instrument` (the class patches and the registry of what is
recorded), :mod:`.steps`, :mod:`.calls`, :mod:`.roleplaying` and :mod:`.workforce` (what each patch
records), :mod:`.session` and :mod:`.names` (which run, which name), :mod:`.memory` (snapshots),
:mod:`.society` (the round loop), :mod:`.fork` and :mod:`.feedback`.
"""

from __future__ import annotations

from .detect import is_camel
from .feedback import agent_names, inject_feedback
from .fork import fork
from .instrument import instrument, uninstrument
from .society import DEFAULT_INIT_PROMPT, arun_society, end_run, run_society

__all__ = [
    "DEFAULT_INIT_PROMPT",
    "agent_names",
    "arun_society",
    "end_run",
    "fork",
    "inject_feedback",
    "instrument",
    "is_camel",
    "run_society",
    "uninstrument",
]
