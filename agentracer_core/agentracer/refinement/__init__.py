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
"""

from __future__ import annotations

import asyncio
import copy
import functools
import hashlib
import json
import logging
import os
import random
import re
import time
import types
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..trace import Attribution, Trace, normalize_agent

__all__ = [
    "FeedbackMemory",
    "Note",
    "RefineResult",
    "RoundRecord",
    "compare",
    "exact_match",
    "numeric_match",
    "openai_chat",
    "refine",
    "refine_cli",
]

log = logging.getLogger("agentracer.refine")
FEEDBACK_MODES = ("attribution", "random", "generic", "none")


# ---------------------------------------------------------------------------------------------- checkers
def _question(task: Any) -> str:
    if isinstance(task, str):
        return task
    if isinstance(task, dict):
        return str(task.get("question") or task.get("problem") or task.get("task") or task.get("input") or "")
    return str(getattr(task, "question", None) or getattr(task, "problem", None) or task)


def _answer(task: Any) -> str | None:
    v = task.get("answer", task.get("solution")) if isinstance(task, dict) else getattr(task, "answer", None)
    return None if v is None else str(v)


def _task_id(task: Any, i: int) -> str:
    tid = task.get("id") if isinstance(task, dict) else getattr(task, "id", None)
    return str(tid) if tid is not None else f"task{i:04d}"


def _final_number(text: Any) -> str | None:
    s = str(text or "")
    m = re.search(r"ANSWER:\s*(-?\d+(?:\.\d+)?)", s)
    if m is None:
        boxed = re.findall(r"\\boxed\{([^}]*)\}", s)
        nums = re.findall(r"-?\d+(?:\.\d+)?", boxed[-1] if boxed else s)
        return nums[-1] if nums else None
    return m.group(1)


def numeric_match(answer: Any, task: Any) -> bool:
    """Exact numeric match of the answer's final number (``ANSWER: n``, ``\\boxed{n}`` or the last number)."""
    got, want = _final_number(answer), _answer(task)
    if got is None or want is None:
        return False
    try:
        return float(got) == float(want)
    except ValueError:
        return False


def exact_match(answer: Any, task: Any) -> bool:
    """Exact match after trimming and lower-casing (numeric tasks: see :func:`numeric_match`)."""
    want = _answer(task)
    return want is not None and str(answer or "").strip().lower() == want.strip().lower()


# ---------------------------------------------------------------------------------------------- notes
def _clip(text: Any, n: int) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= n else s[: max(0, n - 1)].rstrip() + "…"


@dataclass
class Note:
    """One feedback note for one agent: ``kind`` ``step`` (attribution) or ``critique`` (generic)."""

    agent: str
    key: str
    body: str
    kind: str = "step"
    step: int | None = None
    round: int = 0
    count: int = 1
    task_id: str | None = None

    def line(self, max_body: int | None = None) -> str:
        """The note as one ``- [...] body`` line (the bracket holds what changes between rounds)."""
        head = f"step {self.step}" if self.kind == "step" else "critique"
        body = self.body if max_body is None else _clip(self.body, max_body)
        return f"- [{head} · round {self.round} · seen {self.count}x] {body}"


def _key(agent: str, text: str) -> str:
    norm = re.sub(r"-?\d+(?:\.\d+)?", "#", " ".join(text.lower().split()))[:120]
    return f"{normalize_agent(agent)}|{norm}"


def correction_of(att: Attribution) -> str:
    """The suggested correction: the tracer's own (``metadata['correction']``), else one built from the reason."""
    for k in ("correction", "suggestion", "fix"):
        v = (att.metadata or {}).get(k)
        if isinstance(v, str) and v.strip():
            return v.strip()
    if att.reason:
        return f"redo this step and check it against the task so that this does not recur: {_clip(att.reason, 120)}"
    return "redo this step carefully and check it against the task before passing it on"


