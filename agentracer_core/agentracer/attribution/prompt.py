"""The AgenTracer prompt.

:func:`build_messages` turns a failed :class:`~agentracer.trace.Trace` into chat messages: the task, the
ground truth when it is given (the *w/ G* setting; *w/o G* leaves it out), the top-level steps numbered
by their trace index (``Step i | agent: content``) and a fixed answer format (:data:`ANSWER_FORMAT`).
:func:`render_prompt` applies the model's (Qwen3) chat template with thinking on or off.
:func:`format_answer` writes the canonical answer (the SFT/GRPO target)::

    <agent>NAME</agent><step>N</step><reason>TEXT</reason>

:mod:`agentracer.attribution.answer` reads back whatever the model wrote.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from ..trace import Step, Trace
from .chat_template import QWEN3_CHAT_TEMPLATE
from .fit import fit_texts, measure, shorten

__all__ = [
    "ANSWER_FORMAT",
    "SYSTEM_PROMPT",
    "assemble_messages",
    "build_messages",
    "format_answer",
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
    reduced Qwen3 template from :mod:`agentracer.attribution.chat_template`.
    """
    kwargs: dict[str, Any] = {"tokenize": False, "add_generation_prompt": True, "enable_thinking": enable_thinking}
    if not getattr(tokenizer, "chat_template", None):
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
