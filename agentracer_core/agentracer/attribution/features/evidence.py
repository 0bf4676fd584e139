"""Evidence: whether a step's values come from what it just read, whether it names things nothing mentioned,
and whether a hand-off asks an agent for an action that agent never does.

These read the steps the way a reviewer checks a report against its source, so they need no knowledge of
the task's domain or of the system's names:

- ``unsourced_value``: a step states as a value (after "is", "equals", "=" or ":") a number of two digits or
  more, or a proper name, that neither the task nor what it had just read holds: its own tool results, and
  within the last :data:`_LOOK` steps its own last :data:`_OWN` messages (e.g. a page it opened) and the tool
  or executor outputs since. ``misattributed`` is such a value written somewhere earlier in the run (taken
  from the wrong place); ``first_unsourced`` marks the first such step.
- ``new_claim``: a step states as a value something that nothing earlier in the run (nor the task) holds,
  with or without an observation to read it from (a worker that answers from memory); ``first_new_claim``
  (from the second step: the opening plan states what it states).
- ``quoted_unseen``: a step quotes a string or names a file that neither the task nor any earlier step
  (with its tool results) mentioned (a search or a file made up, or taken wrongly); ``first_quoted_unseen``.
- ``code_unseen_number``: a code block computes with a number (two digits or more) that neither the task nor
  any earlier step holds (``17 * 32`` for a task about 17 and 23); ``first_code_unseen_number``.
- ``handoff_mismatch``: a step addresses the agent that speaks next and asks for a kind of action (web,
  files, code, execution) that this agent never performs anywhere in the run, while it performs others;
  ``reply_failed``: the addressed agent's reply reports a failure or an empty result; ``reply_new_claim``: that
  reply states a value that nothing earlier holds (asked someone who could not know, who answered anyway).

An agent's kinds of action come from its own steps (what it says and the tools it calls), never from its
name, so a team whose roles are named differently is read the same way.
"""

from __future__ import annotations

import re

from .text import _CAP, _has, _num_set, has_code_block
from .view import StepView, at, first, flags

Columns = dict[str, list[float]]

EVIDENCE_FEATURES: tuple[str, ...] = (
    "unsourced_value",
    "first_unsourced",
    "misattributed",
    "new_claim",
    "first_new_claim",
    "quoted_unseen",
    "first_quoted_unseen",
    "code_unseen_number",
    "first_code_unseen_number",
    "handoff_mismatch",
    "reply_failed",
    "reply_new_claim",
)

SEEN_LOOKBACK = 200_000  # characters before a step that "nothing earlier holds" searches (long runs stay linear)
_LOOK = 12  # how far back (in steps) a step's own earlier messages still count as what it just read
_OWN = 2  # ... and how many of them
_CAP_EACH = 4000  # characters of each nested tool result that the evidence keeps
# what a sentence states as a value: the words after "is", "are", "was", "equals", "=" or ":"
# (a comma between two digits belongs to the number: "is 1,520 EUR"; a decimal point still ends the claim, "is
# 3.75" states 3: reading decimals whole was measured and lowered Who&When 5-fold CV to 67.5 / 48.1, BENCHMARKS.md)
_CLAIM = re.compile(r"(?:\b(?:is|are|was|were|equals)\b|=|:)[ \t]+((?:[^\n.;,!?]|(?<=\d),(?=\d)){1,60})")
_CLAIM_WORDS = ("is", "are", "was", "were", "equals")
_DATA_LINE = re.compile(r"^\s*[-*]?\s*([\w ()'/%#.-]{1,40}):\s*[^:]{0,80}$")
_QUOTED = re.compile(r"[\"“']([^\"”'\n]{3,80})[\"”']")
_FILE = re.compile(r"\b[\w-]+\.(?:csv|xlsx?|json|txt|pdf|docx?|pptx?|md|py|zip|jsonl|tsv|xml|html?)\b", re.I)
_SENT_START = ("\n", ". ", ": ", "! ", "? ", "- ", "> ", "# ", "* ")
# the kinds of action a step asks for or performs, by the words that name them
_KINDS: dict[str, tuple[str, ...]] = {
    "web": ("search", "browse", "web", "page", "click", "url", "http", "website", "visit", "navigate"),
    "file": (".csv", ".xls", ".pdf", ".txt", ".json", ".doc", "file", "spreadsheet", "document", "open_file"),
    "code": ("```", "python", "script", "code", "program", "function"),
    "exec": ("exitcode", "execute", "run the", "terminal", "shell", "output:"),
}
_CANNOT = ("cannot", "can't", "can not", "unable", "no access", "don't have", "do not have", "no browser")
_SENTENCE = re.compile(r"(?<=[.!?\n])\s+")
_FAIL_REPLY = ("not found", "no results", "error", "could not", "couldn't", "cannot", "can't", "unable",
               "failed", "no such", "empty", "nothing")


