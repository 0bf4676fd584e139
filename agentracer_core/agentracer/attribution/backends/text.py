"""Model-output text helpers that every generator backend shares (kept apart from the backend registry in
``__init__``, so that the backend modules do not import the package that imports them)."""

from __future__ import annotations

from typing import Any

SPECIAL_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|im_start|>", "<|eot_id|>", "</s>")


def strip_special(text: str) -> str:
    """``text`` without end-of-turn/padding tokens (``<think>`` tags are kept for the parser)."""
    for tok in SPECIAL_TOKENS:
        text = text.replace(tok, "")
    return text.strip()


def chat_sampling(sampling: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI-style sampling arguments of a chat completion from a backend's ``sampling`` options:
    ``max_tokens`` (``max_new_tokens``, default 256), ``temperature`` (default 0) and whichever of ``top_p``,
    ``top_k``, ``min_p``, ``seed`` are set (llama.cpp's ``create_chat_completion`` and OpenAI-compatible
    servers take the same names)."""
    out: dict[str, Any] = {
        "max_tokens": int(sampling.get("max_new_tokens") or 256),
        "temperature": float(sampling.get("temperature") or 0.0),
    }
    for key in ("top_p", "top_k", "min_p", "seed"):
        if sampling.get(key) is not None:
            out[key] = sampling[key]
    return out
