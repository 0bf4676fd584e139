"""Sinks: where finished steps and runs go as they happen. :class:`Sink` is the protocol; :class:`JsonlSink`
streams them to a JSONL file (the ``run_start`` / ``step`` / ``run_end`` lines that
:mod:`agentracer.formats.jsonl` reads back), so a process killed mid-run leaves a readable partial trace."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Protocol

from ..trace import Step, Trace

__all__ = ["JsonlSink", "Sink", "make_sink"]


class Sink(Protocol):
    """Where finished steps and runs go as they happen (e.g. :class:`JsonlSink`)."""

    def on_run_start(self, trace: Trace) -> None: ...

    def on_step(self, trace: Trace, step: Step) -> None: ...

    def on_run_end(self, trace: Trace) -> None: ...


class JsonlSink:
    """Streams runs to a JSONL file as they happen: a line per run start, finished step and run end.

    Every line is appended and flushed (and fsynced when ``fsync``), so a crash loses at most the
    steps still open. Thread-safe.
    """

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self._lock = threading.Lock()
        self._fh: Any = None

    def _write(self, obj: dict[str, Any]) -> None:
        line = json.dumps(obj, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            if self._fh is None or self._fh.closed:
                self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
            self._fh.write(line)
            self._fh.flush()
            if self.fsync:
                os.fsync(self._fh.fileno())

    def on_run_start(self, trace: Trace) -> None:
        d = trace.to_dict()
        d.pop("steps")
        self._write({"type": "run_start", **d})

    def on_step(self, trace: Trace, step: Step) -> None:
        self._write({"type": "step", "run_id": trace.run_id, "step": step.to_dict()})

    def on_run_end(self, trace: Trace) -> None:
        self._write(
            {
                "type": "run_end",
                "run_id": trace.run_id,
                "outcome": trace.outcome,
                "final_answer": trace.final_answer,
                "agents": trace.agents,
                "metadata": trace.metadata,
            }
        )

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()


def make_sink(sink: Sink | str | Path | None) -> Sink | None:
    """``sink`` as a :class:`Sink`: a sink as it is, a path as a :class:`JsonlSink` on that file, None as None."""
    if sink is None or hasattr(sink, "on_step"):
        return sink  # type: ignore[return-value]
    return JsonlSink(Path(sink))
