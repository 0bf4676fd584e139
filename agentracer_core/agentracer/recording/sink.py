"""Sinks: where finished steps and runs go as they happen. :class:`Sink` is the protocol; :class:`JsonlSink`
streams them to a JSONL file (the ``run_start`` / ``step`` / ``run_end`` lines that
:mod:`agentracer.formats.jsonl` reads back), so a process killed mid-run leaves a readable partial trace."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from ..trace import Step, Trace
from .text import fix_text

__all__ = ["JsonlSink", "Sink", "make_sink"]

log = logging.getLogger("agentracer")


class Sink(Protocol):
    """Where finished steps and runs go as they happen (e.g. :class:`JsonlSink`)."""

    def on_run_start(self, trace: Trace) -> None: ...

    def on_step(self, trace: Trace, step: Step) -> None: ...

    def on_run_end(self, trace: Trace) -> None: ...


class JsonlSink:
    """Streams runs to a JSONL file as they happen: a line per run start, finished step and run end.

    Every line is appended and flushed (and fsynced when ``fsync``), so a crash loses at most the
    steps still open. When the file does not end with a newline (a writer died mid-line, or the disk
    filled), writing starts on a fresh line, so the torn line stays alone and the reader skips it. The
    folder is created on the first write. A file that cannot be opened or written is never an error of
    the host's run: the first failure is logged, later ones are counted (``failed``) and the count is
    logged at most once every ``LOG_EVERY`` seconds; every write tries again, so the sink recovers when
    the disk does. Thread-safe.
    """

    LOG_EVERY = 60.0  # seconds between two logged counts of failed writes

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.failed = 0
        self.written = 0
        self._logged = 0.0
        self._lock = threading.Lock()
        self._fh: Any = None

    def _open(self) -> Any:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+b")  # noqa: SIM115
        try:
            if fh.tell() > 0:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    fh.write(b"\n")
        except OSError:
            fh.close()
            raise
        return fh

    def _write(self, obj: dict[str, Any]) -> None:
        line = json.dumps(obj, ensure_ascii=False, default=str) + "\n"
        try:
            data = line.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate that got past the recorder
            data = fix_text(line).encode("utf-8")
        with self._lock:
            try:
                if self._fh is None or self._fh.closed:
                    self._fh = self._open()
                self._fh.write(data)
                self._fh.flush()
                if self.fsync:
                    os.fsync(self._fh.fileno())
                self.written += 1
            except OSError as e:
                self._failure(e)

    def _failure(self, e: OSError) -> None:
        """Count a failed write; log the first, then the count at most every ``LOG_EVERY`` seconds."""
        self.failed += 1
        fh, self._fh = self._fh, None  # reopen next time (on a fresh line): the disk may come back
        if fh is not None:
            try:
                fh.close()
            except OSError:
                pass
        now = time.monotonic()
        if self.failed == 1:
            self._logged = now
            log.warning("agentracer: sink %s cannot be written (%s: %s); recording goes on without it, "
                        "later failures are only counted", self.path, type(e).__name__, e)
        elif now - self._logged >= self.LOG_EVERY:
            self._logged = now
            log.warning("agentracer: sink %s has failed %d writes (last: %s)", self.path, self.failed, e)

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
