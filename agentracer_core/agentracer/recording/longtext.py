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
2. Each anchor gives a window (:data:`BACK` characters before, :data:`AHEAD` after, :data:`RUN_AHEAD` after a
   run); overlapping windows merge.
3. The normal engine (all detectors, with their marker gates) redacts each window. A window whose first mask
   starts, or whose last mask ends, within :data:`EDGE` characters of its edge may cut a secret: it grows
   (doubling) and is redacted again, until no mask touches an edge or it reaches the text's ends.

Text between windows holds no anchor, so no detector can match there. The cost is a few passes over the
text plus the detectors on the windows only: a long text with few anchors (prose, logs) is cheap; a run of
base64's alphabet longer than :data:`BLOB` (an encoded image or file) gives windows at its two ends only;
one made of other token runs (minified code) is one big window and costs what the plain engine costs.
Options that add detectors without this guarantee (PII, ``add_pattern``, entropy) use the plain engine.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable

__all__ = ["AHEAD", "BACK", "BLOB", "BLOB_EDGE", "EDGE", "LONG", "RUN_AHEAD", "masked_windows", "redact_windows", "splice", "windows"]

LONG = 65536  # texts longer than this take the windowed path (shorter ones the cached plain engine)
BACK = 64  # window characters before an anchor (a name before its value: ``ibm_cloud_iam_key = '…'``)
AHEAD = 64  # window characters after a separator or a keyword name (the value)
RUN_AHEAD = 16  # window characters after a token run (a closing quote, a look-ahead)
EDGE = 48  # a mask this close to a window's edge may be a cut secret: the window grows
MIN_RUN = 11  # the shortest run of token characters every format detector's match holds
BLOB = 4096  # a token run longer than this, base64's alphabet only (but for its ends), is an encoded blob (an image)
BLOB_EDGE = 256  # ... whose first and last characters only are windows (a value's start, e.g. after ``Basic ``)
MAX_SEPARATORS = 4096  # above this many ``:``/``=``, keyword names are the anchors instead
BATCH = 16384  # characters of windows redacted in one call
SEP = "\n\x00\n"  # joins the windows of a batch

_TOKEN = set(string.ascii_letters + string.digits + "_+/=.~-%")
_SHAPE = bytes(97 if chr(i) in _TOKEN else 32 for i in range(256))  # token character -> "a", other -> " "
_RUN = b"a" * MIN_RUN
_NOT_TOKEN = re.compile(rb"[^a]")
_BASE64 = re.compile(rb"[A-Za-z0-9+/]+=*")
# keyword names (their short values are no run) and URL schemes (``://user:password@``); bearer and basic
# values are runs of 12 or more
_WORDS = (b"secret", b"passw", b"pwd", b"credential", b"key", b"token", b"://")
MASK = "[REDACTED]"


def _all(hay: bytes, needle: bytes, cap: int = -1) -> list[int]:
    """Every offset of ``needle`` in ``hay``; stops after ``cap`` + 1 of them when ``cap`` >= 0."""
    out, find, i = [], hay.find, hay.find(needle)
    while i >= 0:
        out.append(i)
        if len(out) == cap + 1:
            break
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
        if e - i > BLOB and _BASE64.fullmatch(raw, i + BLOB_EDGE, e - BLOB_EDGE):  # its ends are windows anyway
            # an encoded blob: a credential written as text cannot sit inside one (it would need a ``_``, ``-``,
            # ``.``, ``:`` or a keyword and separator, or it is glued to the blob's characters); what a format
            # such as AWS's ``AKIA…`` matches inside one is chance on encoded bytes. So only the blob's two ends
            # are windows, where a value may start or end; a mask at a window's edge still grows the window
            spans += [(i - BACK, i + BLOB_EDGE), (e - BLOB_EDGE, e + RUN_AHEAD)]
        else:
            spans.append((i - BACK, e + RUN_AHEAD))
        i = find(_RUN, e)
    points = _all(raw, b":", MAX_SEPARATORS)
    if len(points) <= MAX_SEPARATORS:
        points += _all(raw, b"=", MAX_SEPARATORS - len(points))
    if len(points) > MAX_SEPARATORS:  # many separators (code, JSON): the keyword names and URL schemes instead
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


def _grow(text: str, a: int, b: int, run: Callable[[str], str]) -> tuple[int, int, str | None]:
    """``text[a:b]`` redacted, the window grown (doubling) while a mask touches one of its edges; None when
    nothing in it is masked."""
    n = len(text)
    while True:
        seg = text[a:b]
        red = run(seg)
        if red == seg:
            return a, b, None
        back, ahead = _touches(red, a, b, n)
        if not back and not ahead:
            return a, b, red
        grow = max(b - a, 8 * EDGE)
        a, b = (max(0, a - grow) if back else a), (min(n, b + grow) if ahead else b)


def masked_windows(text: str, run: Callable[[str], str]) -> list[tuple[int, int, str]]:
    """The windows of ``text`` that ``run`` (the plain engine) changes, as ``(start, end, redacted window)``,
    sorted and disjoint (see the module docstring).

    The windows go to ``run`` in batches of about :data:`BATCH` characters, joined by :data:`SEP` (no
    detector matches across a newline-NUL-newline, and each window starts after a newline as it would start
    a text); a batch whose result does not split back into its windows (a PEM block without its end in the
    window) and a window whose mask touches an edge are redone one by one, growing as needed."""
    wins = windows(text)
    found: list[tuple[int, int, str]] = []
    redo: list[tuple[int, int]] = []
    i = 0
    while i < len(wins):
        j, size = i, 0
        while j < len(wins) and (j == i or size + wins[j][1] - wins[j][0] <= BATCH):
            size += wins[j][1] - wins[j][0] + len(SEP)
            j += 1
        segs = [text[a:b] for a, b in wins[i:j]]
        joined = SEP.join(segs)
        red = run(joined)
        if red != joined:
            parts = red.split(SEP)
            if len(parts) != len(segs):
                redo += wins[i:j]
            else:
                for (a, b), seg, part in zip(wins[i:j], segs, parts, strict=True):
                    if part == seg:
                        continue
                    if any(_touches(part, a, b, len(text))):
                        redo.append((a, b))
                    else:
                        found.append((a, b, part))
        i = j
    for a, b in redo:
        a, b, red = _grow(text, a, b, run)
        if red is not None:
            found.append((a, b, red))
    found.sort()
    done: list[tuple[int, int, str]] = []
    for a, b, red in found:
        while done and a < done[-1][1]:  # a grown window overlaps another: redo their union
            pa, pb, _ = done.pop()
            a, b, red = _grow(text, min(a, pa), max(b, pb), run)  # type: ignore[assignment]
        if red is not None:
            done.append((a, b, red))
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
