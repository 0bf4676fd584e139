"""Runs and forks of CAMEL systems: the RolePlaying/OWL round loop, and counterfactual forks.

``run_society`` mirrors OWL's ``run_society`` loop (init_chat, then rounds of ``society.step`` until
``TASK_DONE``, termination or the round limit) and records it as one run. A society driven by any
other loop is recorded too (see :mod:`agentracer_camel._core`); :func:`end_run` closes such a run.

Forks (:func:`fork`):

- **RolePlaying / OWL**: at the start of every round both agents' memory records and the round's input
  message are snapshotted (in process). Forking step ``k`` of round ``r`` restores round ``r``'s
  snapshot (so rounds before ``r`` are not run again), serves the recorded LLM responses of the steps of
  round ``r`` before ``k``, replaces step ``k``'s output, and keeps stepping live. Without an in-process
  snapshot (a trace loaded from disk) the run restarts from ``init_chat`` and every LLM call before ``k``
  is served from the recording instead: the prefix is still never regenerated.
- **Workforce**: the coordinator's and planner's memories are restored to the start of the run and the
  task is processed again; LLM calls before ``k`` are served from the recording, step ``k`` is replaced.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Callable, Iterator
from typing import Any

from agentracer.recording import Recorder, ReplayLLM
from agentracer.trace import Step, Trace, TraceError

from . import _core
from ._core import TASK_DONE, ForkPlan, Session, _guard

log = logging.getLogger("agentracer.camel")

DEFAULT_INIT_PROMPT = (
    "Please give me instructions, one at a time, to solve the overall task step by step. "
    "Tell me to use a tool whenever the task needs specific knowledge."
)

__all__ = ["DEFAULT_INIT_PROMPT", "arun_society", "end_run", "fork", "run_society"]


# --------------------------------------------------------------------------- the round loop


def _usage(resp: Any) -> dict[str, int]:
    info = getattr(resp, "info", None) or {}
    u = info.get("usage") if isinstance(info, dict) else None
    return u if isinstance(u, dict) else {}


def _record_round(history: list[dict[str, Any]], tokens: dict[str, int], a: Any, u: Any) -> bool:
    """Append one round to ``history`` like OWL does; True when the conversation should stop."""
    for resp in (a, u):
        us = _usage(resp)
        tokens["completion_token_count"] += int(us.get("completion_tokens", 0) or 0)
        tokens["prompt_token_count"] += int(us.get("prompt_tokens", 0) or 0)
    tool_calls = []
    for tc in (getattr(a, "info", None) or {}).get("tool_calls") or []:
        as_dict = getattr(tc, "as_dict", None)
        tool_calls.append(as_dict() if callable(as_dict) else tc.model_dump())
    u_msg, a_msg = getattr(u, "msg", None), getattr(a, "msg", None)
    history.append({
        "user": u_msg.content if u_msg is not None else "",
        "assistant": a_msg.content if a_msg is not None else "",
        "tool_calls": tool_calls,
    })
    return bool(a.terminated or u.terminated or a_msg is None or (u_msg is not None and TASK_DONE in u_msg.content))


def _drive(society: Any, input_msg: Any, start: int, round_limit: int) -> tuple[str, list[dict[str, Any]], dict[str, int]]:
    history: list[dict[str, Any]] = []
    tokens = {"completion_token_count": 0, "prompt_token_count": 0}
    for _ in range(start, round_limit):
        a, u = society.step(input_msg)
        if _record_round(history, tokens, a, u):
            break
        input_msg = a.msg
    return (history[-1]["assistant"] if history else ""), history, tokens


async def _adrive(society: Any, input_msg: Any, start: int, round_limit: int) -> tuple[str, list[dict[str, Any]], dict[str, int]]:
    history: list[dict[str, Any]] = []
    tokens = {"completion_token_count": 0, "prompt_token_count": 0}
    for _ in range(start, round_limit):
        a, u = await society.astep(input_msg)
        if _record_round(history, tokens, a, u):
            break
        input_msg = a.msg
    return (history[-1]["assistant"] if history else ""), history, tokens


def _begin_managed(session: Session, round_limit: int) -> bool:
    with session.lock:
        _core.close_run(session)
        session.run = None
        session.managed = True
        run = _core._ensure_society_run(session)
        if run is not None:
            _core.camel_meta(run)["round_limit"] = round_limit
    return True


def _end_managed(session: Session, answer: Any, outcome: str | None, error: BaseException | None) -> Any:
    session.managed = False
    return _core.close_run(session, final_answer=answer, outcome=outcome, error=error)


def _outcome(check: Callable[[str], bool] | None, answer: str) -> str | None:
    if check is None:
        return None
    return "success" if check(answer) else "failure"


@contextlib.contextmanager
def _managed_run(society: Any, round_limit: int) -> Iterator[dict[str, Any]]:
    """One recorded run around one drive of ``society`` (if it is instrumented): closed with the ``answer``
    and ``outcome`` the body stores in the yielded dict, or with the error that escapes the body."""
    session = _core.session_of(society)
    managed = bool(session and _guard("run start", _begin_managed, session, round_limit))
    end: dict[str, Any] = {"answer": None, "outcome": None}
    try:
        yield end
    except BaseException as e:
        if managed:
            _guard("run end", _end_managed, session, None, None, e)
        raise
    if managed:
        _guard("run end", _end_managed, session, end["answer"], end["outcome"], None)


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
        answer, history, tokens = _drive(society, input_msg, 0, round_limit)
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
    session = _core.session_of(system)
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
    return _core.close_run(session, final_answer=final_answer, outcome=outcome)


# --------------------------------------------------------------------------- forks


def _target(trace: Trace, step: int) -> Step:
    if not isinstance(trace, Trace):
        raise TraceError(f"expected a Trace, got {type(trace).__name__}")
    return trace.fork_target(step)


def _replay_between(trace: Trace, lo: int, hi: int) -> ReplayLLM:
    """The recorded LLM responses of the agent steps with index in ``[lo, hi)``."""
    recs: dict[str, list[dict[str, Any]]] = {}
    for s in trace.steps:
        if s.kind != "llm_call" or "llm_key" not in s.replay:
            continue
        owner = s.parent if s.parent is not None else s.index
        if lo <= owner < hi:
            recs.setdefault(s.replay["llm_key"], []).append(
                {"text": s.content, "response": s.replay.get("response"), "step": s.index, "owner": owner}
            )
    return ReplayLLM(recs)


def _plan(trace: Trace, target: Step, lo: int, replacement: str) -> ForkPlan:
    ordinal = sum(1 for s in trace.steps[: target.index] if s.parent is None and s.agent == target.agent)
    return ForkPlan(
        replay=_replay_between(trace, lo, target.index),
        agent=target.agent,
        ordinal=ordinal,
        replacement=replacement,
        parent_run_id=trace.run_id,
        step=target.index,
    )


def _fork_meta(plan: ForkPlan, how: str) -> dict[str, Any]:
    return {"parent_run_id": plan.parent_run_id, "step": plan.step, "agent": plan.agent,
            "replacement": plan.replacement, "method": how}


def _check_kind(trace: Trace, session: Session) -> dict[str, Any]:
    meta = trace.metadata.get("camel") if isinstance(trace.metadata.get("camel"), dict) else {}
    kind = meta.get("kind")
    if kind is not None and kind != session.kind:
        raise TraceError(
            f"this trace was recorded from a CAMEL {kind} system; it cannot fork a {session.kind}",
            field="metadata.camel.kind",
        )
    return meta


def _open_fork_run(session: Session, trace: Trace, plan: ForkPlan, limit: int, init_prompt: Any, usable: bool,
                   start: int, rounds_meta: list[dict[str, Any]]) -> Any:
    with session.lock:
        _core.close_run(session)
        session.run = None
        session.managed = True
        new = _core._ensure_society_run(session)
        if new is None:
            return None
        _core.camel_meta(new).update(_core.redacted(session, {
            "round_limit": limit, "init_prompt": init_prompt, "fork": _fork_meta(plan, "snapshot" if usable else "replay")}))
        if usable:
            for s in trace.steps[:start]:
                copied = Step.from_dict(s.to_dict())
                copied.metadata["copied_from"] = trace.run_id
                new.trace.add_step(copied)
            _core.camel_meta(new)["rounds"] = rounds_meta
        return new


def _fork_society(society: Any, session: Session, trace: Trace, target: Step, replacement: str,
                  round_limit: int | None) -> Callable[[], tuple[Any, Trace | None]]:
    meta = _check_kind(trace, session)
    limit = int(round_limit or meta.get("round_limit") or 15)
    snaps = _core.snapshots_of(trace.run_id)
    rounds = list((snaps or {}).get("rounds") or [])
    r = target.metadata.get("round")
    usable = isinstance(r, int) and r < len(rounds) and "user" in rounds[r] and "assistant" in rounds[r]
    start = rounds[r]["first_step"] if usable else 0
    rounds_meta = [dict(x) for x in meta.get("rounds", []) if isinstance(x, dict)]
    init_prompt = meta.get("init_prompt")
    if not usable and not init_prompt:
        firsts = [s for s in trace.steps if s.parent is None]
        init_prompt = (firsts[0].metadata.get("input") if firsts else None) or DEFAULT_INIT_PROMPT

    def run() -> tuple[Any, Trace | None]:
        plan = _plan(trace, target, start, replacement)
        token = _core._FORK.set(plan)
        try:
            new = _guard("fork run start", _open_fork_run, session, trace, plan, limit, meta.get("init_prompt"),
                         usable, start, [x for x in rounds_meta if x.get("round", 0) < (r or 0)])
            if usable:
                session.rounds = list(rounds[:r])
                snap = rounds[r]
                _core.restore_memory(society.user_agent, snap["user"])
                _core.restore_memory(society.assistant_agent, snap["assistant"])
                input_msg = copy.deepcopy(snap["input"])
                result = _drive(society, input_msg, r, limit)
            else:
                input_msg = society.init_chat(init_prompt)
                result = _drive(society, input_msg, 0, limit)
            if new is not None:
                _guard("fork bookkeeping", lambda: _core.camel_meta(new)["fork"].update(served=plan.served))
        except BaseException as e:
            session.managed = False
            _core.close_run(session, error=e)
            raise
        finally:
            _core._FORK.reset(token)
        session.managed = False
        new_trace = _core.close_run(session, final_answer=result[0])
        if not plan.applied:
            log.warning("agentracer.camel: fork never reached step %d (%s); the run ended earlier", target.index,
                        target.agent)
        return result, new_trace

    return run


def _fork_workforce(wf: Any, session: Session, trace: Trace, target: Step,
                    replacement: str) -> Callable[[], tuple[Any, Trace | None]]:
    meta = _check_kind(trace, session)
    snaps = _core.snapshots_of(trace.run_id) or {}
    task_id = str(meta.get("task_id") or "0")

    def run() -> tuple[Any, Trace | None]:
        from camel.tasks import Task

        plan = _plan(trace, target, 0, replacement)
        for attr, snap in (snaps.get("agents") or {}).items():
            agent = getattr(wf, attr, None)
            if agent is not None:
                _core.restore_memory(agent, snap)
        token = _core._FORK.set(plan)
        try:
            result = wf.process_task(Task(content=trace.task, id=task_id))
        finally:
            _core._FORK.reset(token)
        new_trace = session.recorder.last_trace()
        if new_trace is not None and new_trace.run_id != trace.run_id:
            new_trace.metadata.setdefault("camel", {})["fork"] = _core.redacted(
                session, dict(_fork_meta(plan, "replay"), served=plan.served))
        return result, new_trace

    return run


def fork(
    system: Any,
    trace: Trace,
    step: int,
    replacement: str,
    *,
    round_limit: int | None = None,
    recorder: Recorder | None = None,
) -> Callable[[], tuple[Any, Trace | None]]:
    """A zero-argument runnable that reruns ``system`` from ``step`` of ``trace`` with that step's output
    replaced by ``replacement``; calling it returns ``(result, new_trace)``.

    ``system`` must be the society/workforce that produced ``trace`` (or one built the same way); the
    fork runs on it and changes its agents' memories. For a RolePlaying society ``result`` is
    ``(answer, chat_history, token_info)`` for the rounds run again; for a Workforce it is the Task.
    Steps before ``step`` come from the recording (never regenerated) and keep their indices, so
    ``new_trace.steps[step].content == replacement``. Raises :class:`TraceError` for a bad step.
    """
    from camel.societies import RolePlaying
    from camel.societies.workforce import Workforce

    if not isinstance(system, (RolePlaying, Workforce)):
        raise TypeError(
            f"agentracer_camel.fork: cannot fork a {type(system).__name__}; fork a RolePlaying society or a Workforce"
        )
    session = _core.session_of(system)
    if session is None or recorder is not None:
        session = _core.register(system, recorder or (session.recorder if session else Recorder(framework="camel")))
    target = _target(trace, step)
    if session.kind == "role_playing":
        return _fork_society(system, session, trace, target, replacement, round_limit)
    return _fork_workforce(system, session, trace, target, replacement)
