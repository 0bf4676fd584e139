"""The AgenTracer prompt and its robust answer parser.

:func:`build_messages` turns a failed :class:`~agentracer.trace.Trace` into chat messages: the task, the
ground truth when it is given (the *w/ G* setting; *w/o G* leaves it out), the top-level steps numbered
by their trace index (``Step i | agent: content``) and a fixed answer format. :func:`render_prompt`
applies the model's (Qwen3) chat template with thinking on or off. :func:`parse_answer` reads whatever
the model wrote back into an :class:`~agentracer.trace.Attribution` and never raises.

The canonical answer (what :func:`format_answer` writes, and the SFT/GRPO target) is::

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
import logging
import re
from typing import Any

from ..trace import Attribution, Step, Trace, normalize_agent
from .fit import fit_texts, measure, shorten

__all__ = [
    "ANSWER_FORMAT",
    "SYSTEM_PROMPT",
    "assemble_messages",
    "build_messages",
    "format_answer",
    "match_agent",
    "parse_answer",
    "render_prompt",
    "children_of",
    "step_text",
    "step_texts",
]

ANSWER_FORMAT = (
    "Answer with exactly one line in this format:\n"
    "<agent>NAME</agent><step>N</step><reason>TEXT</reason>\n"
    "where NAME is one of the agents named in the log, N is the number of the decisive step "
    "(as printed after 'Step'), and TEXT is one or two sentences on what went wrong."
)

SYSTEM_PROMPT = (
    "You are AgenTracer, an expert in failure attribution for LLM multi-agent systems. "
    "You read the log of a multi-agent run that failed and name the agent responsible for the failure "
    "and the decisive step: the earliest step whose correction would have turned the failure into a success."
)

_log = logging.getLogger("agentracer.attribution")
_DEFAULT_MAX_CHARS = 60_000  # ~15k tokens: a safe default when neither a char nor a token budget is given
_TASK_SHARE = 0.2  # the task may take at most this share of the budget (long task statements are cut)
_TEMPLATE_TOKENS = 24  # room for the chat template's own tokens (role markers, generation prompt)


# --------------------------------------------------------------------------------------------- prompt
def _short(value: Any, limit: int = 300) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        try:
            value = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            value = str(value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def step_text(trace: Trace, step: Step, children: dict[int, list[Step]] | None = None) -> str:
    """What the prompt shows for a top-level step: its content plus its nested tool calls, compactly.

    ``children`` (parent index -> nested steps, see :func:`children_of`) saves a scan per step.
    """
    parts = [step.content or ""]
    if step.kind in ("tool_call", "tool_result") and step.tool_name and not step.content:
        parts.append(f"[{step.kind} {step.tool_name}({_short(step.tool_args)}) -> {_short(step.tool_result)}]")
    kids = children.get(step.index, []) if children is not None else [c for c in trace.steps if c.parent == step.index]
    for child in kids:
        if child.kind in ("tool_call", "tool_result"):
            parts.append(
                f"[{child.kind} {child.tool_name or ''}({_short(child.tool_args)}) -> {_short(child.tool_result)}]"
            )
        elif child.kind == "handoff":
            parts.append(f"[handoff {_short(child.content, 120)}]")
    return "\n".join(p for p in parts if p).strip()


def children_of(trace: Trace) -> dict[int, list[Step]]:
    """Nested steps grouped by their direct parent's index (in execution order)."""
    out: dict[int, list[Step]] = {}
    for s in trace.steps:
        if s.parent is not None:
            out.setdefault(s.parent, []).append(s)
    return out


def step_texts(trace: Trace, steps: list[Step] | None = None) -> list[str]:
    """:func:`step_text` for each of ``steps`` (default: the top-level steps)."""
    kids = children_of(trace)
    return [step_text(trace, s, kids) for s in (trace.agent_steps() if steps is None else steps)]


def build_messages(
    trace: Trace,
    ground_truth: str | None = None,
    *,
    max_chars: int | None = None,
    tokenizer: Any = None,
    max_tokens: int | None = None,
) -> list[dict[str, str]]:
    """System and user messages asking a tracer to attribute ``trace``.

    ``ground_truth`` (w/ G) is shown when given; otherwise (w/o G) it is absent from the prompt, whatever
    ``trace.ground_truth`` holds. Steps are the trace's top-level steps, numbered by their index. The whole
    prompt is fitted (see :mod:`~agentracer.attribution.fit`) to ``max_tokens`` tokens with a tokenizer
    and ``max_tokens``, else to ``max_chars`` characters (default 60,000): step contents are shortened,
    no step number is dropped.
    """
    steps = trace.agent_steps()
    agents = list(trace.agents) or sorted({s.agent for s in steps})
    pre = "## Task\n"
    post = []
    if ground_truth is not None:
        post.append(f"## Ground truth\nThe correct final answer to the task is: {ground_truth}")
    post.append("## Agents\n" + ", ".join(agents))
    post.append(
        f"## Log ({len(steps)} steps; the run failed)\n"
        "One block per step: `Step N | agent: content`. Long steps are shortened in the middle."
    )
    tail = (
        "## Question\nWhich agent is responsible for the failure, and which step is the decisive error "
        "(the earliest step whose correction would make the run succeed)?\n" + ANSWER_FORMAT
    )
    return assemble_messages(
        SYSTEM_PROMPT,
        pre,
        trace.task or "(no task statement recorded)",
        "\n\n" + "\n\n".join(post) + "\n\n",
        [f"Step {s.index} | {s.agent}: " for s in steps],
        step_texts(trace, steps),
        "\n\n" + tail,
        max_chars=max_chars,
        tokenizer=tokenizer,
        max_tokens=max_tokens,
    )


