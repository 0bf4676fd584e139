"""The text mutators of fault injection: numbers, condition words, numbered lists, tool-call arguments,
stated facts and handoffs, each ``(text, rng, ctx) -> text | None`` (None: the fault does not apply)."""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .taxonomy import MutationContext

__all__ = ["text_drop", "text_fabricate", "text_handoff", "text_invert", "text_off_by_one", "text_tool_arg"]


_NUM = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*\w)")
_LABEL_BEFORE = re.compile(r"(?i)(step|turn|hop|stage|round|#)\s*$")


def _numbers(text: str) -> list[re.Match[str]]:
    out = []
    for m in _NUM.finditer(text):
        before = text[max(0, m.start() - 8): m.start()]
        line_start = text.rfind("\n", 0, m.start()) + 1
        if _LABEL_BEFORE.search(before):
            continue  # a step label, not a value
        if text[line_start: m.start()].strip() == "" and text[m.end(): m.end() + 1] in (".", ")"):
            continue  # a list marker "3." / "3)"
        out.append(m)
    return out


def text_off_by_one(text: str, rng: random.Random, ctx: MutationContext) -> str | None:
    nums = _numbers(text)
    if not nums:
        return None
    # prefer results: a number after '=' or 'answer' or 'value'; else any value
    pref = [m for m in nums if re.search(r"(?i)(=|answer|value|result|is)\s*[:\s]*$", text[max(0, m.start() - 12): m.start()])]
    m = rng.choice(pref or nums)
    raw = m.group(0)
    if "." in raw:
        new = f"{float(raw) + rng.choice((-1, 1)):.{len(raw.split('.')[1])}f}"
    else:
        new = str(int(raw) + rng.choice((-1, 1)))
    return text[: m.start()] + new + text[m.end():]


_WORD_FLIPS = [
    ("greater than or equal to", "less than"), ("less than or equal to", "greater than"),
    ("greater", "less"), ("larger", "smaller"), ("above", "below"), ("more", "fewer"), ("increase", "decrease"),
    ("add", "subtract"), ("plus", "minus"), ("even", "odd"), ("keep", "drop"), ("include", "exclude"),
    ("before", "after"), ("true", "false"), ("yes", "no"), ("pass", "fail"), ("passed", "failed"),
    ("approved", "rejected"), ("correct", "incorrect"), ("valid", "invalid"), ("all", "none"),
    ("maximum", "minimum"), ("largest", "smallest"), ("max", "min"), ("ascending", "descending"), ("first", "last"),
]
_SYM_FLIPS = [(">=", "<"), ("<=", ">"), ("==", "!="), ("!=", "=="), (">", "<="), ("<", ">=")]


def _case_like(src: str, word: str) -> str:
    if src.isupper():
        return word.upper()
    if src[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def text_invert(text: str, rng: random.Random, ctx: MutationContext) -> str | None:
    cands: list[tuple[int, int, str]] = []
    for a, b in _WORD_FLIPS:
        for src, dst in ((a, b), (b, a)):
            for m in re.finditer(rf"(?i)\b{re.escape(src)}\b", text):
                cands.append((m.start(), m.end(), _case_like(m.group(0), dst)))
    for a, b in _SYM_FLIPS:
        for m in re.finditer(rf"(?<![<>=!]){re.escape(a)}(?![<>=])", text):
            cands.append((m.start(), m.end(), b))
    if not cands:
        return None
    # drop candidates overlapping a longer one
    cands.sort(key=lambda c: (c[0], -(c[1] - c[0])))
    keep: list[tuple[int, int, str]] = []
    for c in cands:
        if not keep or c[0] >= keep[-1][1]:
            keep.append(c)
    a, b, new = rng.choice(keep)
    return text[:a] + new + text[b:]


_LIST_LINE = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+.+$", re.M)


def text_drop(text: str, rng: random.Random, ctx: MutationContext) -> str | None:
    lines = list(_LIST_LINE.finditer(text))
    if len(lines) >= 2:
        m = rng.choice(lines)
        a, b = m.start(), m.end()
        if b < len(text) and text[b] == "\n":
            b += 1
        return _renumber(text[:a] + text[b:])
    # a clause: "..., and X" / " and X" / a sentence with must/only/exactly/at least/at most
    clauses = list(re.finditer(r"(?i)(,?\s+(?:and|but|while)\s+[^.,;\n]+)", text))
    musts = list(re.finditer(r"(?i)[^.\n]*\b(?:must|only|exactly|at least|at most|never|always)\b[^.\n]*\.\s*", text))
    pool = [(m.start(), m.end()) for m in clauses + musts if m.end() - m.start() < len(text)]
    if not pool:
        return None
    a, b = rng.choice(pool)
    out = (text[:a] + text[b:]).strip()
    return out if out and out != text.strip() else None


def _renumber(text: str) -> str:
    """Renumber a numbered list after a line was dropped (so the drop is not betrayed by a gap)."""
    counter = 0

    def sub(m: re.Match[str]) -> str:
        nonlocal counter
        counter += 1
        return f"{m.group(1)}{counter}{m.group(3)}"

    return re.sub(r"(?m)^(\s*)(\d+)([.)]\s)", sub, text)


_TOOL_CALL = re.compile(r"(?P<name>[A-Za-z_][\w.]*)\((?P<args>[^()]*)\)")
_ARG = re.compile(r"\"[^\"]*\"|'[^']*'|-?\d+(?:\.\d+)?")


def _perturb_string(s: str, rng: random.Random, ctx: MutationContext) -> str:
    others = [v for v in ctx.vocabulary if v != s and v]
    if others:
        return rng.choice(others)
    if len(s) >= 3:
        i = rng.randrange(len(s) - 1)
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]
    return s + "x"