def _names(text: str) -> set[str]:
    """Proper names (lower case): capitalised words, leaving out a single word that opens a sentence."""
    out = set()
    for m in _CAP.finditer(text):
        s = m.group(0)
        b = m.start()
        if " " not in s and (b == 0 or text[max(0, b - 2) : b] in _SENT_START or text[b - 1] == "\n"):
            continue
        out.add(s.lower())
    return out


def _values(text: str, nums: set[str]) -> set[str]:
    return {x for x in nums if len(x.lstrip("-").replace(".", "")) >= 2} | _names(text)


def _claims(text: str) -> str:
    """What ``text`` states as values, leaving out the lines that are data (``key: value`` alone on a line, as
    a page, a table or a record shows them), unless the key is an answer or a result."""
    out = []
    for line in text.splitlines():
        if ":" not in line and "=" not in line and not any(w in line for w in _CLAIM_WORDS):
            continue  # nothing stated as a value on this line (the same test as _CLAIM's, cheaper)
        m = _DATA_LINE.match(line) if ":" in line else None
        if m and not _has(m.group(1).lower(), ("answer", "result", "total", "output", "conclusion")):
            continue
        out.extend(_CLAIM.findall(line))
    return " ; ".join(out)


def _occurs(text: str, x: str, lo: int, hi: int) -> bool:
    """Whether the number ``x`` is written in ``text[lo:hi]`` as a number of its own: not inside a longer one
    (no digit or point before it, no digit after it). Plain searches, so a long text costs little."""
    pos = text.find(x, lo, hi)
    while pos >= 0:
        before = text[pos - 1] if pos > 0 else " "
        end = pos + len(x)
        after = text[end] if end < len(text) else " "
        if not (before.isdigit() or before == ".") and not after.isdigit():
            return True
        pos = text.find(x, pos + 1, hi)
    return False


def _holds(src: str, src_nums: set[str], x: str, lo: int = 0, hi: int | None = None) -> bool:
    """Whether the observation ``src[lo:hi]`` (lower case; ``src_nums`` its parsed numbers) holds the value ``x``:
    a number as parsed, or as written (a table row ``9981,8057`` holds 8057), a name as a substring."""
    hi = len(src) if hi is None else hi
    if x[:1].isdigit() or x[:1] == "-":
        return x in src_nums or _occurs(src, x, lo, hi)
    return src.find(x, lo, hi) >= 0


def _kinds(low: str) -> set[str]:
    return {k for k, words in _KINDS.items() if _has(low, words)}


