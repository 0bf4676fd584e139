"""The refinement run's files and views: tasks read from JSON/JSONL, one JSON per system, method and
round, a summary, the accuracy plot (PNG) and the table printed by ``agentracer refine``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..recording.redact import redacts
from .checks import answer_of, question_of
from .records import RefineResult

__all__ = ["load_tasks", "plot_results", "results_table", "write_outputs"]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "method"


def load_tasks(path: Path) -> list[dict[str, Any]]:
    """Tasks from a JSONL/JSON file of objects with ``question`` (or ``problem``) and ``answer``."""
    from ..trace import TraceError

    text = Path(path).read_text(encoding="utf-8")
    try:
        rows = json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x.strip()]
    except json.JSONDecodeError as e:
        raise TraceError(f"malformed JSON: {e}", file=str(path)) from None
    out = []
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or not question_of(r) or answer_of(r) is None:
            raise TraceError("each task needs 'question' (or 'problem') and 'answer'", file=str(path), field=f"[{i}]")
        out.append({"id": str(r.get("id", f"task{i:04d}")), "question": question_of(r), "answer": answer_of(r)})
    return out


@redacts("results", "meta")
def write_outputs(results: dict[str, list[RefineResult]], out: Path, *, simulated: bool, meta: dict[str, Any]) -> dict[str, Path]:
    """One JSON per system, method and round, a summary JSON and the accuracy plot (PNG)."""
    out.mkdir(parents=True, exist_ok=True)
    for sysname, rs in results.items():
        for r in rs:
            d = out / sysname / _slug(r.label)
            d.mkdir(parents=True, exist_ok=True)
            for rec in r.rounds:
                doc = {"simulated_agents": simulated, "system": sysname, "method": r.method, "guard": r.guard,
                       "label": r.label, "tracer": r.tracer, "seed": r.seed, **rec.to_dict()}
                (d / f"round_{rec.round}.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    summary = {"simulated_agents": simulated, **meta,
               "systems": {s: [r.to_dict() for r in rs] for s, rs in results.items()}}
    spath = out / "summary.json"
    spath.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    return {"summary": spath, "plot": plot_results(results, out / "refine_accuracy.png", simulated=simulated)}


def plot_results(results: dict[str, list[RefineResult]], path: Path, *, simulated: bool) -> Path:
    """Accuracy per round per method, one panel per system (solid: with the guard; dashed: without)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(1, len(results))
    fig, axes = plt.subplots(1, n, figsize=(6.2 * n, 5.2), squeeze=False)
    colors: dict[str, Any] = {}
    cmap = plt.get_cmap("tab10")
    for ax, (sysname, rs) in zip(axes[0], results.items(), strict=False):
        for r in rs:
            c = colors.setdefault(r.method, cmap(len(colors) % 10))
            xs = [rec.round for rec in r.rounds]
            ax.plot(xs, [100 * a for a in r.accuracies], marker="o", color=c,
                    linestyle="-" if (r.guard or r.method == "none") else "--", label=r.label)
        ax.set_title(f"{sysname}{' (simulated agents)' if simulated else ''}")
        ax.set_xlabel("round")
        ax.set_ylabel("accuracy on the refined tasks (%)")
        ax.set_ylim(0, 100)
        ax.set_xticks(sorted({rec.round for r in rs for rec in r.rounds}))
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(5, max(1, len(labels))), fontsize=8, frameon=False)
    fig.suptitle("AgenTracer refine: accuracy per round (solid: with regression guard, dashed: without)"
                 + ("\nSIMULATED AGENTS, not LLM results" if simulated else ""))
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def results_table(results: dict[str, list[RefineResult]], *, simulated: bool) -> Any:
    """A rich table: one row per system and method, accuracy per round, held-out accuracy at the end."""
    from rich.table import Table

    rounds = max((len(r.rounds) for rs in results.values() for r in rs), default=1)
    title = "refine: accuracy per round" + (" (SIMULATED AGENTS)" if simulated else "")
    t = Table(title=title)
    # system and method names stay whole (no_wrap, min width = the longest); the figure columns wrap instead
    t.add_column("system", no_wrap=True, min_width=max((len(k) for k in results), default=6))
    t.add_column("method", no_wrap=True, min_width=max((len(r.label) for rs in results.values() for r in rs), default=6))
    for i in range(rounds):
        t.add_column(f"r{i}", justify="right")
    t.add_column("Δ r0→last", justify="right", overflow="fold")
    t.add_column("held-out r0→last", justify="right", overflow="fold")
    t.add_column("rolled back", justify="right", overflow="fold")
    for sysname, rs in results.items():
        for r in rs:
            accs = [f"{100 * a:.1f}" for a in r.accuracies] + [""] * (rounds - len(r.rounds))
            ev = r.eval_accuracies
            held = f"{100 * ev[0]:.1f}→{100 * ev[-1]:.1f}" if ev and ev[0] is not None and ev[-1] is not None else "-"
            rb = sum(1 for rec in r.rounds[1:] if not rec.accepted)
            t.add_row(sysname, r.label, *accs, f"{100 * (r.accuracies[-1] - r.accuracies[0]):+.1f}", held, str(rb))
    return t

