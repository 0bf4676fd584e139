"""Recording Workforce runs: the run around ``process_task``, the worker at work, the task lifecycle.

``Workforce.process_task_async`` (which ``process_task`` also goes through) is one run; the coordinator's
and planner's memories are snapshotted at its start so that a fork restarts from there. The
``_process_task`` of a ``SingleAgentWorker`` / ``RolePlayingWorker`` tells which worker node is at work,
so the agent clones CAMEL makes per task are recorded under that worker's readable name. A
``WorkforceCallback`` files task assignments and results into ``trace.metadata["camel"]["tasks"]``.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

from agentracer.recording import Run, guarded, safe

from .memory import dump_memory, keep_snapshots
from .names import text_of, worker_name, workforce_agent_name
from .session import ACTIVE, AGENTS, SYSTEMS, WORKER, AgentInfo, Session, camel_meta, close_run, open_run, redacted

log = logging.getLogger("agentracer.camel")

CALLBACK_CLASS = "AgentracerWorkforceCallback"


def register_workforce_agents(session: Session, wf: Any) -> None:
    """Register the coordinator and task agents of ``wf`` (workers are named through ``WORKER``)."""
    for attr, role in (("coordinator_agent", "coordinator"), ("task_agent", "planner")):
        agent = getattr(wf, attr, None)
        if agent is not None:
            hit = workforce_agent_name(session, wf, agent)
            AGENTS.set(agent, AgentInfo(session, role, hit[0] if hit else None))
    for child in list(getattr(wf, "_children", []) or []):
        if hasattr(child, "worker") and hasattr(child, "node_id"):
            worker_name(session, child)


def _task_meta(run: Run) -> dict[str, Any]:
    return camel_meta(run).setdefault("tasks", {})


def _begin_workforce_run(session: Session, wf: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    task = args[0] if args else kwargs.get("task")
    register_workforce_agents(session, wf)
    meta = {
        "kind": "workforce",
        "system": session.system_class,
        "description": str(getattr(wf, "description", "") or ""),
        "task_id": str(getattr(task, "id", "") or ""),
        "workers": dict(session.worker_names),
        "tasks": {},
    }
    run = open_run(session, text_of(task), meta)
    if run is None:
        return None
    # the coordinator and planner keep memory across tasks: snapshot it so a fork restarts from here
    agents = {}
    for attr in ("coordinator_agent", "task_agent"):
        agent = getattr(wf, attr, None)
        if agent is not None:
            try:
                agents[attr] = dump_memory(agent)
            except Exception:
                log.exception("agentracer.camel: could not snapshot %s", attr)
    keep_snapshots(run.trace.run_id, {"kind": "workforce", "agents": agents})
    return ACTIVE.set(session)


def _end_workforce_run(session: Session, token: Any, result: Any, error: BaseException | None) -> None:
    try:
        ACTIVE.reset(token)
    except ValueError:
        ACTIVE.set(None)
    run = session.run
    if run is not None and not run.ended:
        camel_meta(run)["workers"] = dict(session.worker_names)
    if error is not None:
        close_run(session, error=error)
        return
    state = str(getattr(getattr(result, "state", None), "value", getattr(result, "state", "")) or "").upper()
    outcome = "success" if state == "DONE" else "failure" if state == "FAILED" else None
    close_run(session, final_answer=text_of(getattr(result, "result", None)) or None, outcome=outcome)


async def w_process_task_async(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...],
                               kwargs: dict[str, Any]) -> Any:
    """``Workforce.process_task_async``: one Workforce run (``process_task`` runs through it too)."""
    session: Session | None = SYSTEMS.get(instance)
    if session is None or ACTIVE.get() is not None:
        return await wrapped(*args, **kwargs)
    token = guarded(_begin_workforce_run, session, instance, args, kwargs, what="workforce run start")
    if token is None:
        return await wrapped(*args, **kwargs)
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as e:
        guarded(_end_workforce_run, session, token, None, e, what="workforce run end")
        raise
    guarded(_end_workforce_run, session, token, result, None, what="workforce run end")
    return result


async def w_worker_process(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...],
                           kwargs: dict[str, Any]) -> Any:
    """``SingleAgentWorker._process_task``: name the worker's agent clones after the worker node."""
    session = ACTIVE.get()
    if session is None:
        return await wrapped(*args, **kwargs)
    task = args[0] if args else kwargs.get("task")
    token = WORKER.set((session, instance, task))
    try:
        return await wrapped(*args, **kwargs)
    finally:
        WORKER.reset(token)


class _RedactingDict:
    """A view of a metadata dict whose writes go through the session's redactor."""

    def __init__(self, session: Session, target: dict[str, Any]) -> None:
        self._s, self._d = session, target

    def update(self, **kw: Any) -> None:
        self._d.update(redacted(self._s, kw))

    def setdefault(self, key: str, default: Any) -> Any:
        return self._d.setdefault(key, default)


def make_workforce_callback(session: Session) -> Any:
    """A ``WorkforceCallback`` that files task assignments and results into the run's metadata."""
    from camel.societies.workforce.workforce_callback import WorkforceCallback

    sref = weakref.ref(session)

    class AgentracerWorkforceCallback(WorkforceCallback):
        """Records the Workforce's task lifecycle into ``trace.metadata['camel']['tasks']`` (never raises)."""

        def _task(self, task_id: str) -> _RedactingDict | None:
            s = sref()
            if s is None or not s.run_open():
                return None
            return _RedactingDict(s, _task_meta(s.run).setdefault(str(task_id), {}))

        def _file(self, task_id: str, **fields: Any) -> None:
            t = self._task(task_id)
            if t is not None:
                t.update(**fields)

        def log_message(self, event: Any) -> None:
            return None

        @safe()
        def log_task_created(self, event: Any) -> None:
            self._file(event.task_id, content=event.description, parent=event.parent_task_id)

        @safe()
        def log_task_decomposed(self, event: Any) -> None:
            self._file(event.parent_task_id, subtasks=list(event.subtask_ids))

        @safe()
        def log_task_assigned(self, event: Any) -> None:
            s = sref()
            if s is not None:
                self._file(event.task_id, worker_id=event.worker_id,
                           worker=s.worker_names.get(event.worker_id, event.worker_id),
                           dependencies=list(event.dependencies or []))

        def log_task_started(self, event: Any) -> None:
            return None

        @safe()
        def log_task_updated(self, event: Any) -> None:
            t = self._task(event.task_id)
            if t is not None:
                update = {"type": event.update_type, "new": event.new_value}
                t.setdefault("updates", []).append(redacted(sref(), update))

        @safe()
        def log_task_completed(self, event: Any) -> None:
            self._file(event.task_id, state="done", result=event.result_summary)

        @safe()
        def log_task_failed(self, event: Any) -> None:
            self._file(event.task_id, state="failed", error=event.error_message)

        @safe()
        def log_worker_created(self, event: Any) -> None:
            s = sref()
            wf = s.system if s is not None else None
            for child in list(getattr(wf, "_children", []) or []):
                if getattr(child, "node_id", None) == event.worker_id:
                    worker_name(s, child)

        def log_worker_deleted(self, event: Any) -> None:
            return None

        def log_all_tasks_completed(self, event: Any) -> None:
            return None

    return AgentracerWorkforceCallback()
