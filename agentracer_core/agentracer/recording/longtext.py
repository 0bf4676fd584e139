"""Redaction of very long strings (over :data:`LONG` characters) in linear time with a small constant.

Running every detector over a 5 MB message costs about a second (each of ~100 regexes scans the whole text).
Every default detector's match holds a run of at least 11 token characters (``[A-Za-z0-9_+/=.~%-]``) or a
keyword assignment (``password: …``, a ``:``/``=`` separator after a name) or a URL password (``://``); see
:mod:`agentracer.recording.detectors`. So a long text is redacted by **windows**:

1. One cheap pass finds the anchors: the text as ASCII bytes (``?`` for anything else, so offsets are kept)
   mapped by ``bytes.translate`` to a shape where token characters are ``a``; ``bytes.find`` then finds each
   run of 11 or more. Separators (``:``, ``=``) are anchors when they are few; when they are many (code,
   JSON) the keyword names (``secret``, ``passw``, ``pwd``, ``credential``, ``key``, ``token``) and ``://``
   are, found in the lower-cased bytes. ``-----`` (PEM blocks) is always one.
2. Each anchor gives a window (:data:`BACK` characters before, :data:`AHEAD` after); overlapping windows merge.
3. The normal engine (all detectors, with their marker gates) redacts each window. A window whose first mask
   starts, or whose last mask ends, within :data:`EDGE` characters of its edge may cut a secret: it grows
   (doubling) and is redacted again, until no mask touches an edge or it reaches the text's ends.

Text between windows holds no anchor, so no detector can match there. The cost is a few passes over the
text plus the detectors on the windows only: a long text with few anchors (prose, logs) is cheap; one made
of token runs (a base64 blob, minified code) is one big window and costs what the plain engine costs.
Options that add detectors without this guarantee (PII, ``add_pattern``, entropy) use the plain engine.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable

__all__ = ["AHEAD", "BACK", "EDGE", "LONG", "masked_windows", "redact_windows", "splice", "windows"]

LONG = 65536  # texts longer than this take the windowed path (shorter ones the cached plain engine)
BACK = 256  # window characters before an anchor (a name before its value: ``ibm_cloud_iam_key = '…'``)
AHEAD = 256  # window characters after an anchor
EDGE = 48  # a mask this close to a window's edge may be a cut secret: the window grows
MIN_RUN = 11  # the shortest run of token characters every format detector's match holds
MAX_SEPARATORS = 4096  # above this many ``:``/``=``, keyword names are the anchors instead

_TOKEN = set(string.ascii_letters + string.digits + "_+/=.~-%")
_SHAPE = bytes(97 if chr(i) in _TOKEN else 32 for i in range(256))  # token character -> "a", other -> " "
_RUN = b"a" * MIN_RUN
_NOT_TOKEN = re.compile(rb"[^a]")
_WORDS = (b"secret", b"passw", b"pwd", b"credential", b"key", b"token", b"://", b"bearer", b"basic")
MASK = "[REDACTED]"


def _all(hay: bytes, needle: bytes) -> list[int]:
    out, find, i = [], hay.find, hay.find(needle)
    while i >= 0:
        out.append(i)
        i = find(needle, i + 1)
    return out


def windows(text: str) -> list[tuple[int, int]]:
    """The merged windows ``[(start, end), …]`` (sorted, disjoint) around every anchor of ``text``."""
    n = len(text)
    raw = text.encode("ascii", "replace")  # one byte per character: offsets are the text's
    shape = raw.translate(_SHAPE)
    spans: list[tuple[int, int]] = []
    find, nxt, i = shape.find, _NOT_TOKEN.search, shape.find(_RUN)
    while i >= 0:
        m = nxt(shape, i + MIN_RUN)
        e = m.start() if m else n
        spans.append((i - BACK, e + AHEAD))
        i = find(_RUN, e)
    if raw.count(b":") + raw.count(b"=") <= MAX_SEPARATORS:
        points = _all(raw, b":") + _all(raw, b"=")
    else:  # many separators (code, JSON): the keyword names and URL schemes instead
        low = raw.lower()
        points = [p for w in _WORDS for p in _all(low, w)]
    points += _all(raw, b"-----")
    spans += [(p - BACK, p + AHEAD) for p in points]
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        a, b = max(a, 0), min(b, n)
        if merged and a <= merged[-1][1]:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _touches(red: str, a: int, b: int, n: int) -> tuple[bool, bool]:
    """Whether the first mask of window ``red`` (``text[a:b]`` redacted) is near its start, the last near its end."""
    first = red.find(MASK)
    if first < 0:
        return False, False
    tail = len(red) - red.rfind(MASK) - len(MASK)
    return a > 0 and first < EDGE, b < n and tail < EDGE


def masked_windows(text: str, run: Callable[[str], str]) -> list[tuple[int, int, str]]:
    """The windows of ``text`` that ``run`` (the plain engine) changes, as ``(start, end, redacted window)``,
    sorted and disjoint (see the module docstring)."""
    n = len(text)
    done: list[tuple[int, int, str]] = []
    todo = windows(text)
    todo.reverse()
    while todo:
        a, b = todo.pop()
        while True:
            # a window grown backwards swallows the changed windows it reaches, and forwards the next ones
            while done and done[-1][1] >= a:
                a = min(a, done.pop()[0])
            while todo and todo[-1][0] <= b:
                b = max(b, todo.pop()[1])
            seg = text[a:b]
            red = run(seg)
            if red == seg:
                break
            back, ahead = _touches(red, a, b, n)
            if not back and not ahead:
                done.append((a, b, red))
                break
            grow = max(b - a, 8 * EDGE)
            a, b = (max(0, a - grow) if back else a), (min(n, b + grow) if ahead else b)
    return done


def splice(text: str, done: list[tuple[int, int, str]]) -> str:
    """``text`` with each window of :func:`masked_windows` replaced by its redacted form."""
    if not done:
        return text
    parts, pos = [], 0
    for a, b, red in done:
        parts += [text[pos:a], red]
        pos = b
    parts.append(text[pos:])
    return "".join(parts)


def redact_windows(text: str, run: Callable[[str], str]) -> str:
    """``text`` redacted by ``run`` on its windows only."""
    return splice(text, masked_windows(text, run))