def attribution_note(att: Attribution, trace: Trace, task: Any, task_id: str, rnd: int,
                     agent: str | None = None, step: int | None = None) -> Note:
    """The note telling ``agent`` (default: the attributed one) about a failed run: step, reason, correction."""
    agent = agent or att.agent or "unknown"
    step = att.step if step is None else step
    out = ""
    if step is not None and 0 <= step < len(trace.steps):
        out = trace.steps[step].content
    reason = _clip(att.reason or "the tracer gave no reason", 220)
    body = (
        f"In a failed run of \"{_clip(_question(task), 180)}\", your output \"{_clip(out, 120)}\" at step {step} "
        f"was identified as the decisive error. Reason: {reason}. Suggested correction: {_clip(correction_of(att), 200)}."
    )
    return Note(agent=agent, key=_key(agent, att.reason or "no reason"), body=body, kind="step", step=step,
                round=rnd, task_id=task_id)


def critique_note(agent: str, critique: str, task_id: str, rnd: int) -> Note:
    """The generic (Self-Refine style) critique, as a note for ``agent``."""
    return Note(agent=agent, key=_key("*", critique[:60]), body=_clip(critique, 400), kind="critique",
                round=rnd, task_id=task_id)


class FeedbackMemory:
    """Accumulated feedback per agent, bounded: at most ``max_items`` notes and ``max_chars`` characters.

    A note with the same key as an existing one (same agent, same reason up to numbers) is merged: its
    count grows and it becomes the newest. When an agent has too many notes, the least recent is
    dropped (and counted in the summary's last line).
    """

    def __init__(self, max_items: int = 3, max_chars: int = 1200) -> None:
        self.max_items = max(1, int(max_items))
        self.max_chars = max(200, int(max_chars))
        self.notes: dict[str, list[Note]] = {}
        self.dropped: dict[str, int] = {}

    def copy(self) -> FeedbackMemory:
        """A deep copy (rounds are tried on copies; the guard keeps or discards them)."""
        return copy.deepcopy(self)

    def add(self, note: Note) -> None:
        """Add or merge ``note`` for its agent, keeping the bound."""
        notes = self.notes.setdefault(note.agent, [])
        for i, n in enumerate(notes):
            if n.key == note.key:
                n.count += note.count
                n.round = max(n.round, note.round)
                notes.append(notes.pop(i))
                return
        notes.append(copy.copy(note))
        while len(notes) > self.max_items:
            notes.pop(0)
            self.dropped[note.agent] = self.dropped.get(note.agent, 0) + 1

    def agents(self) -> list[str]:
        """Agents that have feedback."""
        return [a for a, ns in self.notes.items() if ns]

    def summary(self, agent: str) -> str:
        """The bounded text given to ``agent`` (empty if it has no notes)."""
        notes = self.notes.get(agent) or []
        if not notes:
            return ""
        critique = all(n.kind == "critique" for n in notes)
        head = ("Critique of earlier failed runs of the whole system (given to every agent), newest first:"
                if critique else f"Feedback for {agent} from failure attribution of earlier runs, newest first:")
        tail = f"({self.dropped[agent]} older notes dropped)" if self.dropped.get(agent) else ""
        budget = None
        while True:
            lines = [head, *(n.line(budget) for n in reversed(notes))]
            if tail:
                lines.append(tail)
            text = "\n".join(lines)
            if len(text) <= self.max_chars or (budget is not None and budget <= 60):
                return text[: self.max_chars]
            over = len(text) - self.max_chars
            longest = max(len(n.body) for n in notes) if budget is None else budget
            budget = max(60, longest - over // len(notes) - 1)

    def fingerprint(self) -> str:
        """A stable hash of what each agent would be told (used to reuse identical evaluations)."""
        blob = json.dumps({a: self.summary(a) for a in sorted(self.agents())}, sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """Per agent: its summary text and notes."""
        return {a: {"summary": self.summary(a), "notes": [asdict(n) for n in self.notes[a]],
                    "dropped": self.dropped.get(a, 0)} for a in self.agents()}


# ---------------------------------------------------------------------------------------------- results
@dataclass
class TaskOutcome:
    """One task run: whether it was right, the answer, and its recorded trace."""

    id: str
    correct: bool
    answer: str | None
    trace: Trace | None = None
    error: str | None = None


@dataclass
class Evaluation:
    """All tasks run with one feedback state."""

    outcomes: list[TaskOutcome]

    @property
    def accuracy(self) -> float:
        return sum(o.correct for o in self.outcomes) / len(self.outcomes) if self.outcomes else 0.0

    @property
    def correct(self) -> int:
        return sum(o.correct for o in self.outcomes)


@dataclass
class RoundRecord:
    """One round: accuracy of the system kept after it, the candidate's accuracy, and what was fed back.

    Round 0 is the system before any feedback. ``accepted`` is False when the guard rolled the round's
    feedback back (``accuracy`` then stays that of the previous round).
    """

    round: int
    accuracy: float
    correct: int
    total: int
    candidate_accuracy: float | None = None
    accepted: bool = True
    eval_accuracy: float | None = None
    failures: list[str] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    feedback: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict."""
        return asdict(self)


@dataclass
class RefineResult:
    """The rounds of one method (with or without the guard)."""

    method: str
    guard: bool
    rounds: list[RoundRecord]
    tracer: str | None = None
    system: str | None = None
    seed: int = 0
    memory: FeedbackMemory | None = None

    @property
    def label(self) -> str:
        """``method`` plus ``+guard`` when the regression guard was on."""
        return f"{self.method} +guard" if self.guard and self.method != "none" else self.method

    @property
    def accuracies(self) -> list[float]:
        """Accuracy after each round (round 0 first)."""
        return [r.accuracy for r in self.rounds]

    @property
    def eval_accuracies(self) -> list[float | None]:
        """Held-out accuracy after each round (None without held-out tasks)."""
        return [r.eval_accuracy for r in self.rounds]

    @property
    def feedback(self) -> dict[str, str]:
        """The feedback each agent holds at the end."""
        return self.rounds[-1].feedback if self.rounds else {}

    def apply(self, system: Any) -> Any:
        """Tell ``system`` (e.g. a fresh production instance) the final feedback, agent by agent; returns it."""
        from .. import inject_feedback

        for agent, text in self.feedback.items():
            system = inject_feedback(system, agent, text) or system
        return system

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict."""
        return {"method": self.method, "guard": self.guard, "label": self.label, "tracer": self.tracer,
                "system": self.system, "seed": self.seed, "accuracies": self.accuracies,
                "eval_accuracies": self.eval_accuracies, "rounds": [r.to_dict() for r in self.rounds]}


# ---------------------------------------------------------------------------------------------- running
def _is_factory(system: Any) -> bool:
    return isinstance(system, (types.FunctionType, types.MethodType, functools.partial, type)) or getattr(
        system, "__agentracer_factory__", False)


def default_runner(system: Any, task: Any) -> str:
    """Run one task on any system a framework plugin can run (``agentracer_run``): a MaAS workflow, a
    LangGraph graph, an AutoGen team, a CAMEL Workforce.

    Anything else needs ``run=``: a function ``(system, task) -> answer``.
    """
    from ..hooks import run_system

    return run_system(system, _question(task))


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
    steps = "; ".join(f"step {s.index} {s.agent}: {_clip(s.content, 80)}" for s in trace.agent_steps()[:12])
    return (f"The final answer {trace.final_answer!r} was judged wrong. Review of the whole trajectory: {steps}. "
            f"Every agent should re-check its own step against the task before passing results on.")


class _Runner:
    """Runs all tasks with a feedback state on a (fresh or shared) instrumented system; caches by state."""

    def __init__(self, system: Any, run: Callable[[Any, Any], Any], checker: Callable[[Any, Any], bool],
                 cache: dict[str, Evaluation] | None, progress: Callable[[str], None] | None) -> None:
        from .. import instrument
        from ..recording import Recorder

        self.factory = system if _is_factory(system) else None
        self.instance = None if self.factory else system
        self.run = run
        self.checker = checker
        self.cache = cache if cache is not None else {}
        self.progress = progress
        self.recorder = Recorder(keep=4)
        self._instrument = instrument
        self._told: dict[str, str] = {}
        self.agents: list[str] = []
        if self.instance is not None:
            self.instance = instrument(self.instance, recorder=self.recorder)

    def _system_for(self, memory: FeedbackMemory) -> Any:
        from .. import inject_feedback

        def tell(system: Any, agent: str, text: str) -> None:
            try:
                inject_feedback(system, agent, text)
            except (TypeError, ValueError) as e:  # an agent the plugin cannot reach: say so, keep going
                log.warning("agentracer.refine: feedback for %r not delivered: %s", agent, e)

        if self.factory is not None:
            sys_ = self._instrument(self.factory(), recorder=self.recorder)
            for agent in memory.agents():
                tell(sys_, agent, memory.summary(agent))
            return sys_
        want = {a: memory.summary(a) for a in memory.agents()}
        for agent in sorted(set(self._told) | set(want)):
            text = want.get(agent, "")
            if self._told.get(agent, "") != text:
                tell(self.instance, agent, text)
        self._told = {a: t for a, t in want.items() if t}
        return self.instance

    def settle(self, memory: FeedbackMemory) -> None:
        """Leave a system instance told exactly ``memory`` (after a rollback, and at the end)."""
        if self.instance is not None:
            self._system_for(memory)

    def _note_agents(self, ev: Evaluation) -> None:
        for o in ev.outcomes:
            for s in o.trace.agent_steps() if o.trace is not None else []:
                if s.agent not in self.agents:
                    self.agents.append(s.agent)

    def evaluate(self, tasks: Sequence[Any], memory: FeedbackMemory, tag: str) -> Evaluation:
        ids = hashlib.sha256("|".join(_task_id(t, i) for i, t in enumerate(tasks)).encode()).hexdigest()[:12]
        key = f"{tag}:{ids}:{memory.fingerprint()}"
        if key in self.cache:
            self._note_agents(self.cache[key])
            return self.cache[key]
        system = self._system_for(memory)
        outcomes = []
        for i, task in enumerate(tasks):
            before = self.recorder.last_trace()
            err = None
            try:
                answer = self.run(system, task)
            except Exception as e:  # a crashing run is a failed task, not a crashed loop
                answer, err = None, f"{type(e).__name__}: {e}"
                log.warning("agentracer.refine: task %s raised %s", _task_id(task, i), err)
            tr = self.recorder.last_trace()
            tr = tr if tr is not None and tr is not before else None
            ok = False
            if err is None:
                try:
                    ok = bool(self.checker(answer, task))
                except Exception as e:  # a checker that cannot read the answer marks it wrong
                    log.warning("agentracer.refine: checker failed on task %s: %s", _task_id(task, i), e)
            if tr is not None:
                tr.outcome = "success" if ok else "failure"
                if _answer(task) is not None:
                    tr.ground_truth = _answer(task)
            outcomes.append(TaskOutcome(_task_id(task, i), ok, None if answer is None else str(answer), tr, err))
        ev = Evaluation(outcomes)
        self._note_agents(ev)
        self.cache[key] = ev
        if self.progress:
            self.progress(f"{tag}: {ev.correct}/{len(outcomes)} correct")
        return ev


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
            info.append({"task": o.id, "to": "every agent", "critique": _clip(text, 300)})
            continue
        assert attribute is not None
        try:
            att = attribute(tr, task, _answer(task) if with_gt else None)
        except Exception as e:
            log.warning("agentracer.refine: attribution of %s failed: %s", o.id, e)
            info.append({"task": o.id, "error": f"{type(e).__name__}: {e}"})
            continue
        if not att.parsed or not att.agent:
            info.append({"task": o.id, "unparsed": True, "raw": _clip(att.raw, 200)})
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
                     "attributed_step": att.step, "reason": _clip(att.reason, 300), "method": att.method})
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
    tasks_by_id = {_task_id(t, i): t for i, t in enumerate(tasks)}
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


