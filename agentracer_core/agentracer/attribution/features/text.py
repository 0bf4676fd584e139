"""Reading a step's text: the cue words and patterns the features look for, numbers and answer-like tokens,
the answer a message states, and the outcome of a tool/executor output (pure Python)."""

from __future__ import annotations

import re

from ...trace import Step

_HEAD, _TAIL = 3000, 1500  # characters of a step's text that the features read

_TOOL_NAME = re.compile(r"(?i)(terminal|executor|interpreter|code_?exec|computer|python_?repl|shell|sandbox|^tools?$)")
_EXIT = re.compile(r"exitcode:\s*(-?\d+)")
_NUM = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?")
_LIST_MARK = re.compile(r"(?m)^\s*(?:#+\s*)?(?:step\s*)?\d{1,2}[.)]\s")
_BOLD = re.compile(r"\*\*([^*\n]{1,60})\*\*")
_QUOTE = re.compile(r"[\"“]([^\"”\n]{2,60})[\"”]")
_CAP = re.compile(r"\b[A-Z][a-z]{2,}(?:\s+[A-Z][a-z]+)*")
_URL = re.compile(r"https?://")
_WORD4 = re.compile(r"[a-z]{4,}")
_BOXED = re.compile(r"\\boxed\{([^{}\n]{1,80})\}")
_ANS_COLON = re.compile(r"(?i)(final answer|final output|final result|answer|result)\s*(is|:)\s*[:*\s]*([^\n]{1,100})")
_IS_VALUE = re.compile(
    r"(?i)\b(answer|result|total|number|count|value|word|name|final|therefore|thus|conclu\w*)\b[^.\n]{0,120}?"
    r"\b(is|are|was|being|equals|=)\s+([^\n]{1,80}?)(?:[.;]\s|[.;]?$|\n)"
)
_FENCE_SHORT = re.compile(r"```\s*([^`\n]{1,60})\s*```")

# cue words, matched as substrings of the lower-cased text
_FAIL = ("execution failed", "traceback (most recent", "error:", "exception:", "timed out", "timeout")
_NOOP = ("there is no code from the last", "there is no code in the last")
_EMPTY_TAIL = ("not found", "no result", "returned no", "empty", "none")
_ASSUME = (
    "assum",
    "hypothetical",
    "simulat",
    "mock",
    "placeholder",
    "dummy",
    "fictional",
    "sample data",
    "example data",
    "for demonstration",
    "illustrat",
    "let's say",
    "pretend",
    "made-up",
    "made up",
)
_ESTIMATE = ("approximat", "estimat", "typical", "generally", "usually", "likely", "probably")
_UNABLE = (
    "unable",
    "cannot",
    "can't",
    "could not",
    "couldn't",
    "not able",
    "no access",
    "don't have access",
    "do not have access",
    "not available",
    "unavailable",
    "not possible",
    "impossible",
    "limitation",
)
_AGREE = (
    "i agree",
    "agreed",
    "confirm",
    "verified",
    "is correct",
    "are correct",
    " accurate",
    "consistent",
    "looks good",
)
_CLAIM_DONE = (
    "i have verified",
    "i have checked",
    "i have reviewed",
    "i have found",
    "i have confirmed",
    "i have gathered",
    "i have identified",
    "i have analyzed",
    "i have analysed",
    "i have looked",
    "after reviewing",
    "after checking",
    "after visiting",
    "after searching",
    "after manually",
    "after analyzing",
    "after analysing",
    "after examining",
    "findings",
    "here are the details",
    "here are the results",
    "i found ",
    "based on my research",
    "based on our research",
    "based on my search",
    "based on my knowledge",
    "based on our search",
)
_MANUAL = ("manual",)
_PROMISE = (
    "please hold on",
    "i will now proceed",
    "i will proceed",
    "i will check",
    "i will search",
    "i will gather",
    "i will look",
    "let me check",
    "let me search",
    "let me gather",
)
_ANSWER = ("final answer", "the answer is", "the result is", "therefore", "in conclusion", "to conclude", "conclusion")
_ERROR_TALK = ("error", "fail", "issue", "problem", "mistake", "incorrect", "wrong", "apolog", "fix")
_PLAN = ("# plan", "plan for solving", "step-by-step plan", "step by step plan")
_INSTALL = ("pip install", "apt-get")
# a code fence opens a line: "```python" in the middle of prose ("the terminal runs the code blocks quoted in ```python
# blocks", a team description that a plan repeats) is text about code, not code
_FENCE_LINE = re.compile(r"^[ \t>]*```", re.M)
_SHELL_FENCE = re.compile(r"^[ \t>]*```(?:sh|bash|shell)\b", re.M)
_VERIFIER = ("verif", "valid", "check", "review", "critic", "judge", "audit")


