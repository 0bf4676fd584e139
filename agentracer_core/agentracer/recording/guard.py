"""The guards that keep instrumentation errors out of the host run: :func:`guarded` (call style) and
:func:`safe` (decorator), used by the recorder and by every plugin."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["guarded", "log", "safe"]

log = logging.getLogger("agentracer")
F = TypeVar("F", bound=Callable[..., Any])


def safe(default: Any = None) -> Callable[[F], F]:
    """Decorator: log any exception raised by the wrapped function and return ``default`` instead."""

    def deco(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception:  # instrumentation must never raise into the host
                log.exception("agentracer: internal error in %s (ignored; the host run continues)", fn.__qualname__)
                return default

        return wrapper  # type: ignore[return-value]

    return deco


def guarded(fn: Callable[..., Any], *args: Any, default: Any = None, what: str | None = None, **kwargs: Any) -> Any:
    """Call ``fn(*args, **kwargs)``; log any exception (naming ``what`` or ``fn``) and return ``default`` instead.

    The one guard of every plugin: instrumentation code runs through it (or :func:`safe`) so that an error of
    ours never reaches the host system's run.
    """
    try:
        return fn(*args, **kwargs)
    except Exception:  # instrumentation must never raise into the host
        log.exception("agentracer: internal error in %s (ignored; the host run continues)",
                      what or getattr(fn, "__qualname__", fn))
        return default
