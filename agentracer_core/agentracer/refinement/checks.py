"""What a task is and whether an answer is right: task fields (question, answer, id) and the checkers.

Tasks are strings, dicts (``question``/``problem``/``task``/``input``, ``answer``/``solution``, ``id``) or
objects with such attributes; :func:`numeric_match` and :func:`exact_match` are the built-in checkers.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["answer_of", "exact_match", "numeric_match", "question_of", "task_id_of"]


def question_of(task: Any) -> str:
    """The task's question text."""
    if isinstance(task, str):
        return task
    if isinstance(task, dict):
        return str(task.get("question") or task.get("problem") or task.get("task") or task.get("input") or "")
    return str(getattr(task, "question", None) or getattr(task, "problem", None) or task)


def answer_of(task: Any) -> str | None:
    """The task's expected answer (``answer`` or ``solution``), or None."""
    v = task.get("answer", task.get("solution")) if isinstance(task, dict) else getattr(task, "answer", None)
    return None if v is None else str(v)


def task_id_of(task: Any, i: int) -> str:
    """The task's ``id``, else ``task{i:04d}`` from its position ``i``."""
    tid = task.get("id") if isinstance(task, dict) else getattr(task, "id", None)
    return str(tid) if tid is not None else f"task{i:04d}"


def _final_number(text: Any) -> str | None:
    s = str(text or "")
    m = re.search(r"ANSWER:\s*(-?\d+(?:\.\d+)?)", s)
    if m is None:
        boxed = re.findall(r"\\boxed\{([^}]*)\}", s)
        nums = re.findall(r"-?\d+(?:\.\d+)?", boxed[-1] if boxed else s)
        return nums[-1] if nums else None
    return m.group(1)


def numeric_match(answer: Any, task: Any) -> bool:
    """Exact numeric match of the answer's final number (``ANSWER: n``, ``\\boxed{n}`` or the last number)."""
    got, want = _final_number(answer), answer_of(task)
    if got is None or want is None:
        return False
    try:
        return float(got) == float(want)
    except ValueError:
        return False


def exact_match(answer: Any, task: Any) -> bool:
    """Exact match after trimming and lower-casing (numeric tasks: see :func:`numeric_match`)."""
    want = answer_of(task)
    return want is not None and str(answer or "").strip().lower() == want.strip().lower()

