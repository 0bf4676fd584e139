"""What a refinement run produces: each task's outcome, each evaluation, each round and the whole run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..trace import Trace
from .notes import FeedbackMemory

__all__ = ["Evaluation", "RefineResult", "RoundRecord", "TaskOutcome"]


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
        from ..systems import inject_feedback

        for agent, text in self.feedback.items():
            system = inject_feedback(system, agent, text) or system
        return system

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict."""
        return {"method": self.method, "guard": self.guard, "label": self.label, "tracer": self.tracer,
                "system": self.system, "seed": self.seed, "accuracies": self.accuracies,
                "eval_accuracies": self.eval_accuracies, "rounds": [r.to_dict() for r in self.rounds]}