# ---------------------------------------------------------------------------------------------- real LLMs
def openai_chat(base_url: str, model: str, messages: list[dict[str, str]], *, api_key: str | None = None,
                temperature: float = 0.0, max_tokens: int = 512, timeout: float = 120.0) -> str:
    """One chat completion from an OpenAI-compatible endpoint (``POST {base_url}/chat/completions``)."""
    url = base_url.rstrip("/") + "/chat/completions"
    body = json.dumps({"model": model, "messages": messages, "temperature": temperature,
                       "max_tokens": max_tokens}).encode("utf-8")
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json",
                                                         "Authorization": f"Bearer {api_key or 'none'}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            data = json.loads(resp.read().decode("utf-8"))
    except urllib.error.URLError as e:
        raise ConnectionError(f"{url}: {e}") from e
    try:
        return str(data["choices"][0]["message"]["content"] or "")
    except (KeyError, IndexError, TypeError) as e:
        raise ConnectionError(f"{url}: unexpected response {str(data)[:200]}") from e


class OpenAICompatLLM:
    """A MaAS-shaped LLM (``async aask``) backed by an OpenAI-compatible endpoint."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, temperature: float = 0.0) -> None:
        self.base_url, self.model, self.api_key, self.temperature = base_url, model, api_key, temperature

    async def aask(self, msg: Any, system_msgs: list[str] | None = None, *args: Any, **kwargs: Any) -> str:
        messages = [{"role": "system", "content": s} for s in system_msgs or []]
        messages += [{"role": "user", "content": msg}] if isinstance(msg, str) else list(msg)
        return await asyncio.to_thread(openai_chat, self.base_url, self.model, messages, api_key=self.api_key,
                                       temperature=self.temperature)


def openai_chat_model(base_url: str, model: str, api_key: str | None = None, temperature: float = 0.0) -> Any:
    """A LangChain chat model for an OpenAI-compatible endpoint: ``ChatOpenAI`` when ``langchain-openai`` is
    installed, else a minimal one of ours (no tools, no streaming)."""
    try:
        from langchain_openai import ChatOpenAI  # type: ignore[import-not-found]

        return ChatOpenAI(base_url=base_url, model=model, api_key=api_key or "none", temperature=temperature)
    except ImportError:
        pass
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    roles = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}

    class OpenAICompatChatModel(BaseChatModel):
        """Chat model over ``POST {base_url}/chat/completions`` (stdlib HTTP)."""

        base_url: str
        model: str
        api_key: str | None = None
        temperature: float = 0.0

        @property
        def _llm_type(self) -> str:
            return "openai-compatible"

        def _generate(self, messages: list[Any], stop: Any = None, run_manager: Any = None, **kw: Any) -> ChatResult:
            payload = [{"role": roles.get(m.type, "user"), "content": str(m.content)} for m in messages]
            text = openai_chat(self.base_url, self.model, payload, api_key=self.api_key, temperature=self.temperature)
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    return OpenAICompatChatModel(base_url=base_url, model=model, api_key=api_key, temperature=temperature)


def llm_critic(base_url: str, model: str, api_key: str | None = None) -> Callable[[Trace, Any], str]:
    """A Self-Refine-style critic: the LLM reads the whole trajectory and writes a critique for every agent."""

    def critic(trace: Trace, task: Any) -> str:
        steps = "\n".join(f"[{s.index}] {s.agent}: {_clip(s.content, 400)}" for s in trace.agent_steps())
        prompt = (
            f"A multi-agent system answered the task below and its final answer was judged wrong.\n"
            f"Task: {_question(task)}\nTrajectory:\n{steps}\nFinal answer: {trace.final_answer}\n\n"
            f"Write a short critique of the whole trajectory with concrete suggestions to improve it "
            f"(Self-Refine style). It will be shown to every agent."
        )
        return openai_chat(base_url, model, [{"role": "user", "content": prompt}], api_key=api_key)

    return critic


# ---------------------------------------------------------------------------------------------- CLI
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "method"


def load_tasks(path: Path) -> list[dict[str, Any]]:
    """Tasks from a JSONL/JSON file of objects with ``question`` (or ``problem``) and ``answer``."""
    from ..trace import TraceError

    text = Path(path).read_text(encoding="utf-8")
    try:
        rows = json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x.strip()]
    except json.JSONDecodeError as e:
        raise TraceError(f"malformed JSON: {e}", file=str(path)) from None
    out = []
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or not _question(r) or _answer(r) is None:
            raise TraceError("each task needs 'question' (or 'problem') and 'answer'", file=str(path), field=f"[{i}]")
        out.append({"id": str(r.get("id", f"task{i:04d}")), "question": _question(r), "answer": _answer(r)})
    return out


def write_outputs(results: dict[str, list[RefineResult]], out: Path, *, simulated: bool, meta: dict[str, Any]) -> dict[str, Path]:
    """One JSON per system, method and round, a summary JSON and the accuracy plot (PNG)."""
    out.mkdir(parents=True, exist_ok=True)
    for sysname, rs in results.items():
        for r in rs:
            d = out / sysname / _slug(r.label)
            d.mkdir(parents=True, exist_ok=True)
            for rec in r.rounds:
                doc = {"simulated_agents": simulated, "system": sysname, "method": r.method, "guard": r.guard,
                       "label": r.label, "tracer": r.tracer, "seed": r.seed, **rec.to_dict()}
                (d / f"round_{rec.round}.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    summary = {"simulated_agents": simulated, **meta,
               "systems": {s: [r.to_dict() for r in rs] for s, rs in results.items()}}
    spath = out / "summary.json"
    spath.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    return {"summary": spath, "plot": plot_results(results, out / "refine_accuracy.png", simulated=simulated)}


def plot_results(results: dict[str, list[RefineResult]], path: Path, *, simulated: bool) -> Path:
    """Accuracy per round per method, one panel per system (solid: with the guard; dashed: without)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(1, len(results))
    fig, axes = plt.subplots(1, n, figsize=(6.2 * n, 5.2), squeeze=False)
    colors: dict[str, Any] = {}
    cmap = plt.get_cmap("tab10")
    for ax, (sysname, rs) in zip(axes[0], results.items(), strict=False):
        for r in rs:
            c = colors.setdefault(r.method, cmap(len(colors) % 10))
            xs = [rec.round for rec in r.rounds]
            ax.plot(xs, [100 * a for a in r.accuracies], marker="o", color=c,
                    linestyle="-" if (r.guard or r.method == "none") else "--", label=r.label)
        ax.set_title(f"{sysname}{' (simulated agents)' if simulated else ''}")
        ax.set_xlabel("round")
        ax.set_ylabel("accuracy on the refined tasks (%)")
        ax.set_ylim(0, 100)
        ax.set_xticks(sorted({rec.round for r in rs for rec in r.rounds}))
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(5, max(1, len(labels))), fontsize=8, frameon=False)
    fig.suptitle("AgenTracer refine: accuracy per round (solid: with regression guard, dashed: without)"
                 + ("\nSIMULATED AGENTS, not LLM results" if simulated else ""))
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def results_table(results: dict[str, list[RefineResult]], *, simulated: bool) -> Any:
    """A rich table: one row per system and method, accuracy per round, held-out accuracy at the end."""
    from rich.table import Table

    rounds = max((len(r.rounds) for rs in results.values() for r in rs), default=1)
    title = "refine: accuracy per round" + (" (SIMULATED AGENTS)" if simulated else "")
    t = Table(title=title)
    t.add_column("system")
    t.add_column("method")
    for i in range(rounds):
        t.add_column(f"r{i}", justify="right")
    t.add_column("Δ r0→last", justify="right")
    t.add_column("held-out r0→last", justify="right")
    t.add_column("rolled back", justify="right")
    for sysname, rs in results.items():
        for r in rs:
            accs = [f"{100 * a:.1f}" for a in r.accuracies] + [""] * (rounds - len(r.rounds))
            ev = r.eval_accuracies
            held = f"{100 * ev[0]:.1f}→{100 * ev[-1]:.1f}" if ev and ev[0] is not None and ev[-1] is not None else "-"
            rb = sum(1 for rec in r.rounds[1:] if not rec.accepted)
            t.add_row(sysname, r.label, *accs, f"{100 * (r.accuracies[-1] - r.accuracies[0]):+.1f}", held, str(rb))
    return t