def text_tool_arg(text: str, rng: random.Random, ctx: MutationContext) -> str | None:
    calls = [m for m in _TOOL_CALL.finditer(text) if _ARG.search(m.group("args"))]
    if not calls:
        return _json_tool_arg(text, rng, ctx)
    m = rng.choice(calls)
    args = list(_ARG.finditer(m.group("args")))
    arg = rng.choice(args)
    raw = arg.group(0)
    if raw[0] in "\"'":
        new = raw[0] + _perturb_string(raw[1:-1], rng, ctx) + raw[0]
    else:
        new = str(int(float(raw)) + rng.choice((-1, 1))) if "." not in raw else str(float(raw) + 1)
    if new == raw:
        return None
    a = m.start("args") + arg.start()
    b = m.start("args") + arg.end()
    return text[:a] + new + text[b:]


def _json_tool_arg(text: str, rng: random.Random, ctx: MutationContext) -> str | None:
    m = re.search(r"\"(?:arguments|args|parameters|input)\"\s*:\s*\{([^{}]*)\}", text)
    if not m:
        return None
    vals = list(re.finditer(r":\s*(\"[^\"]*\"|-?\d+(?:\.\d+)?)", m.group(1)))
    if not vals:
        return None
    v = rng.choice(vals)
    raw = v.group(1)
    new = ("\"" + _perturb_string(raw[1:-1], rng, ctx) + "\"") if raw.startswith("\"") else str(int(float(raw)) + 1)
    a = m.start(1) + v.start(1)
    return text[:a] + new + text[a + len(raw):]


def _made_up_name(rng: random.Random) -> str:
    syl = ["ka", "lo", "mi", "ren", "tu", "sa", "vor", "el", "dan", "qui", "zo", "pha", "ril", "mon"]
    return "".join(rng.choice(syl) for _ in range(rng.choice((2, 3)))).capitalize()


def text_fabricate(text: str, rng: random.Random, ctx: MutationContext) -> str | None:
    # a stated fact: "... is X" / ": X" where X is a capitalised name or a number
    facts = list(re.finditer(r"(?:\bis\b|\bare\b|\bwas\b|:|=)\s+(?P<v>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*|-?\d+(?:\.\d+)?)", text))
    agents = {a.lower() for a in ctx.agents}
    facts = [f for f in facts if f.group("v").lower() not in agents and not f.group("v").isupper()]
    if not facts:
        return None
    f = rng.choice(facts)
    v = f.group("v")
    if re.fullmatch(r"-?\d+(?:\.\d+)?", v):
        n = float(v)
        new_n = n + rng.choice((-1, 1)) * max(2, round(abs(n) * rng.uniform(0.2, 0.6)))
        new = str(int(new_n)) if "." not in v else f"{new_n:.2f}"
    else:
        pool = [w for w in ctx.vocabulary if w != v and w[:1].isupper() and w.lower() not in agents]
        new = rng.choice(pool) if pool else _made_up_name(rng)
    if new == v:
        return None
    return text[: f.start("v")] + new + text[f.end("v"):]


def text_handoff(text: str, rng: random.Random, ctx: MutationContext) -> str | None:
    agents = [a for a in ctx.agents if a]
    if len(agents) < 2:
        return None
    names = "|".join(re.escape(a) for a in sorted(agents, key=len, reverse=True))
    pats = [
        rf"(?:->|→|=>)\s*(?P<a>{names})\b",
        rf"(?i:hand(?:ing)?\s*off\s+to|handoff\s+to|transfer(?:ring)?\s+to|next\s*(?:speaker|agent)?\s*:|route\s+to|@)\s*(?P<a>{names})\b",
    ]
    hits = [m for p in pats for m in re.finditer(p, text)]
    if not hits:
        return None
    m = rng.choice(hits)
    cur = m.group("a")
    others = [a for a in agents if a != cur and a != ctx.speaker] or [a for a in agents if a != cur]
    new = rng.choice(others)
    return text[: m.start("a")] + new + text[m.end("a"):]


