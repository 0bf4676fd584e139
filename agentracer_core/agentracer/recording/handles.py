"""The handles plugins hold: :class:`Run` (a run being recorded), :class:`StepHandle` (an open step and its
span) and :class:`NullHandle` (what a failed or disabled call returns), plus the context variables that say
which run and which agent step are current in the caller's context."""

from __future__ import annotations

import contextvars
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from ..trace import Step, Trace
from .clean import _clean
from .spill import CallKeyCounts

if TYPE_CHECKING:
    from .recorder import Recorder

__all__ = ["NullHandle", "Run", "StepHandle"]

_current_run: contextvars.ContextVar[Run | None] = contextvars.ContextVar("agentracer_run", default=None)
_current_step: contextvars.ContextVar[StepHandle | None] = contextvars.ContextVar("agentracer_step", default=None)


class NullHandle:
    """Handle returned when recording failed or is off: every method is a no-op."""

    step: Step | None = None
    index: int | None = None
    replayed: dict[str, Any] | None = None

    def end(self, *args: Any, **kwargs: Any) -> None:
        return None

    def set(self, **kwargs: Any) -> None:
        return None

    def __enter__(self) -> NullHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


class StepHandle:
    """An open step: its :class:`Step`, its span, and ``end()`` to close both."""

    def __init__(self, recorder: Recorder, run: Run, step: Step, span: Any, token: Any = None) -> None:
        self.recorder = recorder
        self.run = run
        self.step = step
        self.span = span
        self._token = token
        self._ended = False
        self.replayed: dict[str, Any] | None = None
        self.owns_span = True  # False when the span was adopted from the framework (its owner ends it)

    @property
    def index(self) -> int:
        return self.step.index

    def set(self, **fields: Any) -> None:
        """Update Step fields (``content``, ``tool_result``, ``metadata``...) before the step ends."""
        self.recorder._safe_call(self._set, fields)

    def _set(self, fields: dict[str, Any]) -> None:
        red = self.recorder.redact
        for k, v in fields.items():
            if k == "metadata":
                self.step.metadata.update(_clean(v, red))
            elif k == "replay":
                self.step.replay.update(_clean(v, red))
            elif k in ("tool_args", "tool_result"):
                setattr(self.step, k, _clean(v, red))
            elif isinstance(v, str):
                setattr(self.step, k, red(v))
            else:
                setattr(self.step, k, v)

    def end(
        self,
        output: Any = None,
        *,
        usage: dict[str, int] | None = None,
        error: BaseException | str | None = None,
        response: Any = None,
        **fields: Any,
    ) -> None:
        """Close the step: record ``output`` (and ``usage``, ``error``, the raw ``response`` payload)."""
        rec = self.recorder
        try:  # what _safe_call does, without its extra frame (a step ends on every LLM and tool call)
            rec._end_step(self, output, usage, error, response, fields)
        except Exception:
            rec._internal_error(rec._end_step)

    def __enter__(self) -> StepHandle:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if not self._ended:
            self.end(error=exc)


class Run:
    """An active run: its :class:`Trace` under construction, its root span and its open steps."""

    def __init__(self, recorder: Recorder, trace: Trace, span: Any, implicit: bool) -> None:
        self.recorder = recorder
        self.trace = trace
        self.span = span
        self.implicit = implicit
        self.lock = threading.RLock()
        self.open_steps: list[StepHandle] = []
        self.llm_seen = CallKeyCounts()  # occurrences of each LLM call key (compact: long runs make many)
        self.resident: deque[Step] = deque()
        self.ended = False
        self.token: Any = None
        self.origin: Any = None  # where the run was started (see recording.latest)

    def innermost_agent_step(self) -> StepHandle | None:
        with self.lock:
            for h in reversed(self.open_steps):
                if h.step.parent is None:
                    return h
        return None

    def end(self, outcome: str | None = None, final_answer: str | None = None) -> Trace:
        """Finish the run (see :meth:`Recorder.end_run`) and return its trace."""
        self.recorder.end_run(self, outcome=outcome, final_answer=final_answer)
        return self.trace

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if not self.ended:
            self.recorder.end_run(self, error=exc)
