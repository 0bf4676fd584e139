"""Agents' memories: lossless snapshots for forks, kept per recorded run, and the system-record rewrite.

A fork restarts a society or Workforce from a snapshot of its agents' memory records taken while the
run was recorded (in this process; the newest few runs are kept). Feedback rewrites the system record
already in an agent's memory, so the agent's very next LLM call sees its new system message.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from typing import Any

_SNAPSHOTS: OrderedDict[str, dict[str, Any]] = OrderedDict()  # run_id -> in-process fork snapshots
_SNAPSHOT_RUNS = 8
_SNAP_LOCK = threading.Lock()


def _clear_context_cache(agent: Any) -> None:
    creator = agent.memory.get_context_creator()
    if hasattr(creator, "clear_cache"):
        creator.clear_cache()


def dump_memory(agent: Any) -> tuple[str, Any]:
    """A deep copy of an agent's memory records (lossless for CAMEL's ChatHistoryMemory)."""
    mem = agent.memory
    storage = getattr(getattr(mem, "_chat_history_block", None), "storage", None)
    if storage is not None and hasattr(storage, "load") and hasattr(storage, "save"):
        return "storage", copy.deepcopy(storage.load())
    return "records", [copy.deepcopy(r.memory_record) for r in mem.retrieve()]


def restore_memory(agent: Any, snap: tuple[str, Any]) -> None:
    """Write a :func:`dump_memory` snapshot back into ``agent`` (replacing what it holds now)."""
    kind, data = snap
    mem = agent.memory
    if kind == "storage":
        storage = mem._chat_history_block.storage
        storage.clear()
        storage.save(copy.deepcopy(data))
    else:
        mem.clear()
        mem.write_records(copy.deepcopy(data))
    _clear_context_cache(agent)
    if hasattr(agent, "terminated"):
        agent.terminated = False


def refresh_system_record(agent: Any) -> None:
    """Rewrite the system record in ``agent``'s memory to its current system message (memory kept)."""
    sysmsg = getattr(agent, "system_message", None)
    storage = getattr(getattr(agent.memory, "_chat_history_block", None), "storage", None)
    if sysmsg is None or storage is None or not hasattr(storage, "load"):
        return
    records = storage.load()
    changed = False
    for rec in records:
        if str(rec.get("role_at_backend", "")).lower().endswith("system"):
            rec["message"] = {"__class__": type(sysmsg).__name__, **sysmsg.to_dict()}
            changed = True
    if changed:
        storage.clear()
        storage.save(records)
        _clear_context_cache(agent)


def keep_snapshots(run_id: str, snaps: dict[str, Any]) -> None:
    """Keep the fork snapshots of run ``run_id`` (the oldest run's are dropped beyond a few runs)."""
    with _SNAP_LOCK:
        _SNAPSHOTS[run_id] = snaps
        _SNAPSHOTS.move_to_end(run_id)
        while len(_SNAPSHOTS) > _SNAPSHOT_RUNS:
            _SNAPSHOTS.popitem(last=False)


def snapshots_of(run_id: str) -> dict[str, Any] | None:
    """The in-process fork snapshots of a recorded run (None if it ran in another process or is too old)."""
    with _SNAP_LOCK:
        return _SNAPSHOTS.get(run_id)
