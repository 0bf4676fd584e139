"""The ``llamacpp`` backend: a local GGUF file run in-process by llama-cpp-python, on CPU.

``llamacpp:PATH.gguf?n_ctx=4096&threads=2&temperature=0``. This is how a laptop runs a local model: a
quantized GGUF file and llama.cpp, no torch needed. ``llama_cpp`` is imported only when this backend is
built; it has no prebuilt wheel and compiles from source (``make real-llm`` builds it once, with the
portable flags, and caches the wheel).

Constrained output: llama.cpp turns a JSON schema into a grammar, so the answer can be forced into
``{"agent": one of the trace's agents, "step": one of its step numbers, "reason": text}`` — a form the
answer parser always reads, even from a weak model. On by default here (``?constrain=0`` turns it off).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from .text import chat_sampling, strip_special

__all__ = ["INSTALL_HINT", "LlamaCppGenerator", "LlamaTokenizer"]

INSTALL_HINT = (
    "the llamacpp backend needs llama-cpp-python: run `make real-llm` (builds it once with portable flags "
    "and caches the wheel), or `CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" pip install 'llama-cpp-python[server]'` "
    "(the default native build can crash on CPUs with AMX). Or serve the GGUF with any OpenAI-compatible "
    "server and use `openai:MODEL@URL`."
)
DEFAULT_CONTEXT = 4096


def import_llama_cpp() -> Any:
    """``llama_cpp``, or a RuntimeError that names the install command."""
    try:
        import llama_cpp
    except Exception as e:  # ImportError, or a broken shared library
        raise RuntimeError(f"{INSTALL_HINT} (import llama_cpp failed: {type(e).__name__}: {e})") from e
    return llama_cpp


class LlamaTokenizer:
    """The model's own tokenizer with the ``encode``/``decode`` shape the prompt fitter expects."""

    def __init__(self, llama: Any) -> None:
        self._llama = llama

    def encode(self, text: str, add_special_tokens: bool = False, **_: Any) -> list[int]:
        """Token ids of ``text`` (no BOS; special-token text is read as plain text)."""
        return list(self._llama.tokenize(text.encode("utf-8"), add_bos=bool(add_special_tokens), special=False))

    def decode(self, ids: list[int], **_: Any) -> str:
        """The text of ``ids``."""
        return self._llama.detokenize(list(ids)).decode("utf-8", errors="replace")


class LlamaCppGenerator:
    """A GGUF file loaded by ``llama_cpp.Llama`` (a :class:`~agentracer.attribution.backends.Generator`).

    Conversations are rendered with the chat template stored in the GGUF file. ``schemas`` (one JSON
    schema per conversation, or None) constrain the answers when given.
    """

    supports_schema = True
    constrain_default = True

    def __init__(
        self,
        path: str | Path,
        *,
        n_ctx: int | None = None,
        threads: int | None = None,
        chat_format: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.path = str(Path(path).expanduser())
        self.name = f"llamacpp:{path}"
        if not Path(self.path).is_file():
            raise ValueError(f"llamacpp backend: {self.path} is not a file (expected a .gguf model file)")
        llama_cpp = import_llama_cpp()
        n_threads = int(threads) if threads else max(1, min(os.cpu_count() or 1, 8))
        kwargs: dict[str, Any] = {
            "model_path": self.path,
            "n_ctx": int(n_ctx) if n_ctx else DEFAULT_CONTEXT,
            "n_threads": n_threads,
            "verbose": bool(verbose),
        }
        if chat_format:
            kwargs["chat_format"] = chat_format
        try:
            self.llm = llama_cpp.Llama(**kwargs)
        except Exception as e:  # llama.cpp says little ("Failed to load model from file")
            raise RuntimeError(f"llamacpp backend: could not load {self.path}: {type(e).__name__}: {e}") from e
        self.context_tokens = int(self.llm.n_ctx())
        self.tokenizer = LlamaTokenizer(self.llm)
        self._lock = threading.Lock()  # one Llama context is not safe to share between threads

    def complete(
        self, messages: list[dict[str, str]], schema: dict[str, Any] | None = None, **sampling: Any
    ) -> str:
        """One chat completion, constrained to ``schema`` when given."""
        kwargs: dict[str, Any] = {"messages": messages, **chat_sampling(sampling)}
        if schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        with self._lock:
            try:
                reply = self.llm.create_chat_completion(**kwargs)
            except ValueError as e:  # "Requested tokens (N) exceed context window of M"
                raise RuntimeError(f"llamacpp backend: {e} (raise n_ctx, or shorten the prompt)") from e
        try:
            content = reply["choices"][0]["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise RuntimeError(f"llamacpp backend: no choices in the reply: {str(reply)[:300]}") from None
        return strip_special(str(content))

    def generate(self, messages_batch: list[list[dict[str, str]]], **sampling: Any) -> list[str]:
        """One completion per conversation, in order (``schemas``: one per conversation, optional)."""
        schemas = sampling.pop("schemas", None) or [None] * len(messages_batch)
        return [self.complete(m, schema=s, **sampling) for m, s in zip(messages_batch, schemas, strict=True)]
