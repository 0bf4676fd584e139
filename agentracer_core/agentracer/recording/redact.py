"""Secret redaction: masks provider API keys, bearer tokens, passwords in URLs and private keys.

Applied by the recorder before anything is stored or exported, so every export path (JSONL, OTLP,
HTML, datasets) sees masked text. Add patterns with :func:`add_pattern`.
"""

from __future__ import annotations

import functools
import re

__all__ = ["MASK", "add_pattern", "patterns", "redact"]

MASK = "[REDACTED]"

# (pattern, replacement, markers): a pattern runs only when one of its lower-case markers is in the text,
# so clean text costs one lower() and a few substring scans instead of a dozen regex passes.
_DEFAULT: list[tuple[str, str, tuple[str, ...]]] = [
    (r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)", MASK, ("private key",)),
    (r"\bsk-(?:proj-|ant-|or-)?[A-Za-z0-9_\-]{16,}", MASK, ("sk-",)),
    (r"\bAKIA[0-9A-Z]{16}\b", MASK, ("akia",)),
    (r"\bAIza[0-9A-Za-z_\-]{35}\b", MASK, ("aiza",)),
    (r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", MASK, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    (r"\bgithub_pat_[A-Za-z0-9_]{40,}\b", MASK, ("github_pat_",)),
    (r"\bhf_[A-Za-z0-9]{30,}\b", MASK, ("hf_",)),
    (r"\bxox[abprs]-[A-Za-z0-9\-]{10,}", MASK, ("xox",)),
    (r"\bglpat-[A-Za-z0-9_\-]{20,}", MASK, ("glpat-",)),
    (r"\bsk_live_[A-Za-z0-9]{16,}", MASK, ("sk_live_",)),
    # bearer tokens and basic auth headers
    (r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{12,}", r"\1 " + MASK, ("bearer", "basic")),
    # passwords in URLs: scheme://user:password@host
    (r"([a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]+:)[^\s@/]+@", r"\1" + MASK + "@", ("://",)),
    # key=value / "key": "value" assignments of obvious secrets (also inside JSON-escaped strings)
    (
        r"(?i)((?:api[_-]?key|secret|password|passwd|access[_-]?token|auth[_-]?token)[\\\"']*\s*[:=]\s*[\\\"']*)"
        r"[^\s\\\"',;]{6,}",
        r"\1" + MASK,
        ("apikey", "api_key", "api-key", "secret", "passw", "token"),
    ),
]

_compiled: list[tuple[re.Pattern[str], str, tuple[str, ...]]] = [(re.compile(p), r, m) for p, r, m in _DEFAULT]

# every marker of the default patterns in one alternation: text in which none occurs (most text) is
# checked with one scan instead of one substring scan per marker
_ANY_MARKER = re.compile("|".join(re.escape(m) for _, _, ms in _DEFAULT for m in ms))


def add_pattern(pattern: str, replacement: str = MASK) -> None:
    """Mask every match of the regular expression ``pattern`` from now on (process-wide)."""
    _compiled.append((re.compile(pattern), replacement, ()))
    _redact_cached.cache_clear()


def patterns() -> list[str]:
    """The active patterns, defaults first."""
    return [p.pattern for p, _, _ in _compiled]


def redact(text: str) -> str:
    """``text`` with every secret masked; non-strings are returned unchanged.

    Results are cached (bounded LRU), because multi-turn prompts resend the same messages on every call.
    """
    if not isinstance(text, str) or not text:
        return text
    return _redact(text) if len(text) > _CACHE_MAX_CHARS else _redact_cached(text)


_CACHE_MAX_CHARS = 65536


@functools.lru_cache(maxsize=2048)
def _redact_cached(text: str) -> str:
    return _redact(text)


def _redact(text: str) -> str:
    low = text.lower()
    marked = _ANY_MARKER.search(low) is not None  # without any marker, only the unmarked (added) patterns run
    for pat, rep, markers in _compiled:
        if not markers or (marked and any(m in low for m in markers)):
            text = pat.sub(rep, text)
    return text
