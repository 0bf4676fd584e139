"""Per-step and per-agent features for the embedded attributor (pure Python, no numpy needed).

:func:`extract` turns a :class:`~agentracer.trace.Trace` into one feature row per *candidate* step (the
top-level agent steps, :meth:`Trace.agent_steps`) and one row per agent. The features are generic: they
read step text, speakers, the structure of the conversation and the results of tool/code execution, so
they apply to any framework, not only Who&When. Groups:

- position and structure: first/second/third step, relative position, the last substantive step, whether
  the run ended with a conclusion (``TERMINATE``, "final answer") or ran out of turns;
- speaker: tool/executor steps, the first speaker, the agent's n-th turn, verifier-like names;
- content: length (absolute and relative to the other steps), code blocks, assumption/simulation words,
  inability, agreement, "manual" work an LLM cannot do, claims of results ("I have verified", "after
  reviewing") made without any tool output to back them, numbers and names that neither the task nor
  any earlier step mentioned (unsupported facts);
- outcome of the step's action: the next executor step (or the step's own ``tool_result`` children)
  fails, succeeds or returns nothing;
- value provenance: the answer stated in the concluding message (boxed, "answer: X", a bold value,
  "... is X") is followed back to the step that first states it, and a tool output that first states it
  is credited to the step whose code produced it; with the ground truth (w/ G), where the steps state it;
- "first of its kind" flags (the first step with code, the first assumption, the first failed
  execution, the first unsupported claim) and the rank of a step among the code-writing steps, because
  the decisive step is the *earliest* step whose correction would fix the run;
- a few step cues crossed with trace-level context (concluded or not, any failed execution, any
  unsupported claim, number of code-writing steps).

Speed: cue words are found by substring search on lower-cased text, and each step's text is capped
(head and tail) so a 100-step trace takes a few milliseconds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ..trace import Step, Trace, normalize_agent

__all__ = [
    "AGENT_FEATURES",
    "STEP_FEATURES",
    "TraceFeatures",
    "answer_span",
    "extract",
    "is_tool_step",
    "noop_code",
    "percent_slip",
    "rounding_slip",
    "unit_slips",
    "wrong_equations",
]

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
# "a op b = c" with plain numbers, optionally in a currency ("$20 - $15 = $5", "1,200 + 300 = 1,500"); "x" is a
# times sign only between spaces ("4 x 3"), never in "2x"
_EQ_NUM = r"[$€£]?(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?)"
_EQUATION = re.compile(
    rf"(?<![\w.,]){_EQ_NUM}\s*([-+*/×÷]|(?<=\s)[xX](?=\s))\s*{_EQ_NUM}\s*=\s*{_EQ_NUM}(?!\w|[.,]\d)(%?)"
)
# bounds the task sets in words ("keep the numbers greater than 5") and bounds a step states or codes ("x <= 5")
_BOUND_NUM = r"(-?\d+(?:\.\d+)?)"
_BOUND_WORDS = (
    (
        re.compile(
            r"(?i)\b(?:less than|fewer than|below|under|smaller than|at most|no more than|up to)\s+" + _BOUND_NUM
        ),
        "<",
    ),
    (
        re.compile(
            r"(?i)\b(?:greater than|more than|above|over|larger than|at least|no less than|exceeds?)\s+" + _BOUND_NUM
        ),
        ">",
    ),
)
_BOUND_CODE = re.compile(r"(?<![<>=!])([<>])=?\s*" + _BOUND_NUM + r"(?![\d.])")
_BOUND_CODE_REV = re.compile(r"(?<![\w.])" + _BOUND_NUM + r"\s*([<>])=?\s*[A-Za-z_(]")
# code that does nothing: an identity comprehension ("[x for x in xs]"), a function whose body is ``pass``,
# ``...``, ``raise NotImplementedError`` or returns its first argument unchanged
_ID_COMPREHENSION = re.compile(r"\[\s*(\w+)\s+for\s+\1\s+in\s+[\w.]+\s*\]")
_DEF_BODY = re.compile(r"(?m)^[ \t]*def\s+\w+\s*\(\s*(\w+)[^)]*\)\s*(?:->[^:]+)?:[ \t]*\n((?:[ \t]+.*\n?)+)")
_FENCE_SHORT = re.compile(r"```\s*([^`\n]{1,60})\s*```")
# counting units whose conversion factor is fixed ("23 dozen" is 276 items, never 23 x 10)
_UNITS = {"dozen": 12, "score": 20, "gross": 144}
_UNIT_TASK = re.compile(r"(?i)\b(\d+(?:\.\d+)?)\s+(dozens?|score|gross)\b")
_UNIT_DEF = re.compile(r"(?i)\b(?:a|one|1)\s+(dozen|score|gross)\s+(?:is|=|equals|means|makes|has)\s+(\d+(?:\.\d+)?)\b")
_TIMES = r"\s*(?:[xX×*]|times)\s*"
# a percentage in the task ("20 percent", "15%")
_PERCENT_TASK = re.compile(r"(?i)(?<![\w.])(\d+(?:\.\d+)?)\s*(?:%|percent\b|per\s+cent\b)")
_OPERATOR = "+-*/×"
_PERCENT_CONVERTED = re.compile(r"/\s*100(?![\d.])|\*\s*0?\.01(?!\d)")  # "/ 100" or "* 0.01" anywhere
_DECIMAL = re.compile(r"(?<![\w.])\d*\.\d+(?![\w.])")
# a rounding instruction in the task and the granularity it asks for
_ROUND_TASK = re.compile(
    r"(?i)\bnearest\s+(whole\s+number|integer|ten|hundred|thousand|million|tenth|hundredth|thousandth|dollar|cent)s?\b"
    r"|\b(?:to|with)\s+(\d+|one|two|three|four)\s+decimal\s+places?\b"
)
_ROUND_MULTIPLE = {"ten": 10, "hundred": 100, "thousand": 1000, "million": 1_000_000}
_ROUND_DECIMALS = {"whole number": 0, "integer": 0, "dollar": 0, "tenth": 1, "hundredth": 2, "cent": 2,
                   "thousandth": 3, "one": 1, "two": 2, "three": 3, "four": 4}

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
_INSTALL = ("pip install", "apt-get", "```sh", "```bash", "```shell")
_VERIFIER = ("verif", "valid", "check", "review", "critic", "judge", "audit")

_BASE_FEATURES: tuple[str, ...] = (
    "pos0",
    "pos1",
    "pos2",
    "rel_pos",
    "is_last",
    "last_substantive",
    "last_subst_x_terminated",
    "second_last_substantive",
    "is_tool",
    "first_speaker",
    "agent_first_turn",
    "new_agent",
    "agent_turn_idx",
    "agent_share",
    "verifier_name",
    "same_agent_as_prev",
    "log_len",
    "has_code",
    "n_code",
    "install",
    "first_coder",
    "second_coder",
    "last_coder",
    "coder_rank",
    "assume",
    "first_assume",
    "estimate",
    "unable",
    "first_unable",
    "agree",
    "claim_done",
    "claim_unsupported",
    "first_unsupported",
    "manual",
    "promise",
    "answer_claim",
    "terminate_only",
    "terminate",
    "error_talk",
    "plan_like",
    "pos0_code",
    "pos0_results",
    "pos0_assume",
    "next_fail",
    "next_ok",
    "next_empty",
    "next_noop",
    "prev_fail",
    "prev_empty",
    "prev_tool",
    "own_tool_fail",
    "first_fail_cause",
    "first_empty_cause",
    "later_fixes",
    "new_numbers",
    "new_names",
    "urls",
    "intro_final",
    "code_for_final",
    "origin_final",
    "states_final",
    "first_states_final",
    "ans_origin",
    "ans_origin_author",
    "ans_mentions",
    "ans_first_mention",
    "ans_stated",
    "first_non_tool_after0",
    "terminated",
    "longest",
    "len_rank",
    "len_ratio",
    "code_len_ratio",
    "first_new_numbers",
    "first_manual",
    "ok_coder",
    "first_ok_coder",
    "gt_in_step",
    "gt_first",
    "gt_last",
    "after_gt_lost",
    "pos0_task_drift",
    "wrong_equation",
    "first_wrong_equation",
    "restate_drops",
    "answer_mismatch",
    "tool_arg_unseen",
    "first_tool_arg_unseen",
    "contradicts_task",
    "first_contradicts_task",
    "noop_code",
    "first_noop_code",
    "unit_slip",
    "percent_slip",
    "rounding_slip",
)
# step cues crossed with trace-level context (the same cue means different things in a run that concluded
# with an answer and in one that ran out of turns, or in a run with failed executions)
_CUES: tuple[str, ...] = (
    "first_coder",
    "has_code",
    "next_fail",
    "next_empty",
    "next_ok",
    "claim_unsupported",
    "manual",
    "assume",
    "last_substantive",
    "longest",
    "states_final",
    "ans_origin_author",
    "unable",
    "agree",
    "pos0",
    "first_manual",
    "first_new_numbers",
)
_CONTEXTS: tuple[str, ...] = ("terminated", "any_fail", "any_unsupported", "n_coders")
STEP_FEATURES: tuple[str, ...] = _BASE_FEATURES + tuple(f"{c}*{x}" for x in _CONTEXTS for c in _CUES)

AGENT_FEATURES: tuple[str, ...] = (
    "a_step_mass",
    "a_max_step",
    "a_first_speaker",
    "a_order",
    "a_share",
    "a_is_tool",
    "a_verifier_name",
    "a_has_code",
    "a_caused_fail",
    "a_assume",
    "a_origin_final",
    "a_claim_unsupported",
    "a_first_coder",
    "a_last_substantive",
    "a_turns",
    "a_turn_share",
)


@dataclass
class TraceFeatures:
    """Feature rows of one trace: ``step_rows`` (one per candidate step) and ``agent_rows`` (one per agent).

    ``agent_of_candidate[i]`` is the position in ``agents`` of candidate ``i``'s agent. The first two
    agent columns (step mass, max step probability) are zero here; the model fills them in.
    """

    candidates: list[Step]
    step_rows: list[list[float]]
    agents: list[str]
    agent_of_candidate: list[int]
    agent_rows: list[list[float]] = field(default_factory=list)


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


def _beside(text: str, start: int, end: int) -> tuple[str, str]:
    """The nearest non-blank characters before ``start`` and after ``end`` in ``text`` ("" at either end)."""
    return text[:start].rstrip()[-1:], text[end:].lstrip()[:1]


def wrong_equations(text: str) -> int:
    """How many ``a op b = c`` statements in ``text`` are arithmetically false: a slip the step itself makes.

    Only two-operand equations that stand alone count (``2 + 3 * 4 = 14`` is skipped, not misread as
    ``3 * 4 = 14``); ``c`` may be rounded to the decimals it shows, and an integer quotient may be truncated.
    """
    bad = 0
    for m in _EQUATION.finditer(text):
        before, after = _beside(text, m.start(), m.end())
        if before and before in "+-*/×÷^(" or after and after in "+-*/×÷^(":
            continue  # part of a longer expression
        a_s, op, b_s, c_s = (g.replace(",", "") for g in m.group(1, 2, 3, 4))
        a, b, c = float(a_s), float(b_s), float(c_s)
        if op in "/÷" and b == 0 or op == "-" and all(x.isdigit() and 1000 <= int(x) < 3000 for x in (a_s, b_s)):
            continue  # a division by zero is not ours to judge; "1990-2000" is a range of years
        v = {"+": a + b, "-": a - b, "/": a / b if b else 0.0, "÷": a / b if b else 0.0}.get(op, a * b)
        if m.group(5):  # "50 / 200 = 25%"
            v *= 100.0
        decimals = len(c_s.split(".", 1)[1]) if "." in c_s else 0
        tol = 0.5 * 10**-decimals + 1e-9 + 1e-3 * abs(v)
        if op in "/÷" and decimals == 0:
            tol = max(tol, 1.0)
        if abs(v - c) > tol:
            bad += 1
    return bad


def _bounds(text: str, code: bool) -> set[tuple[str, float]]:
    """(direction, number) pairs: "<" for an upper bound ("less than 5", ``x <= 5``), ">" for a lower one."""
    out = {(d, float(m.group(1))) for rx, d in _BOUND_WORDS for m in rx.finditer(text)}
    if code:
        out |= {(m.group(1), float(m.group(2))) for m in _BOUND_CODE.finditer(text)}
        out |= {(">" if m.group(2) == "<" else "<", float(m.group(1))) for m in _BOUND_CODE_REV.finditer(text)}
    return out


def unit_slips(task: str, text: str) -> int:
    """How many counting-unit conversions of the task's quantities ``text`` gets wrong.

    The task's "N dozen" / "N score" / "N gross" multiplied by a factor other than the unit's (``23 x 10``
    for 23 dozen), or the unit itself defined wrongly ("a dozen is 10").
    """
    bad = 0
    for m in _UNIT_DEF.finditer(text):
        bad += float(m.group(2)) != _UNITS[m.group(1).lower()]
    for m in _UNIT_TASK.finditer(task):
        unit = m.group(2).lower()
        n, factor = re.escape(m.group(1)), _UNITS["dozen" if unit.startswith("dozen") else unit]
        pat = rf"(?<![\w.]){n}{_TIMES}(\d+(?:\.\d+)?)(?![\w.])|(?<![\w.])(\d+(?:\.\d+)?){_TIMES}{n}(?![\w.])"
        for k in re.finditer(pat, text):
            bad += float(k.group(1) or k.group(2)) != factor
    return bad


def percent_slip(task: str, text: str) -> bool:
    """Whether ``text`` uses one of the task's percentages as a plain number (``total - 20`` for "20 percent").

    It fires when the percentage stands next to an arithmetic operator and the step never converts it
    (no ``/ 100`` or ``* 0.01``, no ``20%`` or ``20 percent``, no ``100 - 20``, no ``0.2``, ``0.8`` or ``1.2``).
    """
    for m in _PERCENT_TASK.finditer(task):
        p_s = m.group(1)
        p = float(p_s)
        if p == 100 or p == 0:
            continue
        num = rf"(?<![\w.]){re.escape(p_s)}(?![\w.%])"
        used = False
        for k in re.finditer(num, text):
            before, after = _beside(text, k.start(), k.end())
            if (before and before in _OPERATOR) or (after and after in _OPERATOR):
                used = True
                break
        if not used:
            continue
        if _PERCENT_CONVERTED.search(text) or re.search(
            rf"(?<![\w.]){re.escape(p_s)}\s*(?:%|percent|per\s+cent)|100\s*[-+]\s*{re.escape(p_s)}(?![\w.])", text
        ):
            continue
        factors = (p / 100, 1 - p / 100, 1 + p / 100)  # 0.2, 0.8, 1.2 for 20 percent
        if any(abs(float(d) - f) < 1e-9 for d in _DECIMAL.findall(text) for f in factors):
            continue
        return True
    return False


def rounding_slip(task: str, answer: str) -> bool:
    """Whether the numbers of ``answer`` ignore the rounding the task asks for ("to the nearest ten": 115)."""
    wants = []
    for m in _ROUND_TASK.finditer(task):
        unit = re.sub(r"\s+", " ", (m.group(1) or m.group(2) or "").lower())
        if unit.isdigit():
            wants.append(("decimals", int(unit)))
        elif unit in _ROUND_MULTIPLE:
            wants.append(("multiple", _ROUND_MULTIPLE[unit]))
        elif unit in _ROUND_DECIMALS:
            wants.append(("decimals", _ROUND_DECIMALS[unit]))
    if not wants:
        return False
    nums = [t.replace(",", "") for t in _NUM.findall(answer)]
    if not nums:
        return False
    for t in nums:
        decimals = len(t.split(".", 1)[1].rstrip("0")) if "." in t else 0
        value = float(t)
        if any(kind == "decimals" and decimals <= v or kind == "multiple" and decimals == 0 and value % v == 0
               for kind, v in wants):
            return False
    return True


def noop_code(text: str) -> bool:
    """Whether ``text`` holds code that does nothing: a stub or an identity where work was asked for."""
    if _ID_COMPREHENSION.search(text):
        return True
    for m in _DEF_BODY.finditer(text):
        body = [ln.strip() for ln in m.group(2).splitlines() if ln.strip() and not ln.strip().startswith("#")]
        if body in (["pass"], ["..."], [f"return {m.group(1)}"]) or (
            body and body[0].startswith("raise NotImplementedError")
        ):
            return True
    return False


def _entity_like(value: str) -> bool:
    """A short argument that names something (checkable against earlier text), not code or free text."""
    return 3 <= len(value) <= 60 and not any(c in value for c in "()=;{}[]\n") and len(value.split()) <= 6


def _first(flags: list[bool], start: int = 0) -> int:
    for i in range(start, len(flags)):
        if flags[i]:
            return i
    return -1


def _author(i: int, tool: list[bool]) -> int:
    """The nearest non-tool step at or before ``i`` (the step whose action a tool output reports on)."""
    while i >= 0 and tool[i]:
        i -= 1
    return i


def extract(trace: Trace, ground_truth: str | None = None) -> TraceFeatures:
    """Feature rows for the candidate steps and the agents of ``trace`` (see :data:`STEP_FEATURES`).

    ``ground_truth`` (w/ G) adds the features that compare steps with the expected answer; without it
    those columns are zero. Never raises on odd content (empty steps, no agents, no tools).
    """
    cands = trace.agent_steps()
    n = len(cands)
    if n == 0:
        return TraceFeatures([], [], [], [], [])
    children: dict[int, list[Step]] = {}
    for s in trace.steps:
        if s.parent is not None:
            children.setdefault(s.parent, []).append(s)
    texts = [_step_text(s) for s in cands]
    lows = [t.lower() for t in texts]
    bodies = [t.replace("TERMINATE", "").strip() for t in texts]
    tool_agent: dict[str, bool] = {}
    tool = []
    for s in cands:
        if s.kind in ("tool_result", "tool_call") or s.role == "tool":
            tool.append(True)
            continue
        if s.agent not in tool_agent:
            tool_agent[s.agent] = bool(_TOOL_NAME.search(s.agent or ""))
        tool.append(tool_agent[s.agent] or bool(_EXIT.match((s.content or "").lstrip()[:40])))
    agents: list[str] = []
    akey: dict[str, int] = {}
    agent_idx: list[int] = []
    for s in cands:
        k = normalize_agent(s.agent)
        if k not in akey:
            akey[k] = len(agents)
            agents.append(s.agent)
        agent_idx.append(akey[k])
    counts = [0] * len(agents)
    for a in agent_idx:
        counts[a] += 1

    none4 = (False, False, False, False)
    outcomes = [_outcome(lows[i]) if tool[i] else none4 for i in range(n)]
    own_fail = [False] * n
    for i, s in enumerate(cands):
        for k in children.get(s.index, []):
            if k.kind in ("tool_result", "tool_call"):
                txt = (k.content or "") + " " + (str(k.tool_result) if k.tool_result is not None else "")
                if _outcome(txt[: _HEAD + _TAIL].lower())[0]:
                    own_fail[i] = True
                    break
    nxt_out = [none4] * n
    for i in range(n - 1):
        if not tool[i] and tool[i + 1]:
            nxt_out[i] = outcomes[i + 1]
    subst = [not tool[i] and len(bodies[i]) >= 30 for i in range(n)]
    subst_idx = [i for i in range(n) if subst[i]]
    last_subst = subst_idx[-1] if subst_idx else -1
    second_last_subst = subst_idx[-2] if len(subst_idx) > 1 else -1
    tail_low = " ".join(lows[max(0, n - 2) :])
    terminated = 1.0 if ("terminate" in tail_low or _has(tail_low, _ANSWER) or trace.final_answer) else 0.0

    # --- numbers, answer tokens
    task = trace.task or ""
    task_nums = _num_set(task)
    known = _answer_tokens(task, task_nums) | task_nums
    step_nums = [_num_set(t) for t in texts]
    step_tok = [_answer_tokens(t, step_nums[i]) for i, t in enumerate(texts)]

    # --- provenance of the final message's value tokens (all of them)
    final_tok: set[str] = set()
    if trace.final_answer:
        final_tok = _answer_tokens(trace.final_answer) - known
    if not final_tok:
        for i in reversed(subst_idx):
            final_tok = _answer_tokens(bodies[i]) - known
            if final_tok:
                break
    intro = [0.0] * n
    if final_tok:
        first_seen: dict[str, int] = {}
        for i in range(n):
            for t in step_tok[i]:
                first_seen.setdefault(t, i)
        for t in final_tok:
            j = first_seen.get(t)
            if j is None and len(t) >= 3:
                j = _first([t in lows[i] for i in range(n)])
            if j is not None and j >= 0:
                intro[j] += 1.0 / len(final_tok)
    credit = [0.0] * n
    code_for = [0.0] * n
    for j in range(n):
        if intro[j] <= 0:
            continue
        k = _author(j, tool)
        if k >= 0:
            credit[k] += intro[j]
            if k != j:
                code_for[k] += intro[j]
    origin = max(range(n), key=lambda i: (credit[i], -i)) if any(credit) else -1
    states_final = [bool(final_tok and (step_tok[i] & final_tok)) and not tool[i] for i in range(n)]
    first_states = _first(states_final)

    # --- provenance of the explicit answer span (boxed, "answer: X", bold value, "... is X")
    ans_step, ans_tok = -1, set()
    for looked, i in enumerate(reversed(subst_idx)):
        if looked >= 4:
            break
        span = answer_span(bodies[i])
        if span:
            tok = _span_tokens(span, task + "\n" + (texts[0] if i > 0 else "")) - known
            if tok:
                ans_step, ans_tok = i, tok
                break
    if ans_step < 0 and final_tok:
        ans_step = last_subst
        ans_tok = set(final_tok)

    def _mention(t: str, i: int) -> bool:
        return (t in step_nums[i]) if t[:1].isdigit() or t[:1] == "-" else (t in lows[i])

    mentions = [bool(ans_tok) and any(_mention(t, i) for t in ans_tok) for i in range(n)]
    origin_ans = origin_author = -1
    if ans_tok:
        first_at = {}
        for t in ans_tok:
            j = _first([_mention(t, i) for i in range(n)])
            if j >= 0:
                first_at[t] = j
        if first_at:
            origin_ans = max(first_at.values())  # the latest-introduced part of the answer
            origin_author = _author(origin_ans, tool)
    first_mention = _first([mentions[j] and not tool[j] for j in range(n)])

    # --- ground truth (w/ G)
    gt_in = [False] * n
    if ground_truth is not None and str(ground_truth).strip():
        g = str(ground_truth).strip()
        gt_low = g.lower()
        gt_nums = _num_set(g)
        in_task = len(gt_low) >= 2 and gt_low in task.lower()
        gt_in = [_contains_gt(lows[i], step_nums[i], gt_low, gt_nums) and not (i == 0 and in_task) for i in range(n)]
    gt_first = _first(gt_in)
    gt_last = max((i for i in range(n) if gt_in[i]), default=-1)
    after_gt = _first([not t for t in tool], gt_last + 1) if gt_last >= 0 else -1

    # --- unsupported facts: numbers/names that neither the task nor any earlier step mentioned
    seen_nums = set(known)
    seen_names = {m.lower() for m in _CAP.findall(task)}
    new_nums = [0.0] * n
    new_names = [0.0] * n
    for i in range(n):
        names = {m.lower() for m in _CAP.findall(texts[i])}
        if not tool[i]:
            new_nums[i] = math.log1p(sum(1 for x in step_nums[i] - seen_nums if len(x.lstrip("-")) >= 2))
            new_names[i] = math.log1p(len(names - seen_names))
        seen_nums |= step_nums[i]
        seen_names |= names

    nt = [not t for t in tool]
    # --- consistency checks that need no knowledge of the task's answer
    wrong_eq = [min(wrong_equations(texts[i]), 3) / 3.0 if nt[i] else 0.0 for i in range(n)]
    first_wrong_eq = _first([w > 0 for w in wrong_eq])
    # the first step that restates most of the task's numbers (a plan, a spec) but leaves some out
    restate_drops = -1
    if len(task_nums) >= 3:
        for i in range(n):
            cover = len(task_nums & step_nums[i]) / len(task_nums)
            if nt[i] and cover >= 0.6:
                restate_drops = i if cover < 1.0 else -1
                break
    # the final answer states a number that the step just before it (its source) does not contain
    mismatch = [False] * n
    final_step = next((i for i in range(n - 1, -1, -1) if nt[i] and bodies[i]), -1)
    span = answer_span(bodies[final_step]) if final_step >= 0 else None
    span_nums = _num_set(span) if span else set()
    if span_nums:
        j = next((k for k in range(final_step - 1, -1, -1) if step_nums[k]), -1)
        mismatch[final_step] = j >= 0 and not (span_nums & step_nums[j])
    # a tool called with an entity-like argument (a name, an id, a number; not code or a query sentence)
    # that neither the task nor any earlier step or tool output mentioned
    arg_unseen = [False] * n
    seen_text = task.lower()
    calls = any(k.kind == "tool_call" and k.tool_args for s in cands for k in children.get(s.index, []))
    for i, s in enumerate(cands if calls else ()):
        kids = children.get(s.index, [])
        for k in kids:
            if k.kind == "tool_call" and k.tool_args:
                args = k.tool_args.values() if isinstance(k.tool_args, dict) else k.tool_args
                if isinstance(args, str):
                    args = [args]
                try:
                    vals = [str(a).strip().lower() for a in args]
                except TypeError:
                    vals = [str(args).strip().lower()]
                if any(_entity_like(v) and v not in seen_text for v in vals):
                    arg_unseen[i] = True
        seen_text += (
            "\n"
            + lows[i]
            + "\n"
            + "\n".join(
                ((k.content or "") + " " + (str(k.tool_result) if k.tool_result is not None else "")).lower()
                for k in kids
            )
        )
    first_arg_unseen = _first(arg_unseen)
    # a bound on one of the task's numbers turned the other way ("greater than 5" in the task, ``x <= 5`` here)
    task_dirs: dict[float, set[str]] = {}
    for d, v in _bounds(task, code=False):
        task_dirs.setdefault(v, set()).add(d)
    contra = [
        bool(task_dirs)
        and nt[i]
        and any(v in task_dirs and d not in task_dirs[v] for d, v in _bounds(texts[i], code=True))
        for i in range(n)
    ]
    first_contra = _first(contra)
    noop = [nt[i] and noop_code(texts[i]) for i in range(n)]
    first_noop = _first(noop)
    # the task's units, percentages and rounding instruction handled wrongly
    units = [nt[i] and unit_slips(task, texts[i]) > 0 for i in range(n)]
    percent = [nt[i] and percent_slip(task, texts[i]) for i in range(n)] if _PERCENT_TASK.search(task) else [False] * n
    rounding = [False] * n
    if final_step >= 0 and _ROUND_TASK.search(task):
        rounding[final_step] = rounding_slip(task, span if span else bodies[final_step][-200:])

    code = [nt[i] and "```" in texts[i] for i in range(n)]
    coders = [i for i in range(n) if code[i]]
    coder_rank = {c: r for r, c in enumerate(coders)}
    assume = [nt[i] and _has(lows[i], _ASSUME) for i in range(n)]
    unable = [nt[i] and _has(lows[i], _UNABLE) for i in range(n)]
    claim = [nt[i] and _has(lows[i], _CLAIM_DONE) for i in range(n)]
    manual = [nt[i] and _has(lows[i], _MANUAL) for i in range(n)]
    unsupported = [
        claim[i]
        and not code[i]
        and not (i > 0 and tool[i - 1] and outcomes[i - 1][1])
        and new_nums[i] + new_names[i] > 0
        for i in range(n)
    ]
    first_assume = _first(assume, 1)
    first_unable = _first(unable, 1)
    first_unsupported = _first(unsupported)
    first_manual = _first(manual, 1)
    first_fail_cause = _first([nxt_out[i][0] or own_fail[i] for i in range(n)])
    first_empty_cause = _first([nxt_out[i][2] for i in range(n)])
    first_non_tool = _first(nt, 1)
    later_fix = [bool(code[i] and (nxt_out[i][0] or nxt_out[i][2]) and coders and coders[-1] > i) for i in range(n)]
    lens = [len(t) for t in texts]
    pool = sorted((i for i in range(1, n) if nt[i]), key=lambda i: -lens[i])
    len_rank = {i: r for r, i in enumerate(pool)}
    max_len = max((lens[i] for i in pool), default=1) or 1
    code_lens = [sum(len(b) for b in texts[i].split("```")[1::2]) if code[i] else 0 for i in range(n)]
    max_code = max(code_lens) or 1
    first_new_num = _first([nt[i] and not code[i] and new_nums[i] > 0 for i in range(n)], 1)
    ok_coder = [code[i] and nxt_out[i][1] for i in range(n)]
    first_ok_coder = _first(ok_coder)

    # does the first step (minus a verbatim copy of the task) still talk about the task?
    drift = 0.0
    task_words = set(_WORD4.findall(task.lower()))
    if task_words and nt[0]:
        rest = lows[0].replace(task.lower(), " ") if task else lows[0]
        drift = 1.0 - len(task_words & set(_WORD4.findall(rest))) / len(task_words)

    first_agent = agent_idx[0]
    turn_seen = [0] * len(agents)
    rows: list[list[float]] = []
    prev_agent = -1
    for i, s in enumerate(cands):
        low = lows[i]
        a = agent_idx[i]
        turn = turn_seen[a]
        turn_seen[a] += 1
        n_code = texts[i].count("```") // 2
        r = coder_rank.get(i, -1)
        rows.append(
            [
                1.0 if i == 0 else 0.0,
                1.0 if i == 1 else 0.0,
                1.0 if i == 2 else 0.0,
                i / (n - 1) if n > 1 else 0.0,
                1.0 if i == n - 1 and n > 1 else 0.0,
                1.0 if i == last_subst else 0.0,
                terminated if i == last_subst else 0.0,
                1.0 if i == second_last_subst else 0.0,
                1.0 if tool[i] else 0.0,
                1.0 if a == first_agent else 0.0,
                1.0 if turn == 0 else 0.0,
                1.0 if turn == 0 and a != first_agent and nt[i] else 0.0,
                math.log1p(turn),
                counts[a] / n,
                1.0 if _has((s.agent or "").lower(), _VERIFIER) else 0.0,
                1.0 if a == prev_agent else 0.0,
                math.log1p(len(texts[i])) / 8.0,
                1.0 if code[i] else 0.0,
                math.log1p(n_code),
                1.0 if nt[i] and _has(low, _INSTALL) else 0.0,
                1.0 if r == 0 else 0.0,
                1.0 if r == 1 else 0.0,
                1.0 if coders and i == coders[-1] else 0.0,
                math.log1p(r) if r >= 0 else 0.0,
                1.0 if assume[i] else 0.0,
                1.0 if i == first_assume else 0.0,
                1.0 if nt[i] and _has(low, _ESTIMATE) else 0.0,
                1.0 if unable[i] else 0.0,
                1.0 if i == first_unable else 0.0,
                1.0 if nt[i] and _has(low, _AGREE) else 0.0,
                1.0 if claim[i] else 0.0,
                1.0 if unsupported[i] else 0.0,
                1.0 if i == first_unsupported else 0.0,
                1.0 if manual[i] else 0.0,
                1.0 if nt[i] and _has(low, _PROMISE) else 0.0,
                1.0 if nt[i] and _has(low, _ANSWER) else 0.0,
                1.0 if len(bodies[i]) < 3 and "TERMINATE" in texts[i] else 0.0,
                1.0 if "TERMINATE" in texts[i] else 0.0,
                1.0 if nt[i] and _has(low, _ERROR_TALK) else 0.0,
                1.0 if nt[i] and _has(low, _PLAN) else 0.0,
                1.0 if i == 0 and code[i] else 0.0,
                1.0 if i == 0 and "results from last response" in low else 0.0,
                1.0 if i == 0 and assume[i] else 0.0,
                1.0 if nxt_out[i][0] else 0.0,
                1.0 if nxt_out[i][1] else 0.0,
                1.0 if nxt_out[i][2] else 0.0,
                1.0 if nxt_out[i][3] else 0.0,
                1.0 if i > 0 and tool[i - 1] and outcomes[i - 1][0] else 0.0,
                1.0 if i > 0 and tool[i - 1] and outcomes[i - 1][2] else 0.0,
                1.0 if i > 0 and tool[i - 1] else 0.0,
                1.0 if own_fail[i] else 0.0,
                1.0 if i == first_fail_cause else 0.0,
                1.0 if i == first_empty_cause else 0.0,
                1.0 if later_fix[i] else 0.0,
                new_nums[i],
                new_names[i] / 3.0,
                math.log1p(len(_URL.findall(texts[i]))),
                intro[i],
                code_for[i],
                1.0 if i == origin else 0.0,
                1.0 if states_final[i] else 0.0,
                1.0 if i == first_states else 0.0,
                1.0 if i == origin_ans else 0.0,
                1.0 if i == origin_author else 0.0,
                1.0 if mentions[i] and nt[i] else 0.0,
                1.0 if i == first_mention else 0.0,
                1.0 if i == ans_step else 0.0,
                1.0 if i == first_non_tool else 0.0,
                terminated,
                1.0 if len_rank.get(i, -1) == 0 else 0.0,
                1.0 / (1.0 + len_rank[i]) if i in len_rank else 0.0,
                lens[i] / max_len if i in len_rank else 0.0,
                code_lens[i] / max_code,
                1.0 if i == first_new_num else 0.0,
                1.0 if i == first_manual else 0.0,
                1.0 if ok_coder[i] else 0.0,
                1.0 if i == first_ok_coder else 0.0,
                1.0 if gt_in[i] else 0.0,
                1.0 if i == gt_first else 0.0,
                1.0 if i == gt_last else 0.0,
                1.0 if i == after_gt else 0.0,
                drift if i == 0 else 0.0,
                wrong_eq[i],
                1.0 if i == first_wrong_eq else 0.0,
                1.0 if i == restate_drops else 0.0,
                1.0 if mismatch[i] else 0.0,
                1.0 if arg_unseen[i] else 0.0,
                1.0 if i == first_arg_unseen else 0.0,
                1.0 if contra[i] else 0.0,
                1.0 if i == first_contra else 0.0,
                1.0 if noop[i] else 0.0,
                1.0 if i == first_noop else 0.0,
                1.0 if units[i] else 0.0,
                1.0 if percent[i] else 0.0,
                1.0 if rounding[i] else 0.0,
            ]
        )
        if nt[i]:
            prev_agent = a
    # context crosses
    bi = {name: k for k, name in enumerate(_BASE_FEATURES)}
    ctx = {
        "terminated": terminated,
        "any_fail": 1.0 if any(nxt_out[i][0] or own_fail[i] for i in range(n)) else 0.0,
        "any_unsupported": 1.0 if any(unsupported[i] or manual[i] for i in range(n)) else 0.0,
        "n_coders": math.log1p(len(coders)),
    }
    cue_cols = [bi[c] for c in _CUES]
    for row in rows:
        row.extend(row[c] * ctx[x] for x in _CONTEXTS for c in cue_cols)

    feats = TraceFeatures(cands, rows, agents, agent_idx)
    turns = [0] * len(agents)
    for i in range(n):
        if nt[i]:
            turns[agent_idx[i]] += 1
    total_turns = max(1, sum(turns))
    members: list[list[int]] = [[] for _ in agents]
    for i, a in enumerate(agent_idx):
        members[a].append(i)
    for a, name in enumerate(agents):
        idx = members[a]
        feats.agent_rows.append(
            [
                0.0,
                0.0,
                1.0 if a == first_agent else 0.0,
                a / max(1, len(agents) - 1),
                counts[a] / n,
                1.0 if all(tool[i] for i in idx) else 0.0,
                1.0 if _has((name or "").lower(), _VERIFIER) else 0.0,
                1.0 if any(code[i] for i in idx) else 0.0,
                1.0 if any(nxt_out[i][0] or own_fail[i] for i in idx) else 0.0,
                1.0 if any(assume[i] for i in idx) else 0.0,
                1.0 if origin in idx else 0.0,
                1.0 if any(unsupported[i] for i in idx) else 0.0,
                1.0 if coders and coders[0] in idx else 0.0,
                1.0 if last_subst in idx else 0.0,
                math.log1p(turns[a]),
                turns[a] / total_turns,
            ]
        )
    return feats
