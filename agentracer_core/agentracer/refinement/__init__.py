"""Self-improvement rounds: run -> check -> attribute each failure -> feed back to the responsible agent -> rerun.

``agentracer.refine(system, tasks, checker, rounds=3, tracer="embedded", feedback="attribution")`` is the
one-liner. Each round it runs every task, checks the answers, attributes each failure (which agent, at
which step, why) and tells **only that agent**, through the framework plugin's
``agentracer_inject_feedback`` hook, a note naming the step, the reason and a suggested correction.
Notes accumulate across rounds but stay bounded: per agent, at most ``max_items`` distinct notes
(repeats are merged and counted) within ``max_chars``, the oldest dropped first.

**Regression guard** (``guard=True``): a round's feedback is kept only if accuracy on the round's tasks
(those its feedback was derived from) does not drop; otherwise the agents' feedback is rolled back.

Feedback methods (``feedback=``), compared by :func:`compare` on the same tasks and seeds:

- ``"attribution"``: the tracer's attribution, to the responsible agent (``tracer`` picks the backend:
  ``embedded``, ``openai:MODEL@URL``, ..., or ``oracle`` when the system knows the truth);
- ``"random"``: the same notes aimed at a random agent (a control);
- ``"generic"``: a Self-Refine-style critique of the whole trajectory, given to every agent;
- ``"none"``: no feedback.

``system`` is a system instance, or a zero-argument factory (a function, class or ``functools.partial``)
building a fresh one; with a factory every round starts from a fresh system told the current feedback,
so rollback is exact on any framework. With an instance, rollback relies on the plugin replacing an
agent's feedback (the MaAS and LangGraph plugins do).

``agentracer refine --demo`` runs all methods offline on simulated agents (:mod:`agentracer.samples.simulated`);
``agentracer refine --base-url URL --model M`` runs them with real LLM agents.

The package, by responsibility: :mod:`.checks` (task fields, checkers), :mod:`.notes` (feedback notes and
their bounded memory), :mod:`.records` (outcomes, rounds, results), :mod:`.runner` (running the system
through its plugin), :mod:`.loop` (``refine``, ``compare``), :mod:`.llm` (OpenAI-compatible helpers),
:mod:`.outputs` (files, plot, table) and :mod:`.cli` (``agentracer refine``).
"""

from __future__ import annotations

from .checks import answer_of, exact_match, numeric_match, question_of, task_id_of
from .cli import refine_cli
from .llm import OpenAICompatLLM, llm_critic, openai_chat
from .loop import FEEDBACK_MODES, compare, refine
from .notes import FeedbackMemory, Note, attribution_note, correction_of, critique_note
from .outputs import load_tasks, plot_results, results_table, write_outputs
from .records import Evaluation, RefineResult, RoundRecord, TaskOutcome
from .runner import default_runner

__all__ = [
    "FEEDBACK_MODES",
    "Evaluation",
    "FeedbackMemory",
    "Note",
    "OpenAICompatLLM",
    "RefineResult",
    "RoundRecord",
    "TaskOutcome",
    "answer_of",
    "attribution_note",
    "compare",
    "correction_of",
    "critique_note",
    "default_runner",
    "exact_match",
    "llm_critic",
    "load_tasks",
    "numeric_match",
    "openai_chat",
    "plot_results",
    "question_of",
    "refine",
    "refine_cli",
    "results_table",
    "task_id_of",
    "write_outputs",
]
