"""Secret redaction: masks provider API keys, bearer tokens, passwords in URLs and private keys.

Applied by the recorder before anything is stored or exported, so every export path (JSONL, OTLP,
HTML, datasets) sees masked text. Add patterns with :func:`add_pattern`.
"""

from __future__ import annotations

import re

__all__ = ["MASK", "add_pattern", "patterns", "redact"]

MASK = "[REDACTED]"

_DEFAULT: list[tuple[str, str]] = [
    # PEM private keys (whole block)
    (r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)", MASK),
    # provider keys
    (r"\bsk-(?:proj-|ant-|or-)?[A-Za-z0-9_\-]{16,}", MASK),
    (r"\bAKIA[0-9A-Z]{16}\b", MASK),
    (r"\bAIza[0-9A-Za-z_\-]{35}\b", MASK),
    (r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", MASK),
    (r"\bgithub_pat_[A-Za-z0-9_]{40,}\b", MASK),
    (r"\bhf_[A-Za-z0-9]{30,}\b", MASK),
    (r"\bxox[abprs]-[A-Za-z0-9\-]{10,}", MASK),
    (r"\bglpat-[A-Za-z0-9_\-]{20,}", MASK),
    (r"\bsk_live_[A-Za-z0-9]{16,}", MASK),
    # bearer tokens and basic auth headers
    (r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{12,}", r"\1 " + MASK),
    # passwords in URLs: scheme://user:password@host
    (r"([a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]+:)[^\s@/]+@", r"\1" + MASK + "@"),
    # key=value / "key": "value" assignments of obvious secrets
    (
        r"(?i)((?:api[_-]?key|secret|password|passwd|access[_-]?token|auth[_-]?token)\s*[\"']?\s*[:=]\s*[\"']?)"
        r"[^\s\"',;]{6,}",
        r"\1" + MASK,
    ),
]

_compiled: list[tuple[re.Pattern[str], str]] = [(re.compile(p), r) for p, r in _DEFAULT]


def add_pattern(pattern: str, replacement: str = MASK) -> None:
    """Mask every match of the regular expression ``pattern`` from now on (process-wide)."""
    _compiled.append((re.compile(pattern), replacement))


def patterns() -> list[str]:
    """The active patterns, defaults first."""
    return [p.pattern for p, _ in _compiled]


def redact(text: str) -> str:
    """``text`` with every secret masked; non-strings are returned unchanged."""
    if not isinstance(text, str) or not text:
        return text
    for pat, rep in _compiled:
        text = pat.sub(rep, text)
    return text
