"""Feedback notes and their bounded memory: what each agent is told about earlier failed runs.

A :class:`Note` is one piece of feedback for one agent (an attribution: step, reason, suggested
correction; or a generic critique). :class:`FeedbackMemory` keeps them per agent, merging repeats and
dropping the oldest, and renders the bounded text an agent is given.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from ..recording.redact import redact
from ..trace import Attribution, Trace, normalize_agent
from .checks import question_of

__all__ = ["FeedbackMemory", "Note", "attribution_note", "clip", "correction_of", "critique_note"]


def clip(text: Any, n: int) -> str:
    """``text`` on one line, cut to ``n`` characters (with an ellipsis when cut)."""
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
        body = self.body if max_body is None else clip(self.body, max_body)
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
        return f"redo this step and check it against the task so that this does not recur: {clip(att.reason, 120)}"
    return "redo this step carefully and check it against the task before passing it on"


def attribution_note(att: Attribution, trace: Trace, task: Any, task_id: str, rnd: int,
                     agent: str | None = None, step: int | None = None) -> Note:
    """The note telling ``agent`` (default: the attributed one) about a failed run: step, reason, correction."""
    agent = agent or att.agent or "unknown"
    step = att.step if step is None else step
    out = ""
    if step is not None and 0 <= step < len(trace.steps):
        out = trace.steps[step].content
    # feedback goes back into the agents' prompts: redact before clipping (a clipped secret no longer matches)
    reason = clip(redact(att.reason or "the tracer gave no reason"), 220)
    body = (
        f"In a failed run of \"{clip(redact(question_of(task)), 180)}\", your output \"{clip(redact(out), 120)}\" "
        f"at step {step} was identified as the decisive error. Reason: {reason}. "
        f"Suggested correction: {clip(redact(correction_of(att)), 200)}."
    )
    return Note(agent=agent, key=_key(agent, att.reason or "no reason"), body=body, kind="step", step=step,
                round=rnd, task_id=task_id)


def critique_note(agent: str, critique: str, task_id: str, rnd: int) -> Note:
    """The generic (Self-Refine style) critique, as a note for ``agent``."""
    return Note(agent=agent, key=_key("*", critique[:60]), body=clip(redact(critique), 400), kind="critique",
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

