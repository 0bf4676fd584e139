"""Model-output text helpers that every generator backend shares (kept apart from the backend registry in
``__init__``, so that the backend modules do not import the package that imports them)."""

from __future__ import annotations

SPECIAL_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|im_start|>", "<|eot_id|>", "</s>")


def strip_special(text: str) -> str:
    """``text`` without end-of-turn/padding tokens (``<think>`` tags are kept for the parser)."""
    for tok in SPECIAL_TOKENS:
        text = text.replace(tok, "")
    return text.strip()