def evidence_columns(v: StepView) -> Columns:
    """The evidence columns (:data:`EVIDENCE_FEATURES`) of every step."""
    n, tool, nt = v.n, v.tool, v.nt
    own = []  # each step's nested tool results (lower case), what it observed by its own calls
    for s in v.cands:
        kids = v.children.get(s.index, [])
        own.append("\n".join(
            (str(k.tool_result) if k.tool_result is not None else (k.content or ""))[:_CAP_EACH].lower()
            for k in kids if k.kind in ("tool_call", "tool_result")
        ))
    ev = [v.lows[i] + ("\n" + own[i] if own[i] else "") for i in range(n)]
    task_low = v.task.lower()
    task_vals = _values(v.task, v.task_nums)
    agent_names = {a.lower() for a in v.agents}
    # what was seen before step i: the task and ev[:i], one text built once and searched in place within the
    # last SEEN_LOOKBACK characters (a long run costs linear time), and the numbers seen, kept as a growing set
    parts = [task_low]
    ends = []
    size = len(task_low)
    for i in range(n):
        ends.append(size)
        parts.append("\n" + ev[i])
        size += len(parts[-1])
    seen_text = "".join(parts)
    del parts
    seen_nums = set(_num_set(task_low))

    def seen(i: int, x: str) -> bool:  # does the task or a step before i hold the value x?
        return _holds(seen_text, seen_nums, x, max(0, ends[i] - SEEN_LOOKBACK), ends[i]) or _holds(task_low, set(), x)

    unsourced = [False] * n
    new_claim = [False] * n  # states a value that nothing earlier in the run (nor the task) holds
    misattr = [False] * n
    q_unseen = [False] * n
    code_unseen = [False] * n  # code that computes with a number nothing earlier (nor the task) gave
    for i in range(n):
        if nt[i]:
            claims = _claims(v.texts[i][:_CAP_EACH])
            vals = (_values(claims, _num_set(claims)) - task_vals - agent_names) if claims else set()
            src = own[i]
            mine = 0
            for k in range(i - 1, max(-1, i - 1 - _LOOK), -1):  # its own last messages and the outputs since
                if tool[k] or v.agent_idx[k] == v.agent_idx[i]:
                    src = ev[k] + "\n" + src
                if v.agent_idx[k] == v.agent_idx[i]:
                    mine += 1
                    if mine == _OWN:
                        break
            if vals:
                new_claim[i] = any(not seen(i, x) for x in vals)
            if src.strip() and vals:
                src_nums = _num_set(src)
                missing = [x for x in vals if not _holds(src, src_nums, x)]
                missing = [x for x in missing if x not in task_low]
                if missing:
                    unsourced[i] = True
                    lo = max(0, ends[i] - SEEN_LOOKBACK)  # written anywhere before (a number inside a longer one too)
                    misattr[i] = any(seen_text.find(x, lo, ends[i]) >= 0 for x in missing)
            quoted = {m.strip().lower() for m in _QUOTED.findall(v.texts[i])} | {
                m.lower() for m in _FILE.findall(v.texts[i])}
            if "```" in v.texts[i] and has_code_block(v.texts[i]):
                code = " ".join(v.texts[i].split("```")[1::2])
                nums = {x for x in _num_set(code) if len(x.lstrip("-").replace(".", "")) >= 2}
                code_unseen[i] = any(not seen(i, x) for x in nums)
            q_unseen[i] = any(not seen(i, q) for q in quoted if len(q) >= 3)
        seen_nums |= v.step_nums[i]
        if own[i]:
            seen_nums |= _num_set(own[i])
    mismatch, reply_failed, reply_new = _handoffs(v, ev, new_claim)
    return {
        "unsourced_value": flags(unsourced),
        "first_unsourced": at(first(unsourced), n),
        "misattributed": flags(misattr),
        "new_claim": flags(new_claim),
        "first_new_claim": at(first(new_claim, 1), n),
        "quoted_unseen": flags(q_unseen),
        "first_quoted_unseen": at(first(q_unseen, 1), n),
        "code_unseen_number": flags(code_unseen),
        "first_code_unseen_number": at(first(code_unseen), n),
        "handoff_mismatch": flags(mismatch),
        "reply_failed": flags(reply_failed),
        "reply_new_claim": flags(reply_new),
    }


def _handoffs(v: StepView, ev: list[str], new_claim: list[bool]) -> tuple[list[bool], list[bool], list[bool]]:
    """Per step that addresses the next speaker by name: it asks for an action that agent never performs; the
    reply reports a failure; the reply states a value that nothing earlier holds (answered from nowhere)."""
    n, nt = v.n, v.nt
    does: dict[int, set[str]] = {}
    for i in range(1, n):  # what each agent does: its steps, leaving out what it says it cannot do
        text = ev[i]
        if _has(text, _CANNOT):
            text = "\n".join(x for x in _SENTENCE.split(text) if not _has(x, _CANNOT))
        does.setdefault(v.agent_idx[i], set()).update(_kinds(text))
    names = [a.lower() for a in v.agents]
    mismatch = [False] * n
    failed = [False] * n
    reply_new = [False] * n
    nxt = [-1] * n  # the next step by another agent (one backward pass: a long monologue stays linear)
    for i in range(n - 2, -1, -1):
        nxt[i] = i + 1 if v.agent_idx[i + 1] != v.agent_idx[i] else nxt[i + 1]
    for i in range(n - 1):
        if not nt[i]:
            continue
        j = nxt[i]
        if j < 0:
            continue
        to = v.agent_idx[j]
        name = v.agents[to].lower()
        if not name or name not in v.lows[i]:
            continue
        ask = v.lows[i].split(name, 1)[1]
        cut = min((ask.find(o) for o in names if o and o != name and o in ask), default=-1)
        asked = _kinds(ask[:cut] if cut >= 0 else ask) - {"exec"}  # up to the next agent it names
        if asked and does.get(to) and not asked & does[to]:
            mismatch[i] = True
        failed[i] = _has(v.lows[j][:300], _FAIL_REPLY)
        reply_new[i] = new_claim[j] and not v.tool[j]
    return mismatch, failed, reply_new
