"""Fit a long trace into a model's context by shortening each step, never dropping one.

Each step keeps the head and the tail of its content around a short cut marker. The budget is shared
*max-min fairly*: every step may keep up to a common cap, chosen as large as the budget allows, so short
steps (a one-line verdict, "The answer is 85") stay intact and long ones (code, logs, web pages) give up
their middles in proportion to how much they exceed the cap. Step numbers live outside the shortened
text, so every step index survives.

Lengths are measured in tokens when a tokenizer is given (anything with ``encode``/``decode``, e.g. a
``transformers`` tokenizer), otherwise in characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["CUT_MARKER", "fair_cap", "fit_texts", "measure", "shorten"]

CUT_MARKER = " […{n} {unit} cut…] "
_HEAD_SHARE = 0.6  # errors are stated early in a message (code, claims); tails hold verdicts and outputs


def _encode(tokenizer: Any, text: str) -> list[int]:
    try:  # verbose=False: measuring a long step is not "running it through the model"; no length warning
        ids = tokenizer.encode(text, add_special_tokens=False, verbose=False)
    except TypeError:
        try:
            ids = tokenizer.encode(text, add_special_tokens=False)
        except TypeError:
            ids = tokenizer.encode(text)
    if hasattr(ids, "ids"):  # a bare ``tokenizers.Tokenizer`` returns an Encoding
        ids = ids.ids
    return list(ids)


def _encode_many(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    """Token ids of many texts, in one batched call where the tokenizer supports it (fast tokenizers)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)  # a fast transformers tokenizer's Rust core
    if texts and backend is not None and hasattr(backend, "encode_batch"):
        try:
            return [list(e.ids) for e in backend.encode_batch(texts, add_special_tokens=False)]
        except Exception:
            pass
    if texts and callable(tokenizer) and not hasattr(tokenizer, "encode_batch"):
        try:
            got = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
            if isinstance(got, list) and len(got) == len(texts):
                return [list(g) for g in got]
        except Exception:  # any tokenizer quirk: fall back to one call per text
            pass
    return [_encode(tokenizer, t) for t in texts]


def _decode(tokenizer: Any, ids: list[int]) -> str:
    try:
        return tokenizer.decode(ids, skip_special_tokens=False)
    except TypeError:
        return tokenizer.decode(ids)


def measure(text: str, tokenizer: Any = None) -> int:
    """Length of ``text``: tokens with a tokenizer, characters without."""
    if tokenizer is None:
        return len(text)
    return len(_encode(tokenizer, text))


def shorten(text: str, limit: int, tokenizer: Any = None, *, ids: list[int] | None = None) -> str:
    """``text`` cut to at most ``limit`` units (tokens or chars): head + marker + tail.

    When even the marker does not fit, the head alone is kept (down to the empty string for ``limit <= 0``).
    ``ids`` may carry ``text``'s token ids when the caller already has them.
    """
    if limit <= 0:
        return ""
    if tokenizer is None:
        if len(text) <= limit:
            return text
        # the widest marker this cut can need (the real count has at most as many digits)
        room = limit - len(CUT_MARKER.format(n=len(text), unit="chars"))
        if room < 8:
            return text[:limit]
        head = int(room * _HEAD_SHARE)
        tail = room - head
        marker = CUT_MARKER.format(n=len(text) - head - tail, unit="chars")
        return text[:head] + marker + (text[-tail:] if tail else "")
    if ids is None:
        ids = _encode(tokenizer, text)
    if len(ids) <= limit:
        return text
    m_len = _marker_tokens(tokenizer, len(ids))
    room = limit - m_len - 2  # decoding at a cut may merge a token or two differently
    if room < 8:
        return _decode(tokenizer, ids[: max(limit - 1, 0)])
    head = int(room * _HEAD_SHARE)
    tail = room - head
    n_cut = len(ids) - head - tail
    return _decode(tokenizer, ids[:head]) + CUT_MARKER.format(n=n_cut, unit="tokens") + _decode(tokenizer, ids[-tail:])


def _marker_tokens(tokenizer: Any, n: int) -> int:
    return measure(CUT_MARKER.format(n=n, unit="tokens"), tokenizer)


def fair_cap(lengths: Sequence[int], budget: int) -> int:
    """The largest cap ``c`` with ``sum(min(l, c) for l in lengths) <= budget`` (water-filling)."""
    if budget <= 0 or not lengths:
        return 0
    if sum(lengths) <= budget:
        return max(lengths)
    ordered = sorted(lengths)
    remaining = budget
    n = len(ordered)
    for i, length in enumerate(ordered):
        share = remaining // (n - i)
        if length > share:
            return share
        remaining -= length
    return ordered[-1]


def fit_texts(
    texts: Sequence[str], budget: int, tokenizer: Any = None, *, lengths: Sequence[int] | None = None
) -> list[str]:
    """Shorten ``texts`` (one per step, same order) so their total length is at most ``budget``.

    Returns a list of the same length; a text is only ever shortened (head + tail), never dropped or
    reordered. Measured in tokens with ``tokenizer``, in characters without (``lengths`` may give the
    texts' lengths in that unit, to skip measuring them again). With a budget too small for anything,
    every text becomes empty (the caller still prints each step's number and agent).
    """
    texts = [t if isinstance(t, str) else str(t) for t in texts]
    if tokenizer is not None:
        return _fit_tokens(texts, budget, tokenizer, lengths)
    if lengths is None or len(lengths) != len(texts):
        lengths = [len(t) for t in texts]
    if sum(lengths) <= budget:
        return list(texts)
    cap = fair_cap(lengths, budget)
    return [t if n <= cap else shorten(t, cap) for t, n in zip(texts, lengths, strict=True)]


def _fit_tokens(texts: list[str], budget: int, tokenizer: Any, lengths: Sequence[int] | None) -> list[str]:
    if lengths is not None and len(lengths) == len(texts) and sum(lengths) <= budget:
        return list(texts)
    ids = _encode_many(tokenizer, texts)  # each text is encoded once
    lens = [len(i) for i in ids]
    if sum(lens) <= budget:
        return list(texts)
    cap = fair_cap(lens, budget)
    out = list(texts)
    out_lens = list(lens)
    for _ in range(5):
        long = [k for k, n in enumerate(lens) if n > cap]
        for k in long:
            out[k] = shorten(texts[k], cap, tokenizer, ids=ids[k])
        for k, got in zip(long, _encode_many(tokenizer, [out[k] for k in long]), strict=True):
            out_lens[k] = len(got)
        total = sum(out_lens)
        if total <= budget or not long:
            break
        # decoding a cut can re-tokenise a little longer: lower the cap by the overflow, spread over the cut texts
        cap = max(cap - ((total - budget) // len(long) + 1), 0)
    return out
