"""Does GRPO with the AgenTracer rewards move a tiny model? A learning benchmark on a synthetic task (CPU).

Task: short failed traces (3-5 steps, 3 agents) whose decisive step is the only one whose content is
``ERROR``; the answer is ``<agent>NAME</agent><step>N</step><reason>TEXT</reason>``. The prompt is a compact
version of the tracer prompt (step lines ``Step N | agent: content`` and the answer format), so that a
~100k-parameter Qwen3 on a 2-core CPU can learn it in minutes; the full prompt is exercised by the smoke
test. The rewards are exactly ``agentracer.training.rewards`` (agent binary, step Gaussian, format).

1. a tiny random Qwen3 (``agentracer.testing.build_tiny_qwen3``);
2. a short SFT warm-up on the canonical answers (so that the format is sometimes produced);
3. greedy evaluation on held-out traces -> "before GRPO";
4. GRPO for ``--steps`` steps with the three reward functions (TRL logs each component);
5. greedy evaluation on the same held-out traces -> "after GRPO".

Outputs: ``bench/results/grpo_learning.png`` (reward curves), ``bench/results/grpo_learning.json`` (all
numbers) and the table in ``bench/results/training.md``.

    python bench/bench_grpo_learning.py                # the published run (600 GRPO steps, a few minutes)
    python bench/bench_grpo_learning.py --steps 20     # a quick look

Real weights (``--model gguf:smollm2``): SmolLM2-135M-Instruct, dequantized from its GGUF file
(:mod:`agentracer.training.gguf`), trained with LoRA (peft) on traces generated and labelled by
``agentracer annotate generate`` (``--data`` for training, ``--eval-data`` for held-out traces generated with
another seed); the prompt is the same compact form, each step's content cut to ``--chars`` characters, traces
longer than ``--max-steps`` steps left out. No SFT warm-up by default: "before" is the instruct model as it
is. Outputs go to ``grpo_learning_smollm2.{png,json}`` and ``training_smollm2.md``::

    agentracer annotate generate -f langgraph -d all --n 12 --size 4 --seed 0 -o runs/gen-train
    agentracer annotate generate -f langgraph -d all --n 8 --size 4 --seed 1 -o runs/gen-eval
    python bench/bench_grpo_learning.py --model gguf:smollm2 --data runs/gen-train --eval-data runs/gen-eval \
        --steps 40 --batch 8 --generations 4 --lr 3e-4 --sft-steps 0
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
OUT = ROOT / "bench" / "out" / "grpo_learning"
AGENTS = ("Planner", "Coder", "Verifier")
NOTES_MARKER = "<!-- notes: kept when the benchmark rewrites this file -->"
ANSWER_HINT = "Answer: <agent>NAME</agent><step>N</step><reason>TEXT</reason>"


def make_rows(n: int, seed: int) -> list[dict]:
    """Compact GRPO rows (conversational prompt + gold columns) for ``n`` synthetic failed traces."""
    from agentracer.training.data import synthetic_traces

    rows = []
    rng = random.Random(seed + 7)
    for item in synthetic_traces(n, seed=seed, agents=AGENTS, min_steps=3, max_steps=5):
        lines = [
            f"Step {s.index} | {s.agent}: {'ERROR' if s.content.startswith('ERROR') else 'ok'}" for s in item.trace.steps
        ]
        user = "Which agent and step caused the failure?\n" + "\n".join(lines) + "\n" + ANSWER_HINT
        rows.append(
            {
                "prompt": [{"role": "user", "content": user}],
                "agent": item.gold.agent,
                "step": item.gold.step,
                "reason": rng.choice(["wrong value", "bad step", "error"]),
                "n_steps": len(item.trace.steps),
            }
        )
    return rows


def trace_rows(folder: str, *, max_steps: int, chars: int) -> list[dict]:
    """Compact GRPO rows from the labelled traces of ``agentracer annotate generate`` output folders (a comma list)."""
    from agentracer.formats import read
    from agentracer.trace import AnnotatedTrace

    items = []
    for name in folder.split(","):
        src = Path(name)
        items += read(src / "annotations.jsonl" if (src / "annotations.jsonl").is_file() else src)
    rows = []
    for item in items:
        if not isinstance(item, AnnotatedTrace) or item.gold.step is None or not item.gold.agent:
            continue
        t = item.trace
        if len(t.steps) > max_steps:
            continue
        lines = [f"Step {s.index} | {s.agent}: {' '.join(str(s.content).split())[:chars]}" for s in t.steps]
        task = " ".join(str(t.task or "").split())[:chars * 2]
        user = ("This multi-agent run failed. Which agent and step caused the failure?\nTask: " + task + "\n"
                + "\n".join(lines) + "\n" + ANSWER_HINT)
        rows.append({"prompt": [{"role": "user", "content": user}], "agent": item.gold.agent,
                     "step": int(item.gold.step), "reason": "decisive step", "n_steps": len(t.steps),
                     "agents": sorted({s.agent for s in t.steps})})
    return rows


def evaluate(model, tok, rows: list[dict], batch: int = 32, max_new_tokens: int = 32) -> dict:
    """Greedy decoding on ``rows``: format rate, agent and exact-step accuracy, mean step reward."""
    import torch
    from agentracer.attribution.prompt import render_prompt
    from agentracer.training.rewards import score_completion

    tok.padding_side = "left"
    agg = {"format": 0.0, "agent_acc": 0.0, "step_acc": 0.0, "step_reward": 0.0, "total": 0.0}
    samples: list[str] = []
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(rows), batch):
            chunk = rows[i : i + batch]
            enc = tok([render_prompt(tok, r["prompt"]) for r in chunk], return_tensors="pt", padding=True,
                      add_special_tokens=False)
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id,
                                 temperature=None, top_p=None, top_k=None)
            for r, ids in zip(chunk, out[:, enc["input_ids"].shape[1] :], strict=True):
                text = tok.decode(ids, skip_special_tokens=False).replace(tok.pad_token, "")
                if len(samples) < 4:
                    samples.append(f"gold {r['agent']}/{r['step']}: {text}")
                b = score_completion(text, r["agent"], r["step"], n_steps=r["n_steps"])
                agg["format"] += b.format == 1.0
                agg["agent_acc"] += b.agent or 0.0
                agg["step_acc"] += b.step == 1.0
                agg["step_reward"] += b.step or 0.0
                agg["total"] += b.total
    model.train()
    return {**{k: v / len(rows) for k, v in agg.items()}, "samples": samples}


def floors(rows: list[dict], seed: int = 0) -> dict:
    """Trivial floors on the same rows: a random agent of the trace, a random step of the trace, step 0."""
    rng = random.Random(seed)
    agent = statistics.mean(float(rng.choice(r.get("agents") or AGENTS) == r["agent"]) for r in rows)
    step = statistics.mean(float(rng.randrange(r["n_steps"]) == r["step"]) for r in rows)
    first = statistics.mean(float(r["step"] == 0) for r in rows)
    return {"random_agent": agent, "random_step": step, "step_0": first}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny", help="tiny (a random Qwen3) or gguf:smollm2 / gguf:PATH (+ LoRA)")
    ap.add_argument("--data", help="with gguf: an `agentracer annotate generate` folder to train on")
    ap.add_argument("--eval-data", help="with gguf: a generated folder of held-out traces (another seed)")
    ap.add_argument("--max-steps", type=int, default=12, help="with gguf: leave out traces with more steps")
    ap.add_argument("--chars", type=int, default=60, help="with gguf: characters kept of each step")
    ap.add_argument("--lora-r", type=int, default=16, help="with gguf: LoRA rank (all linear layers)")
    ap.add_argument("--generations", type=int, default=8, help="completions per prompt in a GRPO group")
    ap.add_argument("--completion-tokens", type=int, default=32)
    ap.add_argument("--steps", type=int, default=600, help="GRPO steps")
    ap.add_argument("--sft-steps", type=int, default=100)
    ap.add_argument("--sft-lr", type=float, default=3e-3)
    ap.add_argument("--lr", type=float, default=3e-4, help="GRPO learning rate")
    ap.add_argument("--format-weight", type=float, default=1.0, help="weight of the format reward")
    ap.add_argument("--batch", type=int, default=32, help="completions per GRPO step (traces x 8 generations)")
    ap.add_argument("--train", type=int, default=512, help="training traces")
    ap.add_argument("--eval", type=int, default=256, help="held-out traces")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-write", action="store_true", help="do not write bench/results")
    args = ap.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets
    import torch
    from agentracer.testing import build_tiny_qwen3
    from agentracer.training.data import prepare_sft_dataset
    from agentracer.training.rewards import RewardConfig, reward_functions
    from transformers import AutoTokenizer, TrainerCallback
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from trl import GRPOConfig, GRPOTrainer, SFTConfig, SFTTrainer

    torch.set_num_threads(args.threads)
    t_all = time.perf_counter()
    real = args.model.startswith("gguf:")
    peft_config = None
    if real:
        from agentracer.training.gguf import dequantize_gguf, resolve_gguf
        from peft import LoraConfig

        if not (args.data and args.eval_data):
            ap.error("--model gguf:... needs --data and --eval-data (agentracer annotate generate folders)")
        t0 = time.perf_counter()
        gguf = resolve_gguf(args.model)
        base = dequantize_gguf(gguf, OUT / f"base-{gguf.stem}")
        load_seconds = time.perf_counter() - t0
        train_rows = trace_rows(args.data, max_steps=args.max_steps, chars=args.chars)
        eval_rows = trace_rows(args.eval_data, max_steps=args.max_steps, chars=args.chars)[: args.eval]
        peft_config = LoraConfig(r=args.lora_r, lora_alpha=2 * args.lora_r, target_modules="all-linear",
                                 task_type="CAUSAL_LM")
        print(f"{gguf.name}: dequantized in {load_seconds:.0f} s; {len(train_rows)} training and "
              f"{len(eval_rows)} held-out traces (<= {args.max_steps} steps)", flush=True)
    else:
        tag = f"h{args.hidden}l{args.layers}s{args.seed}"
        base = build_tiny_qwen3(OUT / f"base-{tag}", hidden_size=args.hidden, layers=args.layers, heads=4,
                                kv_heads=2, head_dim=32, seed=args.seed)
        train_rows, eval_rows = make_rows(args.train, seed=args.seed), make_rows(args.eval, seed=10_000 + args.seed)
    tok = AutoTokenizer.from_pretrained(base)
    train_ds = datasets.Dataset.from_list(train_rows)
    cpu = {"use_cpu": True, "bf16": False, "report_to": "none", "save_strategy": "no", "seed": args.seed,
           "logging_steps": 1}
    import resource

    zero_shot = None
    if real:
        from transformers import AutoModelForCausalLM

        t0 = time.perf_counter()
        zero_shot = evaluate(AutoModelForCausalLM.from_pretrained(base), tok, eval_rows, batch=16,
                             max_new_tokens=args.completion_tokens)
        print(f"zero-shot greedy eval ({time.perf_counter() - t0:.0f} s): {zero_shot}", flush=True)

    # 1. SFT warm-up (optional with real weights: --sft-steps 0 starts GRPO from the instruct model)
    t0 = time.perf_counter()
    if args.sft_steps > 0:
        sft = SFTTrainer(
            model=str(base),
            args=SFTConfig(output_dir=str(OUT / "sft"), max_steps=args.sft_steps, learning_rate=args.sft_lr,
                           per_device_train_batch_size=16 if not real else 4, max_length=256 if not real else 640,
                           lr_scheduler_type="constant", **cpu),
            train_dataset=prepare_sft_dataset(train_ds, tok),
            processing_class=tok,
            peft_config=peft_config,
        )
        for cb in (PrinterCallback, ProgressCallback):
            sft.remove_callback(cb)
        sft.train()
        model = sft.model
        if peft_config is not None:  # GRPO trains a fresh LoRA adapter on the warmed-up (merged) weights
            model = model.merge_and_unload()
        before = evaluate(model, tok, eval_rows, batch=16 if real else 32, max_new_tokens=args.completion_tokens)
    else:
        model, before = str(base), zero_shot
    sft_seconds = time.perf_counter() - t0
    print(f"SFT warm-up ({args.sft_steps} steps, {sft_seconds:.0f} s); greedy eval before GRPO: {before}", flush=True)

    # 2. GRPO with the three reward components
    rcfg = RewardConfig(agent_weight=1.0, step_weight=1.0, format_weight=args.format_weight, sigma=1.0)
    funcs, weights = reward_functions(rcfg)
    gcfg = GRPOConfig(
        output_dir=str(OUT / "grpo"), max_steps=args.steps, per_device_train_batch_size=args.batch,
        num_generations=args.generations, max_completion_length=args.completion_tokens, learning_rate=args.lr, lr_scheduler_type="constant", beta=0.0, loss_type="dapo",
        temperature=1.0, reward_weights=weights, remove_unused_columns=False,
        chat_template_kwargs={"enable_thinking": False}, **cpu,
    )
    t0 = time.perf_counter()
    grpo = GRPOTrainer(model=model, reward_funcs=funcs, args=gcfg, train_dataset=train_ds, processing_class=tok,
                       peft_config=peft_config)
    for cb in (PrinterCallback, ProgressCallback):
        grpo.remove_callback(cb)

    class Echo(TrainerCallback):  # prints the reward components every 25 steps
        def on_log(self, a, state, control, logs=None, **kw):
            if logs and "reward" in logs and state.global_step % (5 if real else 25) == 0:
                print(f"step {state.global_step}: " + " ".join(
                    f"{k.split('/')[1]}={logs[k]:.3f}" for k in logs if k.startswith("rewards/") and k.endswith("/mean")
                ), flush=True)

    grpo.add_callback(Echo())
    grpo.train()
    grpo_seconds = time.perf_counter() - t0
    after = evaluate(grpo.model, tok, eval_rows, batch=16 if real else 32, max_new_tokens=args.completion_tokens)
    print(f"greedy eval after GRPO: {after}", flush=True)

    log = [r for r in grpo.state.log_history if "reward" in r]
    curves = {name: [r[f"rewards/{name}/mean"] for r in log] for name in ("agent_reward", "step_reward", "format_reward")}
    curves["reward"] = [r["reward"] for r in log]
    fl = floors(eval_rows)
    result = {
        "command": "python bench/bench_grpo_learning.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{os.cpu_count()}-core {platform.machine()} CPU, no GPU, torch threads {args.threads}",
        "args": vars(args),
        "model": args.model,
        "params": sum(p.numel() for p in grpo.model.parameters()),
        "trainable_params": sum(p.numel() for p in grpo.model.parameters() if p.requires_grad),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "zero_shot": zero_shot,
        "train_traces": len(train_rows),
        "eval_traces": len(eval_rows),
        "sft_seconds": sft_seconds,
        "grpo_seconds": grpo_seconds,
        "seconds_per_grpo_step": grpo_seconds / max(len(log), 1),
        "total_seconds": time.perf_counter() - t_all,
        "before": before,
        "after": after,
        "floors": fl,
        "curves": curves,
        "frac_reward_zero_std": [r.get("frac_reward_zero_std") for r in log],
    }
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        suffix = "_" + Path(args.model.split(":", 1)[1]).stem.split(".")[0].lower() if real else ""
        (RESULTS / f"grpo_learning{suffix}.json").write_text(json.dumps(result, indent=1))
        plot(result, RESULTS / f"grpo_learning{suffix}.png")
        if real:
            write_real_table(result, RESULTS / f"training{suffix}.md", f"grpo_learning{suffix}.png")
        else:
            write_table(result, RESULTS / "training.md")
    print(json.dumps({k: result[k] for k in ("before", "after", "floors", "grpo_seconds", "seconds_per_grpo_step",
                                             "params", "peak_rss_mb")}, indent=1))
    return 0


def _smooth(xs: list[float], w: int = 20) -> list[float]:
    out, acc = [], []
    for x in xs:
        acc.append(x)
        acc = acc[-w:]
        out.append(sum(acc) / len(acc))
    return out


def plot(result: dict, path: Path) -> None:
    """Per-component batch-mean rewards during GRPO (raw and a 20-step running mean), greedy evals as markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    colors = {"format_reward": "tab:green", "agent_reward": "tab:blue", "step_reward": "tab:orange"}
    n = len(result["curves"]["reward"])
    for name, c in colors.items():
        ys = result["curves"][name]
        ax.plot(range(1, n + 1), ys, color=c, alpha=0.18, lw=0.8)
        w = 20 if n > 100 else 5
        ax.plot(range(1, n + 1), _smooth(ys, w), color=c, lw=2, label=f"{name} (batch mean, {w}-step avg)")
    b, a = result["before"], result["after"]
    for key, c, lbl, dy in (("format", "tab:green", "format", 6), ("agent_acc", "tab:blue", "agent acc", -12),
                            ("step_reward", "tab:orange", "step reward", 6)):
        ax.scatter([0, n], [b[key], a[key]], color=c, marker="D", edgecolor="k", zorder=5)
        ax.annotate(f"{lbl} {b[key]:.2f}", (0, b[key]), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.annotate(f"{lbl} {a[key]:.2f}", (n, a[key]), textcoords="offset points", xytext=(-62, dy), fontsize=7)
    ax.axhline(result["floors"]["random_agent"], color="tab:blue", ls=":", lw=1, label="random-agent floor")
    g = result["args"].get("generations", 8)
    ax.set_xlabel(f"GRPO step ({result['args']['batch']} completions = {result['args']['batch'] // g} traces x {g})")
    ax.set_ylabel("reward")
    ax.set_ylim(-0.02, 1.05)
    what = (f"SmolLM2-135M-Instruct + LoRA ({result['trainable_params']:,} trainable), generated traces"
            if result.get("zero_shot") is not None else f"a tiny Qwen3 ({result['params']:,} params), synthetic task")
    ax.set_title(f"GRPO on {what}, CPU\ndiamonds: greedy eval on held-out traces before / after GRPO", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_table(result: dict, path: Path) -> None:
    """The markdown rows for BENCHMARKS.md."""
    b, a, f = result["before"], result["after"], result["floors"]
    c = result["curves"]
    k = min(20, len(c["reward"]))

    def first_last(name: str) -> str:
        return f"{statistics.mean(c[name][:k]):.3f} → {statistics.mean(c[name][-k:]):.3f}"

    lines = [
        "## Training: GRPO learning on a synthetic attribution task (tiny Qwen3, CPU)",
        "",
        f"Command: `{result['command'].strip()}`  ",
        f"Machine: {result['machine']} (other jobs may share the machine: times are upper bounds).  ",
        f"Model: tiny random Qwen3, {result['params']:,} parameters; SFT warm-up {result['args']['sft_steps']} steps, "
        f"then GRPO {len(c['reward'])} steps ({result['args']['batch']} completions per step = "
        f"{result['args']['batch'] // 8} traces x 8 generations, lr "
        f"{result['args']['lr']:g}, beta 0, DAPO loss); rewards = agent (x1) + step Gaussian σ=1 (x1) + format "
        f"(x{result['args']['format_weight']:g}).  ",
        f"Time: SFT {result['sft_seconds']:.0f} s, GRPO {result['grpo_seconds']:.0f} s "
        f"({result['seconds_per_grpo_step']:.2f} s/step).",
        "",
        f"Greedy decoding on {result['args']['eval']} held-out traces (exact match), before and after the GRPO stage:",
        "",
        "| metric | floor | after SFT warm-up (before GRPO) | after GRPO |",
        "|---|---|---|---|",
        f"| canonical format rate | 0 | {b['format']:.3f} | {a['format']:.3f} |",
        f"| agent accuracy | {f['random_agent']:.3f} (random agent) | {b['agent_acc']:.3f} | {a['agent_acc']:.3f} |",
        f"| step accuracy (exact) | {f['random_step']:.3f} (random step); {f['step_0']:.3f} (always step 0) | "
        f"{b['step_acc']:.3f} | {a['step_acc']:.3f} |",
        f"| mean step reward (Gaussian, σ=1) | – | {b['step_reward']:.3f} | {a['step_reward']:.3f} |",
        "",
        f"Training-batch reward means, first {k} → last {k} GRPO steps: format {first_last('format_reward')}, "
        f"agent {first_last('agent_reward')}, step {first_last('step_reward')}.",
        "",
        "Greedy answers on the first held-out traces, before → after: "
        + "; ".join(f"`{x}`" for x in b["samples"][:2]) + " → " + "; ".join(f"`{x}`" for x in a["samples"][:2]),
        "",
        "![GRPO learning curves](grpo_learning.png)",
        "",
    ]
    kept = ""
    if path.exists():  # hand-written notes below the marker survive a re-run
        old = path.read_text(encoding="utf-8")
        if NOTES_MARKER in old:
            kept = old[old.index(NOTES_MARKER) :]
    path.write_text("\n".join(lines) + ("\n" + kept if kept else ""), encoding="utf-8")


def write_real_table(result: dict, path: Path, png: str) -> None:
    """The markdown rows of the real-weights variant (zero-shot, after GRPO, floors) for BENCHMARKS.md."""
    z, b, a, f, c = result["zero_shot"], result["before"], result["after"], result["floors"], result["curves"]
    k = max(1, min(10, len(c["reward"]) // 2))

    def first_last(name: str) -> str:
        return f"{statistics.mean(c[name][:k]):.3f} → {statistics.mean(c[name][-k:]):.3f}"

    ar = result["args"]
    rows = [("parse rate (canonical format = 1, readable = 0.5)", "format", "0"),
            ("agent accuracy", "agent_acc", f"{f['random_agent']:.3f} (random agent of the trace)"),
            ("step accuracy (exact)", "step_acc", f"{f['random_step']:.3f} (random step); {f['step_0']:.3f} (step 0)"),
            ("step reward (Gaussian, σ=1)", "step_reward", "–"), ("total reward", "total", "–")]
    lines = [
        "## Training: GRPO on real weights (SmolLM2-135M-Instruct + LoRA, CPU)", "",
        f"Command: `{result['command'].strip()}`  ",
        f"Machine: {result['machine']}; shared with other jobs (load in BENCHMARKS.md).  ",
        f"Model: SmolLM2-135M-Instruct dequantized from its Q4_1 GGUF ({result['params']:,} parameters), LoRA r="
        f"{ar['lora_r']} on all linear layers ({result['trainable_params']:,} trainable); SFT warm-up "
        f"{ar['sft_steps']} steps; GRPO {len(c['reward'])} steps of {ar['batch']} completions "
        f"({ar['batch'] // ar['generations']} traces x {ar['generations']}), lr {ar['lr']:g}, beta 0, DAPO, "
        f"{ar['completion_tokens']} completion tokens.  ",
        f"Data: {result['train_traces']} training traces and {result['eval_traces']} held-out traces (another "
        f"seed) from `agentracer annotate generate`, at most {ar['max_steps']} steps, {ar['chars']} characters "
        "per step.  ",
        f"Time: GRPO {result['grpo_seconds']:.0f} s ({result['seconds_per_grpo_step']:.1f} s/step), whole run "
        f"{result['total_seconds']:.0f} s; peak RSS {result['peak_rss_mb']:.0f} MB.", "",
        "| metric (greedy, held-out) | floor | zero-shot | before GRPO | after GRPO |", "|---|---|---|---|---|",
    ]
    lines += [f"| {name} | {fl} | {z[key]:.3f} | {b[key]:.3f} | {a[key]:.3f} |" for name, key, fl in rows]
    lines += ["", f"Training-batch reward means, first {k} → last {k} steps: format {first_last('format_reward')}, "
              f"agent {first_last('agent_reward')}, step {first_last('step_reward')}.", "",
              "Greedy answers before → after: " + "; ".join(f"`{x}`" for x in b["samples"][:2]) + " → "
              + "; ".join(f"`{x}`" for x in a["samples"][:2]), "", f"![GRPO on SmolLM2]({png})", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