def assemble_messages(
    system: str,
    pre: str,
    task: str,
    post: str,
    labels: list[str],
    contents: list[str],
    tail: str,
    *,
    sep: str = "\n\n",
    max_chars: int | None = None,
    tokenizer: Any = None,
    max_tokens: int | None = None,
    lengths: list[int] | None = None,
) -> list[dict[str, str]]:
    """``[system, user]`` where user = pre + task + post + the step blocks + tail, fitted to a budget.

    Each step block is ``labels[i] + contents[i]``; only the contents (and an over-long task, down to a
    fifth of the budget) are shortened. The budget is ``max_tokens`` tokens when ``tokenizer`` and
    ``max_tokens`` are given, else ``max_chars`` characters (default 60,000). ``lengths`` may carry the
    contents' precomputed lengths in the same unit (a speed-up for callers that fit many prefixes).
    The budget can only be exceeded when the fixed parts alone (labels included) do not fit.
    """
    use_tokens = tokenizer is not None and max_tokens is not None
    unit_tok = tokenizer if use_tokens else None
    budget = int(max_tokens if use_tokens else (max_chars if max_chars is not None else _DEFAULT_MAX_CHARS))

    def size(text: str) -> int:
        return measure(text, unit_tok)

    fixed = size(system) + size(pre) + size(post) + size(tail) + size(sep) * max(len(labels) - 1, 0)
    fixed += sum(size(lbl) for lbl in labels)
    if use_tokens:
        fixed += _TEMPLATE_TOKENS + 2 * len(labels)  # template tokens; merges at label/content seams
    room = budget - fixed
    if room < 0:
        _log.warning(
            "prompt: %d steps need %d %s for their numbers and the fixed text alone, over the budget of %d; "
            "the prompt will be longer than the budget (no step is ever dropped)",
            len(labels),
            fixed,
            "tokens" if use_tokens else "chars",
            budget,
        )
    task_len = size(task)
    task_room = max(min(int(budget * _TASK_SHARE), room), 0) if room >= 0 else int(budget * _TASK_SHARE)
    if task_len > task_room and task_len > room - sum(lengths or [size(c) for c in contents]):
        task = shorten(task, task_room, unit_tok)
        task_len = size(task)
    fitted = fit_texts(contents, max(room - task_len, 0), unit_tok, lengths=lengths)
    log = sep.join(lbl + txt for lbl, txt in zip(labels, fitted, strict=True))
    return [{"role": "system", "content": system}, {"role": "user", "content": pre + task + post + log + tail}]


def render_prompt(tokenizer: Any, messages: list[dict[str, str]], *, enable_thinking: bool = False) -> str:
    """The prompt text for ``messages`` through ``tokenizer``'s chat template, thinking on or off.

    Uses the Qwen3 template's ``enable_thinking`` switch. A tokenizer without a chat template gets the
    reduced Qwen3 template from :mod:`agentracer.testing`.
    """
    kwargs: dict[str, Any] = {"tokenize": False, "add_generation_prompt": True, "enable_thinking": enable_thinking}
    if not getattr(tokenizer, "chat_template", None):
        from ..testing import QWEN3_CHAT_TEMPLATE

        kwargs["chat_template"] = QWEN3_CHAT_TEMPLATE
    text = tokenizer.apply_chat_template(messages, **kwargs)
    if not isinstance(text, str):  # some versions return a list or a BatchEncoding when asked oddly
        text = tokenizer.decode(text) if isinstance(text, list) else str(text)
    return text


def format_answer(agent: str | None, step: int | None, reason: str = "") -> str:
    """The canonical answer ``<agent>NAME</agent><step>N</step><reason>TEXT</reason>`` (SFT targets)."""
    clean = re.sub(r"</?(agent|step|reason)>", "", str(reason or ""), flags=re.I).strip()
    clean = " ".join(clean.split())
    return f"<agent>{agent if agent is not None else ''}</agent><step>{'' if step is None else int(step)}</step><reason>{clean}</reason>"


# --------------------------------------------------------------------------------------------- parser
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
