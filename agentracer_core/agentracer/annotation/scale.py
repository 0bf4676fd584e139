"""Annotation at scale: resumable, append-only runs of independent work items, serially or on Ray.

A work item is one generated run to record and label (:func:`~agentracer.annotation.generate.annotate_item`).
Items are independent, so they run as Ray tasks (``ray_mode="local"``: ``ray.init(num_cpus=2,
include_dashboard=False)``, or a cluster address). Output is **append-only** in an output folder:

- ``annotations.jsonl`` — one line per labelled run (an :class:`~agentracer.trace.AnnotatedTrace`, readable by
  :func:`agentracer.formats.read`);
- ``ledger.jsonl`` — one line per finished item (labelled or skipped), written after its annotation.

Each line is flushed and fsynced as soon as its item finishes. A restart repairs a torn last line (a
crash mid-write), skips every item already in the ledger or the annotations, and runs the rest: a crash
part-way loses no finished annotation and duplicates none.

:func:`linear_parallel` runs the single-step replays of one trace's linear scan as parallel Ray tasks
(speculatively, a window at a time, keeping the earliest flip).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..recording.redact import redacts
from ..trace import AnnotatedTrace, Trace

__all__ = ["Ledger", "WorkItem", "linear_parallel", "plan_items", "run_items"]

ANNOTATIONS = "annotations.jsonl"
LEDGER = "ledger.jsonl"


@dataclass
class WorkItem:
    """One generated run to record and label."""

    item_id: str
    framework: str
    domain: str
    seed: int
    size: int | None = None
    system: str | None = None


def plan_items(frameworks: Iterable[str], domains: Iterable[str], n: int, *, seed: int = 0,
               size: int | None = None, system: str | None = None) -> list[WorkItem]:
    """``n`` items per (framework, domain) pair, interleaved across pairs.

    Seeds are ``seed + i`` shifted by a fixed offset per framework, so each framework draws its own tasks
    (identical prompts recorded on two frameworks would be duplicates for training) and a rerun with the
    same arguments plans the same item ids (what resuming relies on). ``system`` (a named system shape,
    e.g. ``supervisor``) shifts the seeds once more and joins the ids (``langgraph/supervisor:web:7``).
    """
    from .generate import FRAMEWORKS

    pairs = [(f, d) for f in frameworks for d in domains]
    items = []
    for i in range(n):
        for f, d in pairs:
            off = FRAMEWORKS.index(f) * 1_000_003 if f in FRAMEWORKS else 0
            off += 500_001 if system else 0
            s = seed + i + off
            fid = f"{f}/{system}" if system else f
            items.append(WorkItem(f"{fid}:{d}:{s}" + (f":{size}" if size else ""), f, d, s, size, system))
    return items


def _repair(path: Path) -> None:
    """Cut a torn last line (no trailing newline: the writer died mid-line) so appends stay valid JSONL."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 1))
        if f.read(1) == b"\n":
            return
        # find the last newline and truncate after it
        pos = size - 1
        chunk = 4096
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            buf = f.read(pos - start)
            j = buf.rfind(b"\n")
            if j >= 0:
                f.truncate(start + j + 1)
                return
            pos = start
        f.truncate(0)


class Ledger:
    """The append-only output of a run: annotations and the ledger of finished items (see module doc)."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.annotations = self.out / ANNOTATIONS
        self.ledger = self.out / LEDGER
        self._lock = threading.Lock()
        _repair(self.annotations)
        _repair(self.ledger)

    def done(self) -> set[str]:
        """Item ids already finished: in the ledger, or with an annotation (written before its ledger line)."""
        ids: set[str] = set()
        for path, key in ((self.ledger, None), (self.annotations, "annotation")):
            if not path.exists():
                continue
            with path.open(encoding="utf-8") as f:
                for line in f:
                    try:
                        obj = json.loads(line)
                    except ValueError:
                        continue
                    iid = obj.get("item_id") if key is None else ((obj.get(key) or {}).get("metadata") or {}).get("item_id")
                    if isinstance(iid, str):
                        ids.add(iid)
        return ids

    def heal(self) -> int:
        """Write the missing ledger line of each item whose annotation was written but whose ledger line was
        not (the process died between the two appends); returns how many lines were added."""
        if not self.annotations.exists():
            return 0
        in_ledger = set()
        if self.ledger.exists():
            for e in self.entries():
                if isinstance(e.get("item_id"), str):
                    in_ledger.add(e["item_id"])
        added = 0
        with self._lock, self.annotations.open(encoding="utf-8") as f:
            for line in f:
                try:
                    ann = (json.loads(line).get("annotation") or {})
                except (ValueError, AttributeError):
                    continue
                iid = (ann.get("metadata") or {}).get("item_id")
                if isinstance(iid, str) and iid not in in_ledger:
                    self._append(self.ledger, {"item_id": iid, "status": ann.get("source", "unknown"),
                                               "labelled": True, "healed": True, "finished": time.time()})
                    in_ledger.add(iid)
                    added += 1
        return added

    @redacts("obj")
    def _append(self, path: Path, obj: dict[str, Any]) -> None:
        line = json.dumps(obj, ensure_ascii=False) + "\n"
        with path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def write(self, result: dict[str, Any]) -> None:
        """Record one finished item: its annotation (if any) first, then its ledger line."""
        with self._lock:
            ann = result.get("annotated")
            if ann is not None:
                d = dict(ann)
                d["type"] = "trace"
                self._append(self.annotations, d)
            entry = {k: v for k, v in result.items() if k != "annotated"}
            entry["labelled"] = ann is not None
            entry["finished"] = time.time()
            self._append(self.ledger, entry)

    def read_annotations(self) -> list[AnnotatedTrace]:
        """Every annotated trace written so far (deduplicated by item id, first wins)."""
        from ..formats.jsonl import read_jsonl

        if not self.annotations.exists():
            return []
        seen: set[str] = set()
        out = []
        for x in read_jsonl(self.annotations):
            if not isinstance(x, AnnotatedTrace):
                continue
            iid = x.metadata.get("item_id") or x.trace.run_id
            if iid in seen:
                continue
            seen.add(iid)
            out.append(x)
        return out

    def entries(self) -> list[dict[str, Any]]:
        """The ledger lines."""
        if not self.ledger.exists():
            return []
        out = []
        with self.ledger.open(encoding="utf-8") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out


def work(item: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Run one item (a :class:`WorkItem` as a dict) and return a JSON-able result (what Ray tasks return)."""
    from .generate import annotate_item

    t0 = time.perf_counter()
    try:
        res = annotate_item(item["framework"], item["domain"], int(item["seed"]), size=item.get("size"),
                            item_id=item["item_id"], system=item.get("system"), **options)
    except Exception as e:  # a broken item is recorded and skipped, never fatal for the run
        return {"item_id": item["item_id"], "status": "error", "reason": f"{type(e).__name__}: {e}",
                "framework": item["framework"], "domain": item["domain"], "seconds": time.perf_counter() - t0}
    return {
        "item_id": res.item_id, "status": res.status, "replays": res.replays, "executions": res.executions,
        "reason": res.reason, "framework": item["framework"], "domain": item["domain"],
        "seconds": time.perf_counter() - t0,
        "annotated": res.annotated.to_dict() if res.annotated is not None else None,
    }


