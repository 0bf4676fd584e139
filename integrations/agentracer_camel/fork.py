"""Counterfactual forks of a recorded CAMEL run: replace step k's output, re-run only what follows.

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

import copy
import logging
from collections.abc import Callable
from typing import Any

from agentracer.recording import Recorder, ReplayLLM, guarded
from agentracer.trace import Step, Trace, TraceError

from .instrument import register
from .memory import restore_memory, snapshots_of
from .session import FORK, ForkPlan, Session, camel_meta, redacted, session_of
from .society import DEFAULT_INIT_PROMPT, begin_managed, drive, end_managed

log = logging.getLogger("agentracer.camel")

__all__ = ["fork"]


def _target(trace: Trace, step: int) -> Step:
    if not isinstance(trace, Trace):
        raise TraceError(f"expected a Trace, got {type(trace).__name__}")
    return trace.fork_target(step)


def _plan(trace: Trace, target: Step, lo: int, replacement: str) -> ForkPlan:
    ordinal = sum(1 for s in trace.steps[: target.index] if s.parent is None and s.agent == target.agent)
    return ForkPlan(
        replay=ReplayLLM.from_trace(trace, upto_step=target.index, since_step=lo),
        agent=target.agent,
        ordinal=ordinal,
        replacement=replacement,
        parent_run_id=trace.run_id,
        step=target.index,
    )


def _fork_meta(plan: ForkPlan, how: str) -> dict[str, Any]:
    return dict(plan.describe(), method=how)


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
        how = "snapshot" if usable else "replay"
        new = begin_managed(session, redacted(session, {
            "round_limit": limit, "init_prompt": init_prompt, "fork": _fork_meta(plan, how)}))
        if new is not None and usable:
            for s in trace.steps[:start]:
                copied = Step.from_dict(s.to_dict())
                copied.metadata["copied_from"] = trace.run_id
                new.trace.add_step(copied)
            camel_meta(new)["rounds"] = rounds_meta
        return new


def _fork_society(society: Any, session: Session, trace: Trace, target: Step, replacement: str,
                  round_limit: int | None) -> Callable[[], tuple[Any, Trace | None]]:
    meta = _check_kind(trace, session)
    limit = int(round_limit or meta.get("round_limit") or 15)
    snaps = snapshots_of(trace.run_id)
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
        token = FORK.set(plan)
        try:
            new = guarded(_open_fork_run, session, trace, plan, limit, meta.get("init_prompt"), usable, start,
                          [x for x in rounds_meta if x.get("round", 0) < (r or 0)], what="fork run start")
            if usable:
                session.rounds = list(rounds[:r])
                snap = rounds[r]
                restore_memory(society.user_agent, snap["user"])
                restore_memory(society.assistant_agent, snap["assistant"])
                input_msg = copy.deepcopy(snap["input"])
                result = drive(society, input_msg, r, limit)
            else:
                input_msg = society.init_chat(init_prompt)
                result = drive(society, input_msg, 0, limit)
            if new is not None:
                guarded(lambda: camel_meta(new)["fork"].update(served=plan.served), what="fork bookkeeping")
        except BaseException as e:
            end_managed(session, None, None, e)
            raise
        finally:
            FORK.reset(token)
        new_trace = end_managed(session, result[0], None, None)
        if not plan.applied:
            log.warning("agentracer.camel: fork never reached step %d (%s); the run ended earlier", target.index,
                        target.agent)
        return result, new_trace

    return run


def _fork_workforce(wf: Any, session: Session, trace: Trace, target: Step,
                    replacement: str) -> Callable[[], tuple[Any, Trace | None]]:
    meta = _check_kind(trace, session)
    snaps = snapshots_of(trace.run_id) or {}
    task_id = str(meta.get("task_id") or "0")

    def run() -> tuple[Any, Trace | None]:
        from camel.tasks import Task

        plan = _plan(trace, target, 0, replacement)
        for attr, snap in (snaps.get("agents") or {}).items():
            agent = getattr(wf, attr, None)
            if agent is not None:
                restore_memory(agent, snap)
        token = FORK.set(plan)
        try:
            result = wf.process_task(Task(content=trace.task, id=task_id))
        finally:
            FORK.reset(token)
        new_trace = session.recorder.last_trace()
        if new_trace is not None and new_trace.run_id != trace.run_id:
            new_trace.metadata.setdefault("camel", {})["fork"] = redacted(
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
    session = session_of(system)
    if session is None or recorder is not None:
        session = register(system, recorder or (session.recorder if session else Recorder(framework="camel")))
    target = _target(trace, step)
    if session.kind == "role_playing":
        return _fork_society(system, session, trace, target, replacement, round_limit)
    return _fork_workforce(system, session, trace, target, replacement)