def has_code_block(text: str) -> bool:
    """Whether ``text`` holds a fenced code block: a ``` fence that opens a line (not one quoted inside prose)."""
    return "```" in text and _FENCE_LINE.search(text) is not None


def installs(text: str, low: str) -> bool:
    """Whether ``text`` (``low``: lower-cased) installs packages: pip/apt-get, or a shell code block."""
    return _has(low, _INSTALL) or ("```" in text and _SHELL_FENCE.search(text) is not None)


def _has(low: str, subs: tuple[str, ...]) -> bool:
    return any(s in low for s in subs)


def is_tool_step(step: Step) -> bool:
    """Whether a top-level step is an executor/tool turn rather than an agent speaking."""
    if step.kind in ("tool_result", "tool_call") or step.role == "tool":
        return True
    if _TOOL_NAME.search(step.agent or ""):
        return True
    return bool(_EXIT.match((step.content or "").lstrip()[:40]))


def _norm_num(s: str) -> str:
    s = s.replace(",", "").lstrip("+")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def _num_set(text: str) -> set[str]:
    raw = set(_NUM.findall(_LIST_MARK.sub(" ", text)))
    special = {m for m in raw if "," in m or "." in m or m[0] == "+"}
    if special:
        raw -= special
        raw.update(_norm_num(m) for m in special)
    return raw


def _answer_tokens(text: str, nums: set[str] | None = None) -> set[str]:
    """Answer-like tokens: normalised numbers (two characters or more), bold and quoted spans, lower case."""
    out = {t for t in (_num_set(text) if nums is None else nums) if len(t.lstrip("-")) >= 2}
    out.update(m.strip().lower() for m in _BOLD.findall(text))
    out.update(m.strip().lower() for m in _QUOTE.findall(text))
    out.discard("")
    return out


def answer_span(text: str) -> str | None:
    """The span of ``text`` that states an answer (boxed, "answer: X", a bold value, "... is X"), if any."""
    for rx, grp in ((_BOXED, 1), (_ANS_COLON, 3), (_FENCE_SHORT, 1)):
        ms = [m for m in rx.finditer(text) if "?" not in m.group(grp) and "(" not in m.group(grp)]
        if ms:
            return ms[-1].group(grp)
    bold = [b for b in _BOLD.findall(text) if not b.rstrip().endswith((":", "?")) and len(b.split()) <= 6]
    ms = list(_IS_VALUE.finditer(text))
    if ms:
        return ms[-1].group(3) + (" " + bold[-1] if bold else "")
    if bold:
        return bold[-1]
    return None


def _span_tokens(span: str, context: str) -> set[str]:
    """Value tokens of an answer span: its numbers, else its names and quoted strings absent from ``context``."""
    nums = {t for t in _num_set(span) if len(span) <= 40 or len(t.lstrip("-")) >= 2}
    if nums:
        return nums
    out = {m.lower() for m in _CAP.findall(span)}
    out.update(m.strip().lower() for m in _QUOTE.findall(span))
    if not out and 0 < len(span.strip()) <= 40:
        out.add(span.strip().strip("*`\"'.").lower())
    ctx = context.lower()
    return {t for t in out if t and t not in ctx}


def _step_text(step: Step) -> str:
    text = step.content or ""
    if not text and step.tool_result is not None:
        text = str(step.tool_result)
    if len(text) > _HEAD + _TAIL:
        text = text[:_HEAD] + "\n...\n" + text[-_TAIL:]
    return text


def _outcome(low: str) -> tuple[bool, bool, bool, bool]:
    """(failed, ok, empty, noop) of an executor/tool output (``low`` is lower-cased)."""
    if _has(low, _NOOP):
        return False, False, False, True
    m = _EXIT.search(low)
    failed = _has(low, _FAIL) or (m is not None and m.group(1) != "0")
    tail = low.strip()[-200:]
    body = tail.split("code output:", 1)[-1].strip() if "code output:" in tail else tail
    empty = (not failed) and (len(body) < 3 or body in ("[]", "{}", "0", "nan", "0.0") or _has(tail, _EMPTY_TAIL))
    return failed, (not failed and not empty), empty, False


def _contains_gt(text_low: str, nums: set[str], gt_low: str, gt_nums: set[str]) -> bool:
    if not gt_low:
        return False
    if gt_nums and gt_nums <= nums:
        return True
    return len(gt_low) >= 2 and gt_low in text_low