def refine_cli(
    demo: bool,
    rounds: int,
    out: Path,
    base_url: str | None,
    model: str | None,
    framework: str | None,
    seed: int,
    console: Any,
    *,
    tasks: Path | None = None,
    n_tasks: int = 40,
    tracers: Sequence[str] = (),
    api_key: str | None = None,
) -> dict[str, list[RefineResult]]:
    """``agentracer refine``: the demo (``demo=True``, simulated agents, offline) or a real run
    (``base_url`` + ``model``); writes JSON per round and method, a summary and a PNG, prints a table."""
    import typer

    from ..samples import simulated as sim

    if not demo and not (base_url and model):
        console.print("[bold red]error:[/] pass --demo, or --base-url URL --model M for real LLM agents")
        raise typer.Exit(2)
    fw = (framework or "auto").lower()
    known = {"maas", "langgraph"}
    if fw in ("auto", "all"):
        frameworks = ["maas", "langgraph"] if demo else ["langgraph", "maas"]
    else:
        frameworks = [f.strip() for f in fw.split(",") if f.strip()]
    bad = [f for f in frameworks if f not in known]
    if bad:
        console.print(f"[bold red]error:[/] --framework {', '.join(bad)}: refine runs on {', '.join(sorted(known))} (or auto)")
        raise typer.Exit(2)
    if "langgraph" in frameworks and not _langgraph_ready():
        console.print("[yellow]LangGraph or its agentracer plugin is not available; skipping the LangGraph system[/]")
        frameworks = [f for f in frameworks if f != "langgraph"]
    api_key = api_key or os.environ.get("OPENAI_API_KEY")
    if tasks is not None:
        from ..trace import TraceError

        try:
            train = load_tasks(tasks)
        except (OSError, TraceError) as e:
            console.print(f"[bold red]error:[/] {e}")
            raise typer.Exit(2) from None
        held: list[Any] = []
        oracle_ok = False
    else:
        train = sim.make_tasks(n_tasks, seed, prefix="t")
        held = sim.make_tasks(n_tasks, seed, prefix="h")
        oracle_ok = True
    methods = ["none", "generic", "random", "tracer:embedded", *[f"tracer:{t}" for t in tracers]]
    if oracle_ok:
        methods.append("tracer:oracle")
    if demo:
        console.print(f"[bold yellow]{sim.NOTICE}[/]")
        policy = sim.SimPolicy(seed=seed)
    results: dict[str, list[RefineResult]] = {}
    for f in frameworks:
        if demo:
            system = sim.maas_system(policy=policy) if f == "maas" else sim.langgraph_system(policy=policy)
            critic = sim.simulated_critique
        else:
            assert base_url and model
            if f == "maas":
                system = sim.maas_system(lambda: OpenAICompatLLM(base_url, model, api_key), isolate=True)
            else:
                system = sim.langgraph_system(lambda role: openai_chat_model(base_url, model, api_key), isolate=True)
            critic = llm_critic(base_url, model, api_key)
        console.print(f"[bold]{f}[/]: {len(train)} tasks, {len(held)} held-out, {rounds} rounds, "
                      f"methods: {', '.join(methods)}")
        t0 = time.perf_counter()
        results[f] = compare(
            system.build, train, numeric_match, rounds, methods=methods, run=system.run, eval_tasks=held or None,
            seed=seed, critic=critic, oracle=system.oracle if oracle_ok else None,
        )
        console.print(f"  done in {time.perf_counter() - t0:.1f}s")
    meta = {"rounds": rounds, "seed": seed, "n_tasks": len(train), "n_held_out": len(held),
            "methods": methods, "frameworks": frameworks,
            "agents": "simulated" if demo else f"{model} @ {base_url}"}
    if demo:
        meta["notice"] = sim.NOTICE
        meta["simulation"] = policy.params()
    paths = write_outputs(results, out, simulated=demo, meta=meta)
    console.print(results_table(results, simulated=demo))
    if demo:
        console.print(f"[bold yellow]{sim.NOTICE}[/]")
    console.print(f"wrote {out}/<system>/<method>/round_<r>.json, {paths['summary']} and {paths['plot']}")
    return results


def _langgraph_ready() -> bool:
    try:
        import langgraph  # noqa: F401

        from ..hooks import get_plugin_manager

        return get_plugin_manager().get_plugin("langgraph") is not None
    except ImportError:
        return False
