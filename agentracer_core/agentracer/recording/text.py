"""Text that is safe to keep: lone surrogates replaced (:func:`fix_text`, :func:`safe_redactor`) and host
exceptions described without trusting their ``__str__`` (:func:`describe_error`).

A Python ``str`` may hold lone surrogates (U+D800..U+DFFF, e.g. a streamed emoji cut in half, or bytes
decoded with ``surrogateescape``); UTF-8 cannot encode them, so a file, a hash or an OTLP export of such text
fails. The recorder replaces each of them with U+FFFD (the replacement character) where text enters it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["describe_error", "fix_text", "safe_redactor"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def fix_text(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (the same object when there is none)."""
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub("\ufffd", text)


def safe_redactor(redact: Callable[[str], str]) -> Callable[[str], str]:
    """``redact`` followed by :func:`fix_text`: what the recorder applies to every string it keeps."""
    search = _SURROGATE.search
    sub = _SURROGATE.sub

    def redact_text(text: str) -> str:
        out = redact(text)
        if out.isascii() or search(out) is None:
            return out
        return sub("\ufffd", out)

    redact_text.__wrapped__ = redact  # type: ignore[attr-defined]
    return redact_text


def describe_error(error: BaseException | str) -> str:
    """``"Type: message"`` of a host exception; never raises (a ``__str__`` that raises gives the type and a
    note instead)."""
    if isinstance(error, str):
        return fix_text(error)
    name = type(error).__name__
    try:
        msg = str(error)
    except Exception:  # the host's __str__ is broken; the record must not be
        msg = "<str() of the exception raised>"
    return fix_text(f"{name}: {msg}")


def error_status(error: Any) -> str:
    """The short span status description of ``error`` (200 characters), never raising."""
    return describe_error(error).partition(": ")[2][:200] if not isinstance(error, str) else fix_text(error)[:200]
