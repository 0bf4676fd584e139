"""The robust answer parser: :func:`parse_answer` reads whatever a tracer model wrote back into an
:class:`~agentracer.trace.Attribution` and never raises; :func:`match_agent` maps a named agent to one of
the trace's agents.

The canonical answer (what :func:`agentracer.attribution.prompt.format_answer` writes, and the SFT/GRPO
target) is::

    <agent>NAME</agent><step>N</step><reason>TEXT</reason>

The parser also reads JSON (bare or in a fenced block), Who&When's own ``Agent Name: / Step Number: /
Reason for Mistake:`` lines, ``agent: X step: 5``, and a bare ``Step 12``. ``<think>`` blocks are
skipped; when nothing follows them, the answer is looked for inside.

Parsing rules (documented here because the tests and the rewards depend on them):

- Explicit fields (tags, JSON keys, ``Agent Name:``/``Step Number:``/``agent:``/``step:``): the **last**
  one wins, since models restate and correct themselves before the final answer. A bare ``Step N``
  mention is only used when no explicit step field exists, and then the **first** mention wins.
- With ``agents``, the agent text is mapped to a trace agent: exact after normalisation (case, spaces,
  ``_``/``-`` ignored), then the longest trace agent contained in it (or containing it), then the
  closest by string similarity (ratio >= 0.6). With no match the text is kept as written and
  ``metadata["agent_unmatched"]`` is True. When no agent field exists at all, the first trace agent
  named anywhere in the answer is used.
- With ``n_steps``, a step outside ``0..n_steps-1`` becomes ``None``; the agent is kept and
  ``metadata["step_out_of_range"]`` holds the number the model gave.
- ``parsed`` is True when an agent or a step was read (so an answer whose only step was out of range
  is still parsed if it named an agent); agent and step both ``None`` gives ``parsed=False``.
- ``raw`` always keeps the text the model wrote.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from typing import Any

from ..trace import Attribution, normalize_agent

__all__ = ["match_agent", "parse_answer"]

_THINK_BLOCK = re.compile(r"<think>(.*?)</think>", re.S | re.I)
_TAG = {k: re.compile(rf"<\s*{k}\s*>(.*?)<\s*/\s*{k}\s*>", re.S | re.I) for k in ("agent", "step", "reason")}
_TAG_OPEN_AGENT = re.compile(r"<\s*agent\s*>\s*([^<\n]+)", re.I)
_TAG_OPEN_STEP = re.compile(r"<\s*step\s*>\s*(-?\d+)", re.I)
_TAG_OPEN_REASON = re.compile(r"<\s*reason\s*>(.*)$", re.S | re.I)
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)
_BRACES = re.compile(r"\{[^{}]*\}", re.S)
_MD = re.compile(r"[*`#>]+|(?<!\w)_+|_+(?!\w)")
# "Agent Name: X", "agent: X", "Mistake agent = X", "Responsible agent - X" (one line)
_KV_AGENT = re.compile(
    r"(?im)^[\s\-*#>\d.)]*(?:the\s+)?(?:mistake\s+|responsible\s+|faulty\s+|failure\s+|culprit\s+)?agent(?:\s*name)?"
    r"\s*[*_]*\s*(?:[:=]|-\s|is\b)\s*[*_]*\s*(.+?)\s*$"
)
_KV_AGENT_INLINE = re.compile(
    r"(?i)\bagent(?:\s*name)?\s*[:=]\s*[\"'*_]*([A-Za-z][\w .\-]*?)[\"'*_]*\s*(?=,|;|\||\s+step\b|\s+reason\b|$|\n)"
)
_KV_STEP = re.compile(
    r"(?i)\b(?:mistake\s+|decisive\s+|error\s+)?step(?:\s*(?:number|no\.?|index|#))?\s*[*_]*\s*(?:[:=]|is\b)\s*[*_\"'(\[]*\s*#?\s*(-?\d+)"
)
_BARE_STEP = re.compile(r"(?i)\bstep\s*(?:number\s*|no\.?\s*|#\s*)?(-?\d+)\b")
_KV_REASON = re.compile(
    r"(?is)\b(?:reason(?:\s+for\s+(?:the\s+)?mistake)?|explanation|because)\s*[*_]*\s*[:=]\s*[*_]*\s*(.+)$"
)
_AGENT_KEYS = ("agent", "agent_name", "agentname", "mistake_agent", "responsible_agent", "name")
_STEP_KEYS = ("step", "step_number", "stepnumber", "mistake_step", "decisive_step", "step_index", "index")
_REASON_KEYS = ("reason", "reason_for_mistake", "mistake_reason", "explanation", "rationale")


def _key(k: Any) -> str:
    return re.sub(r"[^a-z]+", "_", str(k).lower()).strip("_")


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        m = re.search(r"-?\d+", value)
        return int(m.group(0)) if m else None
    return None


def _clean_agent(text: str) -> str:
    text = _MD.sub("", text).strip().strip("\"'.,;:()[]{}").strip()
    text = re.sub(r"(?i)^(the\s+)?agent\s+", "", text)
    return text[:120]


def _json_objects(text: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    chunks = [m.group(1) for m in _FENCE.finditer(text)] + [m.group(0) for m in _BRACES.finditer(text)]
    for chunk in chunks:
        chunk = chunk.strip()
        if not chunk.startswith("{"):
            m = _BRACES.search(chunk)
            if not m:
                continue
            chunk = m.group(0)
        obj: Any = None
        try:
            obj = json.loads(chunk)
        except (ValueError, RecursionError):
            try:
                obj = ast.literal_eval(chunk)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                obj = None
        if isinstance(obj, dict):
            found.append({_key(k): v for k, v in obj.items()})
    return found


def _fields(text: str) -> tuple[str | None, int | None, str | None, bool]:
    """(agent text, step, reason, step_was_explicit) read from an answer section."""
    agent: str | None = None
    step: int | None = None
    reason: str | None = None
    explicit_step = False
    # 1. tags
    for m in _TAG["agent"].finditer(text):
        if m.group(1).strip():
            agent = m.group(1)
    for m in _TAG["step"].finditer(text):
        v = _to_int(m.group(1))
        if v is not None:
            step, explicit_step = v, True
    if agent is None and (m := _TAG_OPEN_AGENT.search(text)):  # an unclosed <agent> tag
        agent = m.group(1)
    if step is None and (m := _TAG_OPEN_STEP.search(text)):
        step, explicit_step = int(m.group(1)), True
    for m in _TAG["reason"].finditer(text):
        reason = m.group(1)
    if reason is None and (m := _TAG_OPEN_REASON.search(text)):
        reason = m.group(1)
    # 2. JSON
    if agent is None or step is None:
        for obj in _json_objects(text):
            a = next((obj[k] for k in _AGENT_KEYS if isinstance(obj.get(k), str) and obj[k].strip()), None)
            s = next((_to_int(obj[k]) for k in _STEP_KEYS if _to_int(obj.get(k)) is not None), None)
            r = next((obj[k] for k in _REASON_KEYS if isinstance(obj.get(k), str)), None)
            if a is None and s is None:
                continue
            if agent is None and a is not None:
                agent = a
            if step is None and s is not None:
                step, explicit_step = s, True
            if reason is None and r is not None:
                reason = r
    # 3. key: value lines (markdown emphasis and code marks removed first)
    text = text.replace("*", "").replace("`", "")
    if agent is None:
        hits = [m.group(1) for m in _KV_AGENT.finditer(text)] or [m.group(1) for m in _KV_AGENT_INLINE.finditer(text)]
        hits = [h for h in hits if _clean_agent(re.split(r"(?i)\s+step\b|[,;|]", h)[0])]
        if hits:
            agent = re.split(r"(?i)\s+step\b|[,;|]", hits[-1])[0]
    if step is None:
        hits_s = [int(m.group(1)) for m in _KV_STEP.finditer(text)]
        if hits_s:
            step, explicit_step = hits_s[-1], True
    if reason is None and (m := _KV_REASON.search(text)):
        reason = m.group(1)
    # 4. a bare "Step 12"
    if step is None and (m := _BARE_STEP.search(text)):
        step = int(m.group(1))
    return agent, step, reason, explicit_step


def match_agent(name: str | None, agents: list[str] | None) -> tuple[str | None, bool]:
    """Map a model-written agent name to one of ``agents``: ``(name, matched)`` (see the module rules)."""
    if name is None:
        return None, False
    cleaned = _clean_agent(name)
    if not cleaned:
        return None, False
    if not agents:
        return cleaned, False
    norm = normalize_agent(cleaned)
    table = {normalize_agent(a): a for a in agents if normalize_agent(a)}
    if not norm:
        return None, False
    if norm in table:
        return table[norm], True
    inside = [k for k in table if k in norm]
    if inside:
        return table[max(inside, key=len)], True
    around = [k for k in table if norm in k and len(norm) >= 3]
    if len(around) == 1:
        return table[around[0]], True
    close = difflib.get_close_matches(norm, list(table), n=1, cutoff=0.6)
    if close:
        return table[close[0]], True
    return cleaned, False


def _mentioned_agent(text: str, agents: list[str]) -> str | None:
    best: tuple[int, int, str] | None = None
    for a in agents:
        if not a.strip():
            continue
        variants = {a, a.replace("_", " "), a.replace("-", " ")}
        for v in variants:
            m = re.search(r"(?<![\w])" + re.escape(v) + r"(?![\w])", text, re.I)
            if m and (best is None or (m.start(), -len(a)) < (best[0], best[1])):
                best = (m.start(), -len(a), a)
    return best[2] if best else None


def _sections(text: str) -> list[str]:
    """Where to look for the answer, best first: after the last ``</think>``, then inside the thinking."""
    out: list[str] = []
    low = text.lower()
    if "</think>" in low:
        out.append(text[low.rindex("</think>") + len("</think>") :])
        inner = [m.group(1) for m in _THINK_BLOCK.finditer(text)]
        if not inner:  # "</think>" without an opening tag: the template opened it
            inner = [text[: low.rindex("</think>")]]
        out.append("\n".join(inner))
    elif "<think>" in low:  # thinking cut off before it closed
        out.append(text[: low.index("<think>")])
        out.append(text[low.index("<think>") + len("<think>") :])
    else:
        out.append(text)
    return out


def parse_answer(
    text: Any,
    *,
    agents: list[str] | None = None,
    n_steps: int | None = None,
    method: str = "",
) -> Attribution:
    """Read a tracer's answer into an :class:`Attribution`; never raises (see the module rules).

    ``agents`` maps the named agent onto the trace's names; ``n_steps`` bounds the step (``0..n_steps-1``).
    """
    raw = text if isinstance(text, str) else (None if text is None else _safe_str(text))
    unparsed = Attribution(agent=None, step=None, reason="", method=method, parsed=False, raw=raw)
    if not isinstance(text, str) or not text.strip():
        return unparsed
    try:
        return _parse(text, agents=agents, n_steps=n_steps, method=method)
    except Exception:  # the parser must never raise into a caller (evaluation, rewards)
        return unparsed


def _safe_str(value: Any) -> str | None:
    try:
        return str(value)
    except Exception:
        return None


def _parse(text: str, *, agents: list[str] | None, n_steps: int | None, method: str) -> Attribution:
    agents = [a for a in (agents or []) if isinstance(a, str)]
    agent_txt = reason = None
    step = None
    for section in _sections(text[:200_000]):
        a, s, r, _ = _fields(section)
        if a is None and s is None:
            continue
        agent_txt, step, reason = a, s, r
        if agent_txt is None and agents:
            agent_txt = _mentioned_agent(section, agents)
        break
    meta: dict[str, Any] = {}
    agent, matched = match_agent(agent_txt, agents)
    if agent is not None and agents and not matched:
        meta["agent_unmatched"] = True
    if step is not None and (step < 0 or (n_steps is not None and step >= n_steps)):
        meta["step_out_of_range"] = step
        step = None
    reason_txt = " ".join(_MD.sub("", reason).split())[:2000] if reason else ""
    reason_txt = re.split(r"(?i)</?\s*(?:agent|step|reason)\s*>", reason_txt)[0].strip()
    parsed = agent is not None or step is not None
    return Attribution(agent=agent, step=step, reason=reason_txt, method=method, parsed=parsed, raw=text, metadata=meta)
