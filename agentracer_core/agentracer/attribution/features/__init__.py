"""Per-step and per-agent features for the embedded attributor (pure Python, no numpy needed).

:func:`extract` turns a :class:`~agentracer.trace.Trace` into one feature row per *candidate* step (the
top-level agent steps, :meth:`Trace.agent_steps`) and one row per agent. The features are generic: they
read step text, speakers, the structure of the conversation and the results of tool/code execution, so
they apply to any framework, not only Who&When. Groups:

- position and structure: first/second/third step, relative position, the last substantive step, whether
  the run ended with a conclusion (``TERMINATE``, "final answer") or ran out of turns;
- speaker: tool/executor steps, the first speaker, the agent's n-th turn, verifier-like names;
- content: length (absolute and relative to the other steps), code blocks, assumption/simulation words,
  inability, agreement, "manual" work an LLM cannot do, claims of results ("I have verified", "after
  reviewing") made without any tool output to back them, numbers and names that neither the task nor
  any earlier step mentioned (unsupported facts);
- outcome of the step's action: the next executor step (or the step's own ``tool_result`` children)
  fails, succeeds or returns nothing;
- value provenance: the answer stated in the concluding message (boxed, "answer: X", a bold value,
  "... is X") is followed back to the step that first states it, and a tool output that first states it
  is credited to the step whose code produced it; with the ground truth (w/ G), where the steps state it;
- "first of its kind" flags (the first step with code, the first assumption, the first failed
  execution, the first unsupported claim) and the rank of a step among the code-writing steps, because
  the decisive step is the *earliest* step whose correction would fix the run;
- a few step cues crossed with trace-level context (concluded or not, any failed execution, any
  unsupported claim, number of code-writing steps).

Speed: cue words are found by substring search on lower-cased text, and each step's text is capped
(head and tail) so a 100-step trace takes a few milliseconds.

Modules: :mod:`.text` (cue words, patterns, numbers and answer spans), :mod:`.checks` (consistency checks
on text), :mod:`.view` (what every group reads about a trace's steps), :mod:`.steps` (:func:`extract` and
the step feature groups), :mod:`.provenance` (where values come from), :mod:`.consistency` (the checks
applied to the steps), :mod:`.agents` (per-agent rows) and :mod:`.names` (the columns).
"""

from __future__ import annotations

from .agents import with_step_mass
from .checks import noop_code, percent_slip, rounding_slip, unit_slips, wrong_equations
from .names import AGENT_FEATURES, STEP_FEATURES, TraceFeatures
from .steps import extract
from .text import answer_span, is_tool_step

__all__ = [
    "AGENT_FEATURES",
    "STEP_FEATURES",
    "TraceFeatures",
    "answer_span",
    "extract",
    "is_tool_step",
    "noop_code",
    "percent_slip",
    "rounding_slip",
    "unit_slips",
    "with_step_mass",
    "wrong_equations",
]
