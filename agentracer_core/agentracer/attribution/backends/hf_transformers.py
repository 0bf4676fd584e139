"""The ``transformers`` backend: a local causal LM folder, generated with ``model.generate``.

Loads whatever ``save_pretrained`` or TRL's ``trainer.save_model`` wrote (weights + tokenizer), and
PEFT/LoRA adapter folders (``adapter_config.json``; the base model named there must be local), and a GGUF
file (``transformers:PATH.gguf``: dequantized to float32 on load; needs the ``gguf`` and ``accelerate``
packages; llama.cpp, ``llamacpp:PATH.gguf``, runs the same file several times faster). Needs the
``train`` extra (torch, transformers; peft for adapters).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from ..prompt import render_prompt
from .text import strip_special

__all__ = ["TransformersGenerator"]


def _context_of(model: Any, tokenizer: Any, override: int | None) -> int | None:
    if override:
        return int(override)
    sizes = []
    cfg = getattr(model, "config", None)
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        v = getattr(cfg, key, None)
        if isinstance(v, int) and v > 0:
            sizes.append(v)
            break
    m = getattr(tokenizer, "model_max_length", None)
    if isinstance(m, int) and 0 < m < 10_000_000:
        sizes.append(m)
    return min(sizes) if sizes else None


class TransformersGenerator:
    """A local model folder as a :class:`~agentracer.attribution.backends.Generator` (CPU or GPU)."""

    def __init__(
        self,
        path: str | Path,
        *,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int = 4,
        context: int | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        self.path = Path(path).expanduser()
        self.name = f"transformers:{path}"
        gguf = self.path.is_file() and self.path.suffix == ".gguf"
        if not self.path.is_dir() and not gguf:
            raise ValueError(f"transformers backend: {self.path} is not a folder (expected a saved model folder "
                             "or a .gguf file)")
        is_adapter = (self.path / "adapter_config.json").is_file()
        if not gguf and not is_adapter and not (self.path / "config.json").is_file():
            raise ValueError(
                f"transformers backend: {self.path} has neither config.json nor adapter_config.json; "
                "pass a folder written by save_pretrained() or trainer.save_model()"
            )
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as e:  # pragma: no cover - depends on the installed extras
            raise RuntimeError(
                f"the transformers backend needs torch and transformers: pip install 'agentracer[train]' ({e})"
            ) from e
        self._torch = torch
        self.batch_size = max(int(batch_size), 1)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = getattr(torch, dtype) if isinstance(dtype, str) and dtype != "auto" else None
        tok_src = self.path
        if is_adapter and not any((self.path / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")):
            tok_src = Path(self._adapter_base())
        kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
        if gguf:  # transformers reads a GGUF file from its folder, by name
            tok_src, kwargs["gguf_file"] = self.path.parent, self.path.name
        self.tokenizer = AutoTokenizer.from_pretrained(str(tok_src), **kwargs)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if torch_dtype is not None:
            kwargs["dtype"] = torch_dtype
        if is_adapter:
            try:
                from peft import AutoPeftModelForCausalLM
            except ImportError as e:  # pragma: no cover
                raise RuntimeError(f"{self.path} is a PEFT adapter; install peft to load it ({e})") from e
            model = AutoPeftModelForCausalLM.from_pretrained(str(self.path), **kwargs)
            model = model.merge_and_unload()
        else:
            model = AutoModelForCausalLM.from_pretrained(str(tok_src if gguf else self.path), **kwargs)
        self.model = model.to(self.device).eval()
        self.context_tokens = _context_of(self.model, self.tokenizer, context)
        self._lock = threading.Lock()

    def _adapter_base(self) -> str:
        cfg = json.loads((self.path / "adapter_config.json").read_text(encoding="utf-8"))
        base = cfg.get("base_model_name_or_path")
        if not base:
            raise ValueError(f"{self.path}/adapter_config.json names no base_model_name_or_path")
        return str(base)

    def generate(self, messages_batch: list[list[dict[str, str]]], **sampling: Any) -> list[str]:
        """One completion per conversation (new tokens only, special end tokens removed)."""
        torch = self._torch
        thinking = bool(sampling.get("enable_thinking", False))
        max_new = int(sampling.get("max_new_tokens") or 256)
        temperature = float(sampling.get("temperature") or 0.0)
        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": max_new,
            "do_sample": temperature > 0,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if temperature > 0:
            gen_kwargs["temperature"] = temperature
            for key in ("top_p", "top_k", "min_p"):
                if sampling.get(key) is not None:
                    gen_kwargs[key] = sampling[key]
        else:  # greedy: neutralise sampling fields a saved generation_config may carry
            gen_kwargs.update(temperature=None, top_p=None, top_k=None)
        prompts = [render_prompt(self.tokenizer, m, enable_thinking=thinking) for m in messages_batch]
        out: list[str] = []
        with self._lock, torch.inference_mode():
            if sampling.get("seed") is not None:
                torch.manual_seed(int(sampling["seed"]))
            for i in range(0, len(prompts), self.batch_size):
                chunk = prompts[i : i + self.batch_size]
                enc = self.tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False)
                enc = {k: v.to(self.device) for k, v in enc.items()}
                ids = self.model.generate(**enc, **gen_kwargs)
                new = ids[:, enc["input_ids"].shape[1] :]
                for row in new:
                    out.append(strip_special(self.tokenizer.decode(row, skip_special_tokens=False)))
        return out
