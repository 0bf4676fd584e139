"""Quoted boilerplate: the text of a step that only repeats what was already there is masked before the
content cues (code, assumption, inability, claims...) read it.

A plan that quotes the team's description ("the terminal runs the Python code blocks you give it"), a
message that repeats the system prompt, the task or an earlier message does not *do* what those words
say, so it must not fire the cues of doing it. Masked, per step:

- every sentence (40 characters or more, compared after lower-casing and collapsing spaces) that also
  occurs in the task, in a system prompt recorded in the trace (steps with role ``system``, at any depth,
  and the ``system_prompt``/``team_description``/``description``/``instructions`` strings of the trace's
  or a step's metadata), or in an earlier candidate step;
- but never a line inside a fenced code block: code posted again is run again, an action, not a quote;
- a code fence that is not on a line of its own (``... code blocks like ```python ...``` ...`` in prose):
  text about code, not code.

Only the content cues read the masked text (:attr:`StepView.cue_texts <.view.StepView>`); positions,
lengths, provenance and the consistency checks read the step as recorded.

**Off** (:data:`MASK_QUOTED` = False), matching the shipped parameters (trained without it). Measured again in
issue 14 (branch ``xsys2``) with the union of seven sources: Who&When 5-fold CV x 3 seeds 67.7 / 48.4 with it on
(67.7 / 47.9 off); on the leave-one-system-out matrix a tie (see BENCHMARKS.md). It is meant to ship together
with parameters learnt from the union of sources; those were rebuilt and not adopted (BENCHMARKS.md says why).
Set it to True and rebuild the parameters to use it. At the end of that session, on the final code and the same
seven sources, masking on gave a leave-one-out mean of 57.9 / 43.0 against 60.1 / 43.5 off, and put Who&When below
its floors (44.4 / 26.2 against 50.0 / 30.2 off); it helps the orchestrator-led sources' step figure only.
"""

from __future__ import annotations

import re

from ...trace import Trace

__all__ = ["MASK_QUOTED", "MIN_CHARS", "mask_quoted", "reference_texts"]

MASK_QUOTED = False  # not adopted: see the module doc
MIN_CHARS = 40  # shorter sentences ("Thank you.", "TERMINATE") are too common to call quotes

_SENT = re.compile(r"(?<=[.!?:;])\s+")
_SPACE = re.compile(r"\s+")
_META_KEYS = ("system_prompt", "team_description", "description", "instructions")
_FENCE_LINE = re.compile(r"^\s*```")
_INLINE_FENCE = re.compile(r"```")


def _norm(s: str) -> str:
    return _SPACE.sub(" ", s.strip().lower()).strip(" *-#>\"'`")


def _sentences(text: str) -> list[str]:
    return [x for line in text.splitlines() for x in _SENT.split(line)]


def _keys(text: str) -> set[str]:
    return {k for k in (_norm(s) for s in _sentences(text)) if len(k) >= MIN_CHARS}


def reference_texts(trace: Trace) -> list[str]:
    """What a step may quote before any candidate step speaks: the task and the recorded system prompts."""
    out = [trace.task or ""]
    for key in _META_KEYS:
        v = trace.metadata.get(key)
        if isinstance(v, str):
            out.append(v)
    for s in trace.steps:
        if s.role == "system" and s.content:
            out.append(s.content)
        for key in _META_KEYS:
            v = s.metadata.get(key)
            if isinstance(v, str):
                out.append(v)
    return out


def _mask_line(line: str, seen: set[str]) -> tuple[str, bool]:
    """The line with its quoted sentences removed, and whether any of its long sentences was masked."""
    parts = _SENT.split(line)
    kept, hit = [], False
    for p in parts:
        k = _norm(p)
        if len(k) >= MIN_CHARS and k in seen:
            hit = True
            continue
        kept.append(p)
    return " ".join(kept), hit


def _mask(text: str, seen: set[str]) -> str:
    out: list[str] = []
    in_block = False
    for line in text.splitlines():
        if _FENCE_LINE.match(line):
            in_block = not in_block
            out.append(line)
        elif in_block:
            out.append(line)  # code in a fenced block is kept whole: posted again, it runs again
        else:
            masked, _ = _mask_line(line, seen)
            out.append(_INLINE_FENCE.sub(" ", masked))  # a fence inside prose is text about code
    return "\n".join(out)


def mask_quoted(trace: Trace, texts: list[str]) -> list[str]:
    """``texts`` (one per candidate step) with quoted boilerplate masked (see the module doc)."""
    if not MASK_QUOTED:
        return list(texts)
    seen: set[str] = set()
    for r in reference_texts(trace):
        seen |= _keys(r)
    out = []
    for t in texts:
        out.append(_mask(t, seen))
        seen |= _keys(t)
    return out
