"""The base of the generators' task domains: tasks, transcript turns, tool-call parsing and :class:`Domain`.

A :class:`Domain` knows, for its tasks: the agents and their roles, who speaks next (read from what was
said, so a wrong handoff really reroutes the run), what a *correct* agent says given the same inputs
(:meth:`Domain.act` — the scripted agents and the scripted oracle), which faults each agent can make,
the tools, the final answer and the checker. Agents read their inputs from the transcript (the plan,
the last value, the last tool result), so a corrupted step propagates the way it would in a real run.
"""

from __future__ import annotations

import ast
import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Domain", "Task", "Turn", "count_turns", "first_turn", "parse_tool_calls", "task_id_of"]



@dataclass
class Task:
    """One checkable task: the question, the gold answer, and domain data (ops, tests, knowledge base)."""

    domain: str
    task_id: str
    question: str
    answer: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "task_id": self.task_id, "question": self.question, "answer": self.answer,
                "data": self.data}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Task:
        return cls(d["domain"], d["task_id"], d["question"], d["answer"], dict(d.get("data") or {}))


@dataclass
class Turn:
    """One agent turn as the agents see it: who spoke, what they said, and the tool calls it made."""

    agent: str
    text: str
    tools: list[dict[str, Any]] = field(default_factory=list)

    def render(self) -> str:
        extra = "".join(f"\n[{t['name']}({', '.join(json.dumps(a) for a in t['args'])}) -> {t['result']}]" for t in self.tools)
        return f"{self.agent}: {self.text}{extra}"

    def to_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "text": self.text, "tools": self.tools}


def task_id_of(domain: str, question: str) -> str:
    """A stable id of a task (its domain and question): the same task gets the same id on every framework."""
    return hashlib.sha1(f"{domain}\n{question}".encode()).hexdigest()[:12]


_CALL = re.compile(r"CALL\s+([A-Za-z_]\w*)\((.*?)\)\s*$", re.M)


def parse_tool_calls(text: str) -> list[tuple[str, tuple[Any, ...]]]:
    """``CALL name(arg, ...)`` lines of ``text`` as ``(name, args)``; unreadable arguments give ``()``."""
    out = []
    for m in _CALL.finditer(text or ""):
        try:
            args = ast.literal_eval(f"({m.group(2)},)") if m.group(2).strip() else ()
        except (ValueError, SyntaxError):
            args = (m.group(2),)
        out.append((m.group(1), tuple(args)))
    return out


class Domain:
    """Base class of a task domain (see the module docstring)."""

    name = "base"
    agents: tuple[str, ...] = ()
    roles: dict[str, str] = {}
    faults: dict[str, tuple[str, ...]] = {}

    def make_task(self, rng: random.Random, size: int) -> Task:
        raise NotImplementedError

    def bind(self, task: Task) -> Domain:
        """The domain as one run of ``task`` sees it (per-task agent names, for domains that vary them)."""
        return self

    def next_agent(self, task: Task, transcript: list[Turn]) -> str | None:
        raise NotImplementedError

    def act(self, agent: str, task: Task, transcript: list[Turn]) -> str:
        raise NotImplementedError

    def tools(self, task: Task) -> dict[str, Any]:
        return {}

    def final_answer(self, task: Task, transcript: list[Turn]) -> str | None:
        for t in reversed(transcript):
            m = re.search(r"FINAL ANSWER:\s*(.+)", t.text or "")
            if m:
                return m.group(1).strip()
        return None

    def check(self, task: Task, answer: str | None) -> bool:
        return answer is not None and _norm(answer) == _norm(task.answer)

    def expected_steps(self, task: Task) -> int:
        raise NotImplementedError

    def size_for(self, rng: random.Random) -> int:
        """A default run length (agent steps) for generated datasets."""
        return rng.randint(6, 16)

    def vocabulary(self, task: Task) -> list[str]:
        """Plausible names and values a fabricated fact may draw from."""
        return []

    def max_turns(self, task: Task) -> int:
        return 2 * self.expected_steps(task) + 10


def _norm(s: str) -> str:
    s = str(s).strip().strip(".").strip().lower()
    try:
        f = float(s.replace(",", ""))
        return str(int(f)) if f == int(f) else str(f)
    except ValueError:
        return s


def count_turns(transcript: list[Turn], agents: tuple[str, ...] | set[str]) -> int:
    """How many turns of ``transcript`` the ``agents`` took."""
    return sum(1 for t in transcript if t.agent in agents)


def first_turn(transcript: list[Turn], agent: str) -> Turn | None:
    """``agent``'s first turn in ``transcript``, or None."""
    return next((t for t in transcript if t.agent == agent), None)


