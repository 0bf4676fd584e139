"""The rounds loop: run, check, attribute each failure, feed back to the responsible agent, rerun.

:func:`refine` runs the rounds of one feedback method (with the regression guard or without) and
:func:`compare` runs every method on the same tasks and seed; see :mod:`agentracer.refinement`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..trace import Attribution, Trace, normalize_agent
from .checks import answer_of, exact_match, numeric_match, task_id_of
from .notes import FeedbackMemory, Note, attribution_note, clip, critique_note
from .records import Evaluation, RefineResult, RoundRecord
from .runner import _Runner, default_runner

__all__ = ["FEEDBACK_MODES", "compare", "refine"]

log = logging.getLogger("agentracer.refine")
FEEDBACK_MODES = ("attribution", "random", "generic", "none")


def _attributor(tracer: Any, oracle: Callable[[Trace, Any], Attribution] | None) -> tuple[Callable[..., Attribution], str]:
    """``(fn(trace, task, ground_truth) -> Attribution, name)`` for a method string, Attributor or callable."""
    if isinstance(tracer, str):
        if tracer == "oracle":
            if oracle is None:
                raise ValueError("tracer='oracle' needs oracle=(trace, task) -> Attribution (a system that knows the truth)")
            return (lambda tr, task, gt: oracle(tr, task)), "oracle"
        from ..attribution import get_attributor

        att = get_attributor(tracer)
        return (lambda tr, task, gt: att.attribute(tr, ground_truth=gt)), tracer
    if hasattr(tracer, "attribute"):
        return (lambda tr, task, gt: tracer.attribute(tr, ground_truth=gt)), str(getattr(tracer, "name", type(tracer).__name__))
    if callable(tracer):
        return (lambda tr, task, gt: tracer(tr, gt)), getattr(tracer, "__name__", "custom")
    raise TypeError("tracer must be a method string (e.g. 'embedded'), an Attributor, or a callable (trace, ground_truth)")


def _default_critic(trace: Trace, task: Any) -> str:
    steps = "; ".join(f"step {s.index} {s.agent}: {clip(s.content, 80)}" for s in trace.agent_steps()[:12])
    return (f"The final answer {trace.final_answer!r} was judged wrong. Review of the whole trajectory: {steps}. "
            f"Every agent should re-check its own step against the task before passing results on.")



def _derive_notes(
    ev: Evaluation, tasks_by_id: dict[str, Any], feedback: str, attribute: Callable[..., Attribution] | None,
    critic: Callable[[Trace, Any], str], rnd: int, seed: int, used: set[str], max_notes: int, agents: list[str],
    with_gt: bool,
) -> tuple[list[Note], list[dict[str, Any]]]:
    failures = [o for o in ev.outcomes if not o.correct and o.trace is not None and o.trace.agent_steps()]
    fresh = [o for o in failures if o.id not in used] or failures
    rng = random.Random(f"refine:{seed}:{rnd}")
    picked = sorted(fresh, key=lambda o: o.id)
    rng.shuffle(picked)
    picked = picked[:max_notes]
    notes: list[Note] = []
    info: list[dict[str, Any]] = []
    known = {normalize_agent(a): a for a in agents}
    for o in picked:
        used.add(o.id)
        task, tr = tasks_by_id[o.id], o.trace
        assert tr is not None
        if feedback == "generic":
            text = critic(tr, task)
            for agent in [a for a in tr.agents if any(s.agent == a for s in tr.agent_steps())]:
                notes.append(critique_note(agent, text, o.id, rnd))
            info.append({"task": o.id, "to": "every agent", "critique": clip(text, 300)})
            continue
        assert attribute is not None
        try:
            att = attribute(tr, task, answer_of(task) if with_gt else None)
        except Exception as e:
            log.warning("agentracer.refine: attribution of %s failed: %s", o.id, e)
            info.append({"task": o.id, "error": f"{type(e).__name__}: {e}"})
            continue
        if not att.parsed or not att.agent:
            info.append({"task": o.id, "unparsed": True, "raw": clip(att.raw, 200)})
            continue
        if known and normalize_agent(att.agent) not in known:
            info.append({"task": o.id, "skipped": f"agent {att.agent!r} is not an agent of this system"})
            continue
        agent, step = known.get(normalize_agent(att.agent), att.agent), att.step
        if feedback == "random":
            r2 = random.Random(f"random-agent:{seed}:{rnd}:{o.id}")
            candidates = sorted({s.agent for s in tr.agent_steps()})
            agent = r2.choice(candidates)
            step = r2.choice([s.index for s in tr.agent_steps() if s.agent == agent])
        notes.append(attribution_note(att, tr, task, o.id, rnd, agent=agent, step=step))
        info.append({"task": o.id, "agent": agent, "step": step, "attributed_agent": att.agent,
                     "attributed_step": att.step, "reason": clip(att.reason, 300), "method": att.method})
    return notes, info


def refine(
    system: Any,
    tasks: Sequence[Any],
    checker: Callable[[Any, Any], bool] | str = numeric_match,
    rounds: int = 3,
    *,
    tracer: Any = "embedded",
    feedback: str = "attribution",
    guard: bool = True,
    run: Callable[[Any, Any], Any] | None = None,
    eval_tasks: Sequence[Any] | None = None,
    seed: int = 0,
    max_items: int = 3,
    max_chars: int = 1200,
    max_notes_per_round: int = 8,
    critic: Callable[[Trace, Any], str] | None = None,
    oracle: Callable[[Trace, Any], Attribution] | None = None,
    with_ground_truth: bool = True,
    cache: dict[str, Evaluation] | None = None,
    progress: Callable[[str], None] | None = None,
    on_round: Callable[[RoundRecord], None] | None = None,
    name: str | None = None,
) -> RefineResult:
    """Run ``rounds`` self-improvement rounds of ``system`` on ``tasks``; returns every round's figures.

    ``checker(answer, task) -> bool`` (or ``"numeric"``/``"exact"``); ``run(system, task) -> answer``
    (default: :func:`default_runner`); ``tracer``: the attribution backend (see the module docstring);
    ``feedback``: ``attribution`` | ``random`` | ``generic`` | ``none``; ``guard``: the regression guard;
    ``eval_tasks``: held-out tasks scored after each round with the kept feedback (never fed back);
    ``max_notes_per_round``: failures turned into notes per round (taken in a seeded order, unused ones
    first); ``critic(trace, task) -> str`` writes the generic critique; ``oracle(trace, task)`` is the
    gold attribution for ``tracer="oracle"``; ``cache`` shares identical evaluations between calls.
    """
    if feedback not in FEEDBACK_MODES:
        raise ValueError(f"feedback must be one of {', '.join(FEEDBACK_MODES)}, not {feedback!r}")
    if rounds < 0:
        raise ValueError("rounds must be >= 0")
    if not tasks:
        raise ValueError("refine needs at least one task")
    if isinstance(checker, str):
        checker = {"numeric": numeric_match, "exact": exact_match}[checker]
    attribute, tracer_name = (None, None)
    if feedback in ("attribution", "random"):
        attribute, tracer_name = _attributor(tracer, oracle)
    critic = critic or _default_critic
    runner = _Runner(system, run or default_runner, checker, cache, progress)
    tasks = list(tasks)
    tasks_by_id = {task_id_of(t, i): t for i, t in enumerate(tasks)}
    memory = FeedbackMemory(max_items, max_chars)
    method = name or (f"tracer:{tracer_name}" if feedback == "attribution" else
                      f"random-agent ({tracer_name})" if feedback == "random" else feedback)

    def held_out(mem: FeedbackMemory) -> float | None:
        return runner.evaluate(eval_tasks, mem, "held-out").accuracy if eval_tasks else None

    t0 = time.perf_counter()
    current = runner.evaluate(tasks, memory, "tasks")
    records = [RoundRecord(0, current.accuracy, current.correct, len(tasks), eval_accuracy=held_out(memory),
                           failures=[o.id for o in current.outcomes if not o.correct],
                           seconds=time.perf_counter() - t0)]
    if on_round:
        on_round(records[0])
    used: set[str] = set()
    for rnd in range(1, rounds + 1):
        t0 = time.perf_counter()
        notes: list[Note] = []
        info: list[dict[str, Any]] = []
        if feedback != "none":
            notes, info = _derive_notes(current, tasks_by_id, feedback, attribute, critic, rnd, seed, used,
                                        max_notes_per_round, runner.agents, with_ground_truth)
        candidate = memory.copy()
        for n in notes:
            candidate.add(n)
        cand_eval = runner.evaluate(tasks, candidate, "tasks") if notes else current
        accepted = not guard or cand_eval.accuracy >= current.accuracy
        if accepted:
            memory, current = candidate, cand_eval
        else:
            runner.settle(memory)  # roll back: the agents are told the previous feedback again
        rec = RoundRecord(
            rnd, current.accuracy, current.correct, len(tasks), candidate_accuracy=cand_eval.accuracy,
            accepted=accepted, eval_accuracy=held_out(memory),
            failures=[o.id for o in current.outcomes if not o.correct], notes=info,
            feedback={a: memory.summary(a) for a in memory.agents()}, seconds=time.perf_counter() - t0,
        )
        records.append(rec)
        if on_round:
            on_round(rec)
    runner.settle(memory)
    return RefineResult(method=method, guard=guard, rounds=records, tracer=tracer_name, seed=seed, memory=memory)


def compare(
    system: Any,
    tasks: Sequence[Any],
    checker: Callable[[Any, Any], bool] | str = numeric_match,
    rounds: int = 3,
    *,
    methods: Sequence[str] = ("none", "generic", "random", "tracer:embedded"),
    random_base: str = "embedded",
    guards: Sequence[bool] = (True, False),
    progress: Callable[[str], None] | None = None,
    **kwargs: Any,
) -> list[RefineResult]:
    """Every method on the same tasks and seed, each with and without the guard (``none``: once).

    ``methods``: ``none``, ``generic``, ``random`` (notes from ``random_base`` aimed at a random agent),
    ``tracer:<backend>`` (``tracer:embedded``, ``tracer:oracle``, ``tracer:openai:MODEL@URL`` ...).
    Identical evaluations (same feedback state) are run once and shared.
    """
    cache: dict[str, Evaluation] = kwargs.pop("cache", None) or {}
    out: list[RefineResult] = []
    for m in methods:
        if m == "none":
            spec = [("none", None, False)]
        elif m == "generic":
            spec = [("generic", None, g) for g in guards]
        elif m == "random":
            spec = [("random", random_base, g) for g in guards]
        elif m.startswith("tracer:"):
            spec = [("attribution", m.split(":", 1)[1], g) for g in guards]
        else:
            raise ValueError(f"unknown method {m!r}; use none, generic, random or tracer:<backend>")
        for fb, tracer, g in spec:
            if progress:
                progress(f"method {m}{' +guard' if g else ''}")
            res = refine(system, tasks, checker, rounds, tracer=tracer or "embedded", feedback=fb, guard=g,
                         cache=cache, progress=progress,
                         name="random-agent" if fb == "random" else None, **kwargs)
            out.append(res)
    return out

