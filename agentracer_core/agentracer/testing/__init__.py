"""Helpers for tests, benchmarks and examples: a tiny Qwen3 built locally (no hub access).

:func:`build_tiny_qwen3` trains a byte-level BPE tokenizer with ``tokenizers`` on a small corpus of
attribution-style text, builds a randomly initialised Qwen3 of a few hundred thousand parameters, and
saves both to a folder that ``transformers``, TRL and vLLM (``head_dim=32``) can load.
:func:`whowhen_dir` is the Who&When folder the tests and benchmarks read. ``QWEN3_CHAT_TEMPLATE`` (from
:mod:`agentracer.attribution.chat_template`) and ``shared_data_dir`` (from
:mod:`agentracer.training.embedded_fit`) are re-exported here for them.
"""

from __future__ import annotations

from pathlib import Path

from ..attribution.chat_template import QWEN3_CHAT_TEMPLATE
from ..training.embedded_fit import shared_data_dir

__all__ = ["QWEN3_CHAT_TEMPLATE", "build_tiny_qwen3", "shared_data_dir", "whowhen_dir"]


def whowhen_dir() -> Path:
    """Who&When Algorithm-Generated inside :func:`shared_data_dir`."""
    return shared_data_dir() / "who_and_when" / "Algorithm-Generated"


_CORPUS = [
    "Who is responsible for the failure? Answer with the agent, the step and the reason.",
    '{"agent": "Planner", "step": 3, "reason": "The plan used the wrong number."}',
    "<agent>Solver</agent><step>2</step><reason>wrong formula</reason>",
    "Step 0 | Planner: Let us compute 12 * 7 = 84. Step 1 | Solver: The answer is 85.",
    "def solve(x):\n    return x + 1\nTraceback (most recent call last): ValueError",
    "Orchestrator WebSurfer Assistant Verifier Expert Computer_terminal code exitcode: 0",
    "<think>The verifier accepted a wrong value.</think> agent: Verifier step: 5",
]


def _corpus() -> list[str]:
    out = []
    for i in range(40):
        for line in _CORPUS:
            out.append(line.replace("3", str(i % 10)))
    return out


def build_tiny_qwen3(
    out: str | Path,
    *,
    vocab_size: int = 512,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 2,
    kv_heads: int = 1,
    head_dim: int = 32,
    max_positions: int = 4096,
    seed: int = 0,
) -> Path:
    """Build and save a tiny random Qwen3 and its tokenizer to ``out``; returns the folder.

    Idempotent: an existing complete folder is reused. Needs the ``train`` extra (torch, transformers).
    """
    out = Path(out)
    if (out / "config.json").exists() and (out / "tokenizer.json").exists() and (out / "model.safetensors").exists():
        return out
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        unk_token=None,
        model_max_length=max_positions,
        padding_side="left",
    )
    fast.chat_template = QWEN3_CHAT_TEMPLATE
    cfg = Qwen3Config(
        vocab_size=len(fast),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=head_dim,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(cfg)
    model.generation_config = GenerationConfig(
        eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id, do_sample=True, max_new_tokens=32
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    fast.save_pretrained(out)
    return out
