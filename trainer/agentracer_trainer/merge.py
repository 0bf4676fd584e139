"""Merge a LoRA adapter into its base model and save a plain checkpoint the tracer backends load.

``python -m agentracer_trainer.merge --adapter runs/x/adapter --out runs/x/final [--base PATH]``

Needed after LoRA training under DeepSpeed ZeRO-3, where the adapter is saved unmerged (the sharded
parameters cannot be merged in place). Without ZeRO-3, ``agentracer train`` merges by itself.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Load base + adapter, merge, save weights, tokenizer and generation config to ``--out``."""
    ap = argparse.ArgumentParser(prog="agentracer_trainer.merge", description=__doc__.splitlines()[0])
    ap.add_argument("--adapter", required=True, help="folder with adapter_config.json")
    ap.add_argument("--out", required=True, help="where to write the merged checkpoint")
    ap.add_argument("--base", default=None, help="base model (default: the adapter's base_model_name_or_path)")
    args = ap.parse_args(argv)

    import torch
    from agentracer.training.grpo import save_for_inference
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = Path(args.adapter)
    base = args.base or json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16)
    model = PeftModel.from_pretrained(model, str(adapter))
    tok_src = adapter if (adapter / "tokenizer_config.json").exists() else Path(base)
    tokenizer = AutoTokenizer.from_pretrained(str(tok_src))
    meta_file = adapter / "agentracer.json"
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else None
    out = save_for_inference(model, tokenizer, Path(args.out), meta=meta)
    print(f"merged -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