def _init_ray(ray_mode: str | None, address: str | None, num_cpus: int) -> Any:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline: no usage report
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    import ray

    if not ray.is_initialized():
        if address:
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False,
                     configure_logging=False)
    return ray


def run_items(
    items: list[WorkItem],
    out: str | Path,
    *,
    ray: bool = False,
    ray_address: str | None = None,
    num_cpus: int = 2,
    progress: Callable[[dict[str, Any]], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Run every item not yet finished in ``out``; returns a summary (counts, seconds, throughput).

    ``options`` go to :func:`~agentracer.annotation.generate.annotate_item` (``strategy``, ``faults_per_run``,
    ``base_url``, ``model``...). ``progress(result)`` is called after each item is written.
    """
    ledger = Ledger(out)
    ledger.heal()
    done = ledger.done()
    todo = [asdict(i) for i in items if i.item_id not in done]
    t0 = time.perf_counter()
    counts: dict[str, int] = {}

    def record(res: dict[str, Any]) -> None:
        ledger.write(res)
        counts[res["status"]] = counts.get(res["status"], 0) + 1
        if progress is not None:
            progress(res)

    if ray or ray_address:
        r = _init_ray("local", ray_address, num_cpus)
        remote = r.remote(num_cpus=1)(work)
        window = max(2, 4 * num_cpus)
        pending: list[Any] = []
        queue = list(todo)
        while queue or pending:
            while queue and len(pending) < window:
                pending.append(remote.remote(queue.pop(0), options))
            ready, pending = r.wait(pending, num_returns=1)
            record(r.get(ready[0]))
    else:
        for item in todo:
            record(work(item, options))
    secs = time.perf_counter() - t0
    labelled = counts.get("replay", 0) + counts.get("injection", 0)
    return {
        "skipped_done": len(done), "ran": len(todo), "counts": counts, "seconds": secs,
        "labelled": labelled, "per_minute": (labelled / secs * 60) if secs > 0 else 0.0,
    }


def _single(trace_json: str, idx: int, replacement: str) -> bool:
    from .generate import GeneratedSystem

    tr = Trace.from_json(trace_json)
    return GeneratedSystem.from_trace(tr).run_with(idx, replacement).success


def linear_parallel(trace: Trace, *, window: int | None = None, ray_address: str | None = None,
                    num_cpus: int = 2) -> dict[str, Any]:
    """The paper's linear scan of a generated failed trace, its single-step replays run as Ray tasks.

    Replays go out ``window`` at a time (default: ``num_cpus``); the scan stops after the first window
    holding a flip and answers the earliest flipping step — the same answer as the serial scan, with up
    to ``window - 1`` extra (speculative) replays. Returns ``{"step", "agent", "replays"}``.
    """
    from .generate import GeneratedSystem

    r = _init_ray("local", ray_address, num_cpus)
    system = GeneratedSystem.from_trace(trace)
    oracle = system.oracle()
    positions = [s.index for s in trace.agent_steps()]
    w = window or num_cpus
    remote = r.remote(num_cpus=1)(_single)
    payload = trace.to_json()
    replays = 0
    for a in range(0, len(positions), w):
        chunk = positions[a: a + w]
        futs = [remote.remote(payload, i, oracle.act(trace, i)) for i in chunk]
        flips = r.get(futs)
        replays += len(chunk)
        for i, ok in zip(chunk, flips, strict=True):
            if ok:
                return {"step": i, "agent": trace.steps[i].agent, "replays": replays}
    return {"step": None, "agent": None, "replays": replays}


def main(argv: list[str] | None = None) -> int:
    """``python -m agentracer.annotation.scale OUT FRAMEWORKS DOMAINS N [SIZE]`` (used by the crash test)."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    out, fws, doms, n = args[0], args[1].split(","), args[2].split(","), int(args[3])
    size = int(args[4]) if len(args) > 4 else None
    summary = run_items(plan_items(fws, doms, n, size=size), out)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
