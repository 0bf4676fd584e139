"""Running a RolePlaying (OWL) society as one recorded run: OWL's round loop, and closing runs by hand.

:func:`run_society` mirrors OWL's ``run_society`` loop (``init_chat``, then rounds of ``society.step``
until ``TASK_DONE``, termination or the round limit) and records it as one run. A society driven by any
other loop is recorded too (see :mod:`agentracer_camel.roleplaying`); :func:`end_run` closes such a run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from agentracer.recording import Run, guarded
from agentracer.trace import Trace

from .names import usage_of
from .roleplaying import ensure_society_run
from .session import TASK_DONE, Session, camel_meta, close_run, session_of

DEFAULT_INIT_PROMPT = (
    "Please give me instructions, one at a time, to solve the overall task step by step. "
    "Tell me to use a tool whenever the task needs specific knowledge."
)

__all__ = ["DEFAULT_INIT_PROMPT", "arun_society", "end_run", "run_society"]


class _Chat:
    """The chat history and token counts of one drive, kept like OWL does."""

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []
        self.tokens = {"completion_token_count": 0, "prompt_token_count": 0}

    def add(self, a: Any, u: Any) -> bool:
        """Append one round (assistant and user responses); True when the conversation should stop."""
        for resp in (a, u):
            us = usage_of(resp)
            self.tokens["completion_token_count"] += int(us.get("completion_tokens", 0) or 0)
            self.tokens["prompt_token_count"] += int(us.get("prompt_tokens", 0) or 0)
        tool_calls = []
        for tc in (getattr(a, "info", None) or {}).get("tool_calls") or []:
            as_dict = getattr(tc, "as_dict", None)
            tool_calls.append(as_dict() if callable(as_dict) else tc.model_dump())
        u_msg, a_msg = getattr(u, "msg", None), getattr(a, "msg", None)
        self.history.append({
            "user": u_msg.content if u_msg is not None else "",
            "assistant": a_msg.content if a_msg is not None else "",
            "tool_calls": tool_calls,
        })
        return bool(a.terminated or u.terminated or a_msg is None
                    or (u_msg is not None and TASK_DONE in u_msg.content))

    def result(self) -> tuple[str, list[dict[str, Any]], dict[str, int]]:
        """``(answer, chat_history, token_info)`` as OWL's ``run_society`` returns them."""
        return (self.history[-1]["assistant"] if self.history else ""), self.history, self.tokens


def drive(society: Any, input_msg: Any, start: int,
          round_limit: int) -> tuple[str, list[dict[str, Any]], dict[str, int]]:
    """Step ``society`` from round ``start`` on, with ``input_msg``, until it stops or ``round_limit``."""
    chat = _Chat()
    for _ in range(start, round_limit):
        a, u = society.step(input_msg)
        if chat.add(a, u):
            break
        input_msg = a.msg
    return chat.result()


async def _adrive(society: Any, input_msg: Any, start: int,
                  round_limit: int) -> tuple[str, list[dict[str, Any]], dict[str, int]]:
    chat = _Chat()
    for _ in range(start, round_limit):
        a, u = await society.astep(input_msg)
        if chat.add(a, u):
            break
        input_msg = a.msg
    return chat.result()


def begin_managed(session: Session, meta: dict[str, Any]) -> Run | None:
    """Open a fresh run for a society we drive ourselves (the one left open is closed); ``meta`` goes into
    its ``metadata["camel"]``. Agent steps then leave the run open until :func:`end_managed`."""
    with session.lock:
        close_run(session)
        session.run = None
        session.managed = True
        run = ensure_society_run(session)
        if run is not None:
            camel_meta(run).update(meta)
        return run


def _begin_managed(session: Session, round_limit: int) -> bool:
    begin_managed(session, {"round_limit": round_limit})
    return True


def end_managed(session: Session, answer: Any, outcome: str | None, error: BaseException | None) -> Any:
    """Close the run :func:`begin_managed` opened (with ``answer`` and ``outcome``, or ``error``)."""
    session.managed = False
    return close_run(session, final_answer=answer, outcome=outcome, error=error)


def _outcome(check: Callable[[str], bool] | None, answer: str) -> str | None:
    if check is None:
        return None
    return "success" if check(answer) else "failure"


@contextlib.contextmanager
def _managed_run(society: Any, round_limit: int) -> Iterator[dict[str, Any]]:
    """One recorded run around one drive of ``society`` (if it is instrumented): closed with the ``answer``
    and ``outcome`` the body stores in the yielded dict, or with the error that escapes the body."""
    session = session_of(society)
    managed = bool(session and guarded(_begin_managed, session, round_limit, what="run start"))
    end: dict[str, Any] = {"answer": None, "outcome": None}
    try:
        yield end
    except BaseException as e:
        if managed:
            guarded(end_managed, session, None, None, e, what="run end")
        raise
    if managed:
        guarded(end_managed, session, end["answer"], end["outcome"], None, what="run end")


def run_society(
    society: Any,
    round_limit: int = 15,
    *,
    init_prompt: str | None = None,
    check: Callable[[str], bool] | None = None,
) -> tuple[str, list[dict[str, Any]], dict[str, int]]:
    """Run a RolePlaying (or OWL ``OwlRolePlaying``-style) society to completion, as one recorded run.

    The loop is OWL's: ``init_chat``, then ``society.step`` round by round until the user agent says
    ``TASK_DONE``, an agent terminates, or ``round_limit`` rounds ran. Returns ``(answer, chat_history,
    token_info)`` like OWL. ``check(answer) -> bool`` (optional) sets the trace's outcome to success or
    failure. Works on an uninstrumented society too (then nothing is recorded).
    """
    with _managed_run(society, round_limit) as end:
        input_msg = society.init_chat(init_prompt or DEFAULT_INIT_PROMPT)
        answer, history, tokens = drive(society, input_msg, 0, round_limit)
        end.update(answer=answer, outcome=_outcome(check, answer))
    return answer, history, tokens


async def arun_society(
    society: Any,
    round_limit: int = 15,
    *,
    init_prompt: str | None = None,
    check: Callable[[str], bool] | None = None,
) -> tuple[str, list[dict[str, Any]], dict[str, int]]:
    """The async twin of :func:`run_society` (``ainit_chat`` and ``society.astep``)."""
    with _managed_run(society, round_limit) as end:
        input_msg = await society.ainit_chat(init_prompt or DEFAULT_INIT_PROMPT)
        answer, history, tokens = await _adrive(society, input_msg, 0, round_limit)
        end.update(answer=answer, outcome=_outcome(check, answer))
    return answer, history, tokens


def end_run(system: Any, *, outcome: str | None = None, final_answer: str | None = None) -> Trace | None:
    """Close the run of an instrumented system driven by your own loop (e.g. OWL's ``run_society``).

    A RolePlaying run closes by itself after the round in which the user agent said ``TASK_DONE`` or an
    agent terminated; then this only sets ``outcome`` (and ``final_answer``) on that trace.
    """
    session = session_of(system)
    if session is None:
        return None
    run = session.run
    if run is None:
        return None
    if run.ended:
        if outcome is not None:
            run.trace.outcome = outcome
        if final_answer is not None:
            run.trace.final_answer = final_answer
        return run.trace
    return close_run(session, final_answer=final_answer, outcome=outcome)


