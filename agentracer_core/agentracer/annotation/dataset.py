"""TracerTraj-style datasets: annotated traces -> rows -> a Hugging Face ``datasets`` dataset with a card.

A row (:func:`to_row`) is what a tracer trains on: ``prompt`` (the chat messages of
:func:`agentracer.attribution.prompt.build_messages`, w/o G), the gold ``agent``/``step``/``reason``,
``n_steps``, how the label was obtained (``source``: replay | injection | human, and ``fault_type``),
``domain``, ``framework``, ``task_id``, plus ``run_id``, ``ground_truth`` (to rebuild the w/ G prompt),
``counterfactual`` and the whole annotated ``trace`` as JSON (lossless).

:func:`build_dataset` deduplicates (same task, same gold label, same step contents) and splits **by
task**: a task's rows all land on one side, so the same task never sits on both sides of a split. It
saves a ``DatasetDict`` (``save_to_disk``, what ``agentracer train`` reads), the splits as parquet under
``data/``, and a dataset card ``README.md`` with the counts per framework, domain, source and fault.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..recording.redact import redacts
from ..trace import AnnotatedTrace, Trace, TraceError

__all__ = ["COLUMNS", "build_dataset", "dedup", "load_dataset", "split_by_task", "task_id_of_trace", "to_row"]

COLUMNS = ("prompt", "agent", "step", "reason", "n_steps", "source", "fault_type", "domain", "framework", "task_id",
           "run_id", "ground_truth", "counterfactual", "trace")


def task_id_of_trace(trace: Trace) -> str:
    """The task a trace solves: ``metadata["task_id"]`` when the generator set it, else a hash of the task text."""
    tid = trace.metadata.get("task_id")
    if isinstance(tid, str) and tid:
        return tid
    return hashlib.sha1((trace.task or trace.run_id).strip().encode("utf-8")).hexdigest()[:12]


def to_row(item: AnnotatedTrace, *, max_chars: int | None = None) -> dict[str, Any]:
    """One TracerTraj-style row for an annotated trace (see the module docstring)."""
    from ..attribution.prompt import build_messages

    tr = item.trace
    kw = {"max_chars": max_chars} if max_chars else {}
    return {
        "prompt": build_messages(tr, None, **kw),
        "agent": item.gold.agent or "",
        "step": int(item.gold.step) if item.gold.step is not None else -1,
        "reason": item.gold.reason or "",
        "n_steps": len(tr.steps),
        "source": item.source,
        "fault_type": item.fault_type or "",
        "domain": str(tr.metadata.get("domain") or item.metadata.get("domain") or "unknown"),
        "framework": tr.framework or "unknown",
        "task_id": task_id_of_trace(tr),
        "run_id": tr.run_id,
        "ground_truth": tr.ground_truth or "",
        "counterfactual": item.counterfactual or "",
        "trace": json.dumps(item.to_dict(), ensure_ascii=False),
    }


def _dedup_key(item: AnnotatedTrace) -> str:
    tr = item.trace
    body = json.dumps([task_id_of_trace(tr), item.gold.agent, item.gold.step,
                       [(s.agent, s.content) for s in tr.agent_steps()]], ensure_ascii=False)
    return hashlib.sha1(body.encode("utf-8")).hexdigest()


def dedup(items: Iterable[AnnotatedTrace]) -> list[AnnotatedTrace]:
    """Drop repeats: same task, same gold agent and step, same agent-step contents (first kept)."""
    seen: set[str] = set()
    out = []
    for it in items:
        k = _dedup_key(it)
        if k not in seen:
            seen.add(k)
            out.append(it)
    return out


def split_by_task(task_ids: Iterable[str], test_fraction: float = 0.2, seed: int = 0) -> dict[str, str]:
    """``task_id -> "train" | "test"``, by a seeded hash of the task id (never both)."""
    out = {}
    for tid in task_ids:
        h = int(hashlib.sha1(f"{seed}:{tid}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        out[tid] = "test" if h < test_fraction else "train"
    return out


def _card(rows: dict[str, list[dict[str, Any]]], *, name: str, notes: str = "") -> str:
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for split in rows:
        lines += [f"  - split: {split}", f"    path: data/{split}.parquet"]
    lines += ["task_categories:", "- text-generation", "tags:", "- failure-attribution", "- multi-agent", "- agentracer",
              "---", "", f"# {name}", ""]
    total = sum(len(v) for v in rows.values())
    lines += [
        "Failed multi-agent runs labelled, with no human in the loop, with the agent and the step that caused the "
        "failure (TracerTraj-style, after *AgenTracer*, arXiv 2509.03312). Labels come from **counterfactual "
        "replay** (`source=replay`: the earliest step whose replacement by an oracle's action turns the failed run "
        "into a success) or **programmatic fault injection** (`source=injection`: one step of a successful run "
        "corrupted, kept only if the run then fails; `fault_type` names the fault).",
        "",
        f"Rows: **{total}** ({', '.join(f'{k}: {len(v)}' for k, v in rows.items())}). Splits are by task: a task's "
        "runs are all on one side.",
        "",
        "Columns: `prompt` (chat messages, w/o G), `agent`, `step` (trace index of the decisive agent step), "
        "`reason`, `n_steps`, `source`, `fault_type`, `domain`, `framework`, `task_id`, `run_id`, `ground_truth`, "
        "`counterfactual`, `trace` (the annotated trace as agentracer JSON).",
        "",
    ]
    every = [r for v in rows.values() for r in v]
    for col in ("framework", "domain", "source", "fault_type"):
        c = Counter((r[col] or "-") for r in every)
        lines += [f"## By {col}", "", f"| {col} | rows |" + "".join(f" {s} |" for s in rows), "|---|---|" + "---|" * len(rows)]
        for k, v in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])):
            per = "".join(f" {sum(1 for r in rows[s] if (r[col] or '-') == k)} |" for s in rows)
            lines.append(f"| {k} | {v} |{per}")
        lines.append("")
    pairs = Counter((r["framework"], r["domain"]) for r in every)
    lines += ["## By framework and domain", "", "| framework | domain | rows |", "|---|---|---|"]
    lines += [f"| {f} | {d} | {n} |" for (f, d), n in sorted(pairs.items())]
    lines.append("")
    if notes:
        lines += ["## How it was built", "", notes, ""]
    return "\n".join(lines)


@redacts("items", "notes")
def build_dataset(
    items: Iterable[AnnotatedTrace],
    out: str | Path,
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
    name: str = "AgenTracer generated failure attributions",
    notes: str = "",
    max_chars: int | None = None,
) -> dict[str, Any]:
    """Rows for ``items`` (deduplicated, split by task), saved to ``out``; returns counts and paths.

    ``out`` receives a ``save_to_disk`` DatasetDict, ``data/<split>.parquet`` and ``README.md`` (the card).
    """
    import datasets

    items = list(items)
    uniq = dedup(items)
    if not uniq:
        raise TraceError("no annotated trace to build a dataset from")
    rows = [to_row(it, max_chars=max_chars) for it in uniq]
    sides = split_by_task({r["task_id"] for r in rows}, test_fraction, seed)
    by_split: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
    for r in rows:
        by_split[sides[r["task_id"]]].append(r)
    by_split = {k: v for k, v in by_split.items() if v}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    features = datasets.Features({
        "prompt": [{"role": datasets.Value("string"), "content": datasets.Value("string")}],
        **{c: datasets.Value("int64") if c in ("step", "n_steps") else datasets.Value("string") for c in COLUMNS if c != "prompt"},
    })
    from datasets.utils import logging as ds_logging

    bars = ds_logging.is_progress_bar_enabled()
    ds_logging.disable_progress_bar()  # the CLI shows its own progress
    try:
        dd = datasets.DatasetDict({k: datasets.Dataset.from_list(v, features=features) for k, v in by_split.items()})
        dd.save_to_disk(str(out))
        (out / "data").mkdir(exist_ok=True)
        for k, ds in dd.items():
            ds.to_parquet(str(out / "data" / f"{k}.parquet"))
    finally:
        if bars:
            ds_logging.enable_progress_bar()
    (out / "README.md").write_text(_card(by_split, name=name, notes=notes), encoding="utf-8")
    return {
        "rows": len(rows), "duplicates_dropped": len(items) - len(uniq),
        "splits": {k: len(v) for k, v in by_split.items()},
        "frameworks": dict(Counter(r["framework"] for r in rows)), "domains": dict(Counter(r["domain"] for r in rows)),
        "sources": dict(Counter(r["source"] for r in rows)), "path": str(out),
    }


def load_dataset(path: str | Path) -> Any:
    """Load a dataset written by :func:`build_dataset` (the saved DatasetDict, else the parquet files)."""
    import datasets

    path = Path(path)
    if (path / "dataset_dict.json").exists():
        return datasets.load_from_disk(str(path))
    files = {p.stem: str(p) for p in sorted((path / "data").glob("*.parquet"))}
    if not files:
        raise TraceError("no dataset here (no dataset_dict.json and no data/*.parquet)", file=str(path))
    return datasets.load_dataset("parquet", data_files=files)


def annotated_from_row(row: dict[str, Any]) -> AnnotatedTrace:
    """The annotated trace stored in a row's ``trace`` column."""
    return AnnotatedTrace.from_dict(json.loads(row["trace"]))
