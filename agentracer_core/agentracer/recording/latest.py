"""Which finished trace a caller sees: :func:`last_trace` (per asyncio task and per thread) and
:class:`Capture` (``with agentracer.run() as r: ...; r.trace``, the recommended way).

A run remembers where it was *started* (the thread and the asyncio task of the caller that opened it) and
the captures open in that context. When it ends, its trace is stored for that origin and for the thread and
task that ended it (a framework may start a run on a worker thread and end it on the caller's), and handed
to those captures. So 50 concurrent ``ainvoke`` calls each see their own trace, and ``asyncio.run(graph.ainvoke(...))``
followed by ``last_trace()`` in the calling thread still sees the run that just finished.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import weakref
from typing import Any

from ..trace import Trace

__all__ = ["Capture", "last_trace"]

_BY_TASK: weakref.WeakKeyDictionary[Any, Trace] = weakref.WeakKeyDictionary()
_BY_THREAD: dict[int, Trace] = {}
_GLOBAL: list[Trace] = []
_LOCK = threading.Lock()
_CAPTURES: contextvars.ContextVar[tuple[Capture, ...]] = contextvars.ContextVar("agentracer_captures", default=())


def _task() -> Any:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running event loop in this thread
        return None


def origin() -> tuple[int, Any, tuple[Capture, ...]]:
    """Where a run is being started: (thread id, asyncio task or None, the captures open here)."""
    return threading.get_ident(), _task(), _CAPTURES.get()


def finished(trace: Trace, where: tuple[int, Any, tuple[Capture, ...]] | None, recorder: Any) -> None:
    """Store ``trace`` as the last trace of the place its run was started (and of the process)."""
    thread, task, caps = where if where is not None else (threading.get_ident(), None, ())
    here, here_task = threading.get_ident(), _task()
    with _LOCK:
        _GLOBAL[:] = [trace]
        for th in {thread, here}:
            _BY_THREAD.pop(th, None)
            _BY_THREAD[th] = trace
        if len(_BY_THREAD) > 256:  # threads come and go: keep the most recent ones
            del _BY_THREAD[next(iter(_BY_THREAD))]
        for t in {task, here_task} - {None}:
            try:
                _BY_TASK[t] = trace
            except TypeError:
                pass
        for c in caps:
            if c.recorder is None or c.recorder is recorder:
                c.traces.append(trace)


def last_trace() -> Trace | None:
    """The trace of the most recent run started (or ended) in the caller's asyncio task; else, outside the
    main thread, in the caller's thread; else the most recent run that finished in this process (any
    recorder); or None.

    Concurrent tasks and threads each see their own run. The main thread sees the latest run of the
    process (outside its own tasks), because frameworks often run an agent on a worker thread of their
    own on behalf of a caller that waits in the main thread. For code that hands a run to other threads or
    collects several runs, :class:`Capture` (``agentracer.run()``) says exactly which runs are meant.
    """
    task = _task()
    with _LOCK:
        if task is not None:
            tr = _BY_TASK.get(task)
            if tr is not None:
                return tr
        if threading.current_thread() is not threading.main_thread():
            tr = _BY_THREAD.get(threading.get_ident())
            if tr is not None:
                return tr
        return _GLOBAL[-1] if _GLOBAL else None


class Capture:
    """The runs that finish inside a ``with`` block and were started from it (or from tasks and threads it
    started with a copied context): ``traces`` in the order they ended, ``trace`` the last one.

    ``recorder``: only that recorder's runs (None: any recorder).
    """

    def __init__(self, recorder: Any = None) -> None:
        self.recorder = recorder
        self.traces: list[Trace] = []
        self._token: Any = None

    @property
    def trace(self) -> Trace | None:
        """The last run that ended inside the block, or None."""
        return self.traces[-1] if self.traces else None

    def __enter__(self) -> Capture:
        self._token = _CAPTURES.set((*_CAPTURES.get(), self))
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            _CAPTURES.reset(self._token)
        except ValueError:  # left in another context than it was entered in
            _CAPTURES.set(tuple(c for c in _CAPTURES.get() if c is not self))
