"""Consistency checks a step can fail without any knowledge of the task's answer: false arithmetic, a bound
of the task turned the other way, code that does nothing, a counting unit converted with the wrong factor,
a percentage used as a plain number, and a final answer that ignores the rounding the task asks for."""

from __future__ import annotations

import re

from .text import _NUM

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
