"""Secret redaction: one step that every output of the project passes through.

- :func:`redact` masks every secret in a string with :data:`MASK`. The detectors are in
  :mod:`agentracer.recording.detectors` (detect-secrets' plugins, gitleaks' documented formats, keyword
  assignments; high entropy and PII opt-in). The recorder applies it to every string before anything is stored.
- :func:`redact_item` / :func:`redact_value` mask a whole trace (or any JSON-like value): imported traces are
  redacted on the way out exactly like recorded ones.
- :func:`redacts` is the decorator every writer of the project wears (trace files in all formats, the OTLP
  sender, the HTML report, annotation datasets and ledgers, evaluation and refinement outputs): it redacts the
  content arguments before the writer sees them. ``tests/test_redaction_writers.py`` walks the code and fails
  on a writer without it. Training rows and refinement feedback call :func:`redact_item` / :func:`redact`.
- :func:`redact_pair` redacts a field's value together with its name (``{"api_key": "…"}``).
- :func:`configure` sets the process-wide options (``pii``, ``entropy``); :func:`redactor` makes a redactor
  with its own options, e.g. ``Recorder(redactor=redactor(pii=True))``. :func:`add_pattern` adds a regex to all.

Texts over 64K characters are redacted by windows around cheap anchors (:mod:`agentracer.recording.longtext`),
in time linear in the text with a small constant; their masked windows are remembered by (length, hash), so a
message recorded as input, prompt and content is redacted once.

detect-secrets is imported on the first redaction, not with ``agentracer``.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import inspect
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from .detectors import Rule, default_rules, entropy_rule, pii_rules
from .longtext import LONG, masked_windows, splice

__all__ = [
    "MASK", "WRITERS", "add_pattern", "configure", "patterns", "redact", "redact_any", "redact_item", "redact_pair",
    "redact_value", "redactor", "redacts",
]

MASK = "[REDACTED]"

_extra: list[Rule] = []  # add_pattern()
_options = {"pii": False, "entropy": False}
_engines: dict[tuple[bool, bool], _Engine] = {}
_current: list[_Engine] = []  # the engine of the process-wide options, once built (the hot path of redact())
_lock = threading.Lock()
_CACHE_MAX_CHARS = LONG  # longer texts take the windowed path (recording/longtext.py), cached by _Engine.long
_LONG_CACHE = 8  # long texts remembered per engine (the same message is kept as input, prompt and content)


def _has_upper(m: str) -> bool:
    return any(c.isupper() for c in m)


# Every default rule needs either a run of at least 11 token characters (the shortest format is an Artifactory
# key) or one of these words (keyword assignments, URL passwords, Authorization headers, PEM blocks): text with
# neither (most short messages) skips all of them.
_RUN = re.compile(r"[A-Za-z0-9_+/=.~\-]{11}")
_WORDS = ("secret", "passw", "pwd", "credential", "key", "token", "://", "bearer", "basic", "private")
_SHORT = 400  # up to this length, the combined prefix search gates all rules at once


def _literal_prefix(rx: re.Pattern[str]) -> str:
    """The literal characters a regex starts with ("" when it starts with a class, group or assertion)."""
    try:
        from re import _parser as parser  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_parse as parser  # type: ignore[no-redef]
    out = []
    try:
        for op, av in parser.parse(rx.pattern, rx.flags):
            if str(op) != "LITERAL":
                break
            out.append(chr(av))
    except Exception:  # noqa: BLE001 - an unparsable pattern just gets no prefix
        return ""
    return "".join(out)


def _alternation(words: set[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))) if words else None


class _Engine:
    """The compiled rules for one set of options, with the marker gates and a bounded result cache."""

    def __init__(self, rules: list[Rule], gated: bool) -> None:
        self.rules = rules
        # short text: one combined search for every rule's markers or literal prefix decides whether any rule
        # can match (cheaper than a test per rule there; on long text Python's alternations are slower than
        # separate substring tests, see detectors' docstring)
        upper: set[str] = set()
        lower: set[str] = set()
        self.ungated = False
        for r in rules:
            words = r.markers or ((p,) if len(p := _literal_prefix(r.regex)) >= 2 else ())
            if not words or r.replacement is not None:
                self.ungated = True
            for w in words:
                (upper if _has_upper(w) else lower).add(w.lower() if r.lower else w)
        self.short_upper, self.short_lower = _alternation(upper), _alternation(lower)
        self.gated = gated  # False when a rule without the guarantee above is in (PII, add_pattern)
        # a rule written for lower-case text, for the rare text whose lower() changes its length
        self.ci = {id(r): re.compile(r.regex.pattern, re.IGNORECASE) for r in rules if r.lower}
        # (rule, markers tested on the text as it is, markers tested on the lower-cased text)
        self.plan = [(r, tuple(m for m in r.markers if _has_upper(m)), tuple(m for m in r.markers if not _has_upper(m)))
                     for r in rules]
        self.cached = functools.lru_cache(maxsize=4096)(self._run)
        # long texts: (length, hash) -> the masked windows (small), not the text: nothing large is kept alive
        self._long: dict[tuple[int, int], list[tuple[int, int, str]]] = {}

    def __call__(self, text: str) -> str:
        return self.long(text) if len(text) > _CACHE_MAX_CHARS else self.cached(text)

    def long(self, text: str) -> str:
        """A text over ``LONG`` characters: the windowed path when every rule has the run-or-word guarantee
        (see recording/longtext.py), else the plain engine; the masked windows are remembered by the text's
        length and hash (a hash is computed once per str object), because a recorded message comes back as
        the step input, the prompt and the content."""
        if not self.gated:  # PII or add_pattern rules: no windows, and no large result kept
            return self._run(text)
        key = (len(text), hash(text))
        done = self._long.get(key)
        if done is None:
            done = masked_windows(text, self._run)
            if len(self._long) >= _LONG_CACHE:
                self._long.pop(next(iter(self._long)), None)
            self._long[key] = done
        return splice(text, done)

    def _run(self, text: str) -> str:
        low = text.lower()
        if self.gated and _RUN.search(text) is None and not any(w in low for w in _WORDS):
            return text
        if len(text) <= _SHORT and not self.ungated and not (
                (self.short_upper is not None and self.short_upper.search(text))
                or (self.short_lower is not None and self.short_lower.search(low))):
            return text
        seen: dict[str, bool] = {}  # marker -> present; rules share markers, and each test scans the text
        for rule, upper, lower in self.plan:
            if upper or lower:
                hit = False
                for m in upper:
                    h = seen.get(m)
                    if h is None:
                        h = seen[m] = m in text
                    if h:
                        hit = True
                        break
                if not hit:
                    for m in lower:
                        h = seen.get(m)
                        if h is None:
                            h = seen[m] = m in low
                        if h:
                            hit = True
                            break
                if not hit:
                    continue
            new = _apply(rule, text, low, self.ci.get(id(rule)))
            if new is not text:
                text, low = new, new.lower()
                seen.clear()
        return text


def _apply(rule: Rule, text: str, low: str, ci: re.Pattern[str] | None) -> str:
    """``text`` with every match of ``rule`` masked (the same object when nothing matched)."""
    if rule.replacement is not None:
        new = rule.regex.sub(rule.replacement, text)
        return text if new == text else new
    if rule.lower:
        rx, hay = (rule.regex, low) if len(low) == len(text) else (ci or rule.regex, text)
    else:
        rx, hay = rule.regex, text
    if rx.search(hay) is None:
        return text
    spans: list[tuple[int, int]] = []
    g = rule.group
    for m in rx.finditer(hay):
        if rule.bound and m.start() > 0 and text[m.start() - 1].isalnum():
            continue
        s, e = m.span(g)
        if s < 0 or s == e:
            continue
        secret = text[s:e]
        if MASK in secret or (rule.check is not None and not rule.check(secret)):
            continue
        spans.append((s, e))
    if not spans:
        return text
    parts, pos = [], 0
    for s, e in spans:
        parts += [text[pos:s], MASK]
        pos = e
    parts.append(text[pos:])
    return "".join(parts)


def _engine(pii: bool, entropy: bool) -> _Engine:
    key = (pii, entropy)
    eng = _engines.get(key)
    if eng is None:
        with _lock:
            eng = _engines.get(key)
            if eng is None:
                rules = default_rules() + _extra
                if entropy:
                    rules.append(entropy_rule())
                if pii:
                    rules += pii_rules()
                eng = _engines[key] = _Engine(rules, gated=not pii and not _extra)
    return eng


def configure(*, pii: bool | None = None, entropy: bool | None = None) -> dict[str, bool]:
    """Set the process-wide options of :func:`redact` (``None`` keeps one); returns them.

    ``pii``: also mask e-mails, phone numbers, IBANs and card numbers. ``entropy``: also mask high-entropy
    strings (see :data:`agentracer.recording.detectors.ENTROPY_THRESHOLD`).
    """
    if pii is not None:
        _options["pii"] = bool(pii)
    if entropy is not None:
        _options["entropy"] = bool(entropy)
    _current.clear()
    return dict(_options)


def redactor(*, pii: bool = False, entropy: bool = False) -> Callable[[str], str]:
    """A redactor with its own options (the process-wide ones are ignored), e.g. for a Recorder."""

    def red(text: str) -> str:
        if not isinstance(text, str) or not text:
            return text
        return _engine(pii, entropy)(text)

    return red


def add_pattern(pattern: str, replacement: str = MASK) -> None:
    """Mask every match of the regular expression ``pattern`` from now on (process-wide, all redactors)."""
    _extra.append(Rule("user", re.compile(pattern), replacement=None if replacement == MASK else replacement))
    with _lock:
        _engines.clear()
        _current.clear()


def patterns() -> list[str]:
    """The active patterns (default options), defaults first."""
    return [r.regex.pattern for r in _engine(False, False).rules]


def redact(text: str) -> str:
    """``text`` with every secret masked (with the process-wide options); non-strings are returned unchanged.

    Results are cached (bounded LRU), because multi-turn prompts resend the same messages on every call.
    """
    if not isinstance(text, str) or not text:
        return text
    if not _current:
        _current[:] = [_engine(_options["pii"], _options["entropy"])]
    eng = _current[0]
    return eng.cached(text) if len(text) <= _CACHE_MAX_CHARS else eng.long(text)


_NAME_WORDS = ("secret", "passw", "pwd", "credential", "key", "token", "auth")


@functools.lru_cache(maxsize=2048)
def _secret_name(name: str) -> bool:
    low = name.lower()
    return any(w in low for w in _NAME_WORDS)


def redact_pair(name: Any, value: str, red: Callable[[str], str] | None = None) -> str:
    """``value`` redacted as the value of the field ``name``: ``{"api_key": "abcd1234efgh5678"}`` holds a
    secret that the value alone does not show, so a secret-like name is redacted together with its value."""
    red = red or redact
    if isinstance(name, str) and value and _secret_name(name):
        prefix = f"{name}="
        out = red(prefix + value)
        if out.startswith(prefix):
            return out[len(prefix):]
    return red(value)


def redact_value(obj: Any, red: Callable[[str], str] | None = None) -> Any:
    """A copy of a JSON-like value (dicts, lists, tuples, strings) with every string, keys included, redacted."""
    red = red or redact
    if isinstance(obj, str):
        return red(obj)
    if isinstance(obj, dict):
        return {(red(k) if isinstance(k, str) else k): redact_pair(k, v, red) if isinstance(v, str) else redact_value(v, red)
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_value(v, red) for v in obj]
    return obj


def redact_item(item: Any, red: Callable[[str], str] | None = None) -> Any:
    """A redacted copy of a Trace or AnnotatedTrace (through its dict form); anything else via :func:`redact_any`."""
    from ..trace import AnnotatedTrace, Trace

    if isinstance(item, (Trace, AnnotatedTrace)):
        return type(item).from_dict(redact_value(item.to_dict(), red or redact))
    return redact_any(item, red)


def redact_any(obj: Any, red: Callable[[str], str] | None = None) -> Any:
    """A redacted copy of what a writer gets: traces, dicts, lists or iterators of anything, dataclasses (their
    fields, recursively), strings. Other objects (numbers, paths, models) are returned as they are."""
    from ..trace import AnnotatedTrace, Trace

    red = red or redact
    if isinstance(obj, str):
        return red(obj)
    if isinstance(obj, (Trace, AnnotatedTrace)):
        return redact_item(obj, red)
    if isinstance(obj, dict):
        return {(red(k) if isinstance(k, str) else k): redact_pair(k, v, red) if isinstance(v, str) else redact_any(v, red)
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple, Iterator)):
        return [redact_any(x, red) for x in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {f.name: redact_any(getattr(obj, f.name), red) for f in dataclasses.fields(obj) if f.init}
        return dataclasses.replace(obj, **changes)
    return obj


_inside: contextvars.ContextVar[bool] = contextvars.ContextVar("agentracer_redacting", default=False)
WRITERS: set[str] = set()  # "module.qualname" of every function decorated with @redacts
F = TypeVar("F", bound=Callable[..., Any])


def redacts(*params: str) -> Callable[[F], F]:
    """Decorator for a writer: the arguments named ``params`` (default: the first) are redacted before it runs.

    A writer called from inside another (``write`` -> ``write_jsonl``) does not redact twice.
    """

    def deco(fn: F) -> F:
        sig = inspect.signature(fn)
        names = list(params) or [next(n for n in sig.parameters if n not in ("self", "cls"))]
        WRITERS.add(f"{fn.__module__}.{fn.__qualname__}")

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _inside.get():
                return fn(*args, **kwargs)
            bound = sig.bind(*args, **kwargs)
            for n in names:
                if n in bound.arguments:
                    bound.arguments[n] = redact_any(bound.arguments[n])
            token = _inside.set(True)
            try:
                return fn(*bound.args, **bound.kwargs)
            finally:
                _inside.reset(token)

        wrapper.__agentracer_redacts__ = tuple(names)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return deco
