"""Training data for tracers: from annotated traces (or an annotation dataset) to GRPO and SFT rows.

A GRPO row is ``{"prompt": [system, user messages], "agent", "step", "reason", "n_steps", "source",
"fault_type", "domain", "framework", "task_id"}``: a conversational prompt built by
:func:`agentracer.attribution.prompt.build_messages` (fitted to ``max_prompt_tokens`` with the tokenizer,
since TRL's GRPOConfig no longer truncates prompts) and the gold columns that the rewards read. An SFT row
is ``{"prompt": rendered prompt text, "completion": canonical answer + EOS}``, rendered with the same chat
template and thinking switch as GRPO and inference, so the warm-up teaches exactly the answer format the
rewards score.

Sources (:func:`load_source`), as written in a recipe config:

- ``whowhen:DIR`` — a folder of Who&When JSON files (gold from ``mistake_agent``/``mistake_step``);
- ``synthetic:N`` or ``synthetic:N:SEED`` — N generated traces whose faulty step is marked by a pattern
  (:func:`synthetic_traces`; offline, for smoke tests and the learning benchmark);
- a ``.jsonl``/``.json`` file or folder of annotated traces (``agentracer annotate`` output);
- an annotation dataset (TracerTraj-style rows, :mod:`agentracer.annotation.dataset`): a folder saved with
  ``save_to_disk`` (its ``train`` split), or a ``.parquet``/``.jsonl`` file of rows. A row with a ``trace``
  column (the annotated trace as JSON) gets its prompt rebuilt from the trace, fitted to this run's token
  budget; otherwise its ``prompt`` column (messages or text) is used, shortened if too long.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..trace import AnnotatedTrace, Attribution, Step, Trace, TraceError

__all__ = [
    "GOLD_COLUMNS",
    "fit_messages",
    "grpo_rows",
    "load_source",
    "prepare_grpo_dataset",
    "prepare_sft_dataset",
    "synthetic_traces",
]

GOLD_COLUMNS = ("agent", "step", "reason", "n_steps", "source", "fault_type", "domain", "framework", "task_id")

# ------------------------------------------------------------------------------------ synthetic task
_AGENTS = ("Planner", "Coder", "Searcher", "Verifier")
_OK = (
    "checked the numbers, all fine.",
    "the result looks right.",
    "step done as planned.",
    "values agree with the source.",
)
_BAD = (
    "ERROR: used the wrong value.",
    "ERROR: skipped a required check.",
    "ERROR: misread the task.",
)


def synthetic_traces(
    n: int,
    *,
    seed: int = 0,
    agents: Sequence[str] = _AGENTS,
    min_steps: int = 3,
    max_steps: int = 6,
) -> list[AnnotatedTrace]:
    """``n`` short failed traces whose decisive step is the only one whose content starts with ``ERROR``.

    The gold agent is the author of that step. Deterministic for a given ``seed``; offline. Meant for smoke
    tests and for showing that the GRPO rewards move a tiny model, not as realistic data.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 1 <= min_steps <= max_steps:
        raise ValueError(f"need 1 <= min_steps <= max_steps, got {min_steps}, {max_steps}")
    rng = random.Random(seed)
    out: list[AnnotatedTrace] = []
    for i in range(n):
        k = rng.randint(min_steps, max_steps)
        bad = rng.randrange(k)
        trace = Trace(run_id=f"synthetic-{seed}-{i}", task=f"Task {i}: compute the total.", framework="synthetic")
        for j in range(k):
            agent = rng.choice(list(agents))
            content = rng.choice(_BAD) if j == bad else rng.choice(_OK)
            trace.add_step(Step(index=j, agent=agent, content=content))
        trace.outcome = "failure"
        culprit = trace.steps[bad]
        gold = Attribution(agent=culprit.agent, step=bad, reason=culprit.content.removeprefix("ERROR: "), method="synthetic")
        out.append(AnnotatedTrace(trace=trace, gold=gold, source="injection", fault_type="synthetic"))
    return out


# ------------------------------------------------------------------------------------ sources
def _resolve(path: str, base_dir: Path | None) -> Path:
    p = Path(path).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    return p


def _is_saved_dataset(p: Path) -> bool:
    return p.is_dir() and ((p / "dataset_info.json").exists() or (p / "state.json").exists() or (p / "dataset_dict.json").exists())


def load_source(spec: str | Path, *, base_dir: Path | None = None) -> list[AnnotatedTrace] | Any:
    """Load one training source (see the module docstring): a list of AnnotatedTrace, or a ``datasets.Dataset``.

    Relative paths are resolved against ``base_dir``. Bad files raise :class:`TraceError`; an unknown
    spec raises ``ValueError`` naming the accepted forms.
    """
    spec = str(spec).strip()
    if spec.startswith("synthetic:"):
        parts = spec.split(":")
        try:
            n = int(parts[1])
            seed = int(parts[2]) if len(parts) > 2 else 0
        except (IndexError, ValueError):
            raise ValueError(f"bad dataset {spec!r}: expected synthetic:N or synthetic:N:SEED") from None
        return synthetic_traces(n, seed=seed)
    if spec.startswith("whowhen:"):
        folder = _resolve(spec[len("whowhen:") :], base_dir)
        if not folder.exists():
            raise TraceError("no such Who&When file or folder", file=str(folder))
        from ..formats import read

        items = [x for x in read(folder) if isinstance(x, AnnotatedTrace)]
        if not items:
            raise TraceError("holds no annotated trace (no mistake_agent/mistake_step)", file=str(folder))
        return items
    p = _resolve(spec, base_dir)
    if not p.exists():
        raise ValueError(
            f"dataset {spec!r} not found (resolved to {p}); expected whowhen:DIR, synthetic:N[:SEED], a trace "
            "file or folder, a saved datasets folder, or a .parquet/.jsonl file of rows"
        )
    if _is_saved_dataset(p):
        import datasets

        ds = datasets.load_from_disk(str(p))
        if isinstance(ds, datasets.DatasetDict):
            ds = ds["train"] if "train" in ds else next(iter(ds.values()))
        return ds
    if p.suffix == ".parquet":
        import datasets

        return datasets.Dataset.from_parquet(str(p))
    if p.suffix in (".jsonl", ".json") and _looks_like_rows(p):
        import datasets

        return datasets.Dataset.from_json(str(p))
    from ..formats import read

    items = [x for x in read(p) if isinstance(x, AnnotatedTrace)]
    if not items:
        raise TraceError("holds no annotated trace (a gold attribution is needed to train)", file=str(p))
    return items


def _looks_like_rows(p: Path) -> bool:
    """Whether a JSON(L) file holds dataset rows (a ``prompt`` column) rather than traces."""
    try:
        with p.open(encoding="utf-8") as f:
            first = f.readline().strip()
        obj = json.loads(first) if first.startswith("{") else None
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(obj, dict) and "prompt" in obj and "steps" not in obj


# ------------------------------------------------------------------------------------ collation
def fit_messages(messages: list[dict[str, str]], tokenizer: Any, max_tokens: int) -> list[dict[str, str]]:
    """Shorten the longest message in the middle until the messages' contents fit ``max_tokens`` tokens.

    For rows that arrive already rendered (an annotation dataset's ``prompt`` column). Traces should go
    through :func:`agentracer.attribution.prompt.build_messages`, which shortens step by step instead.
    """
    from ..attribution.fit import measure, shorten

    msgs = [dict(m) for m in messages]
    overhead = 8 * len(msgs) + 16  # role markers and the generation prompt
    sizes = [measure(str(m.get("content", "")), tokenizer) for m in msgs]
    total = sum(sizes) + overhead
    if total <= max_tokens or not msgs:
        return msgs
    i = max(range(len(msgs)), key=lambda k: sizes[k])
    keep = max(sizes[i] - (total - max_tokens), 0)
    msgs[i]["content"] = shorten(str(msgs[i].get("content", "")), keep, tokenizer)
    return msgs


def _row_from_trace(
    item: AnnotatedTrace, tokenizer: Any, max_prompt_tokens: int | None, with_ground_truth: bool
) -> dict[str, Any]:
    from ..attribution.prompt import build_messages

    t = item.trace
    gt = t.ground_truth if with_ground_truth else None
    if tokenizer is not None and max_prompt_tokens:
        messages = build_messages(t, gt, tokenizer=tokenizer, max_tokens=max_prompt_tokens)
    else:
        messages = build_messages(t, gt)
    meta = {**t.metadata, **item.metadata}
    return {
        "prompt": messages,
        "agent": item.gold.agent or "",
        "step": -1 if item.gold.step is None else int(item.gold.step),
        "reason": item.gold.reason or "",
        "n_steps": len(t.steps),
        "source": item.source or "unknown",
        "fault_type": item.fault_type or "",
        "domain": str(meta.get("domain") or ""),
        "framework": t.framework or "",
        "task_id": t.run_id,
    }


def _row_from_dataset(
    row: dict[str, Any], tokenizer: Any, max_prompt_tokens: int | None, with_ground_truth: bool = False
) -> dict[str, Any]:
    trace_json = row.get("trace")
    if isinstance(trace_json, str) and trace_json.strip().startswith("{"):
        # an annotation dataset row carries the whole annotated trace: rebuild the prompt from it, fitted
        # to this run's token budget (and w/ G when asked); keep the row's own labels and metadata
        try:
            item = AnnotatedTrace.from_dict(json.loads(trace_json))
        except (ValueError, TraceError) as e:
            raise ValueError(f"row {row.get('task_id', '?')}: bad 'trace' column: {e}") from None
        out = _row_from_trace(item, tokenizer, max_prompt_tokens, with_ground_truth)
        for key in ("source", "fault_type", "domain", "framework", "task_id"):
            if row.get(key):
                out[key] = str(row[key])
        return out
    prompt = row.get("prompt")
    if isinstance(prompt, str):
        messages = [{"role": "user", "content": prompt}]
    elif isinstance(prompt, list) and all(isinstance(m, dict) and "content" in m for m in prompt):
        messages = [{"role": str(m.get("role", "user")), "content": str(m["content"])} for m in prompt]
    else:
        raise ValueError(f"row {row.get('task_id', '?')}: 'prompt' must be text or a list of messages")
    if tokenizer is not None and max_prompt_tokens:
        messages = fit_messages(messages, tokenizer, max_prompt_tokens)
    agent = row.get("agent", row.get("mistake_agent"))
    step = row.get("step", row.get("mistake_step"))
    try:
        step_i = -1 if step is None or str(step).strip() == "" else int(str(step).strip())
    except ValueError:
        raise ValueError(f"row {row.get('task_id', '?')}: 'step' is not an integer: {step!r}") from None
    n_steps = row.get("n_steps")
    return {
        "prompt": messages,
        "agent": "" if agent is None else str(agent),
        "step": step_i,
        "reason": str(row.get("reason") or ""),
        "n_steps": int(n_steps) if isinstance(n_steps, int) and not isinstance(n_steps, bool) else -1,
        "source": str(row.get("source") or "unknown"),
        "fault_type": str(row.get("fault_type") or ""),
        "domain": str(row.get("domain") or ""),
        "framework": str(row.get("framework") or ""),
        "task_id": str(row.get("task_id") or ""),
    }


def grpo_rows(
    items: Iterable[AnnotatedTrace] | Any,
    *,
    tokenizer: Any = None,
    max_prompt_tokens: int | None = None,
    with_ground_truth: bool = False,
) -> list[dict[str, Any]]:
    """GRPO rows (conversational ``prompt`` + gold columns) from annotated traces or dataset rows."""
    # training data is an output too: every trace or row is redacted before its prompt is built (after
    # clipping to the token budget a secret might no longer be recognisable)
    from ..recording.redact import redact_item, redact_value

    rows = []
    for x in items:
        x = redact_item(x) if isinstance(x, AnnotatedTrace) else redact_value(x) if isinstance(x, dict) else x
        if isinstance(x, AnnotatedTrace):
            rows.append(_row_from_trace(x, tokenizer, max_prompt_tokens, with_ground_truth))
        elif isinstance(x, dict):
            rows.append(_row_from_dataset(x, tokenizer, max_prompt_tokens, with_ground_truth))
        else:
            raise TypeError(f"expected AnnotatedTrace or a dataset row, got {type(x).__name__}")
    for r in rows:  # -1 means "unknown" in a column; the rewards read None as "not applicable"
        if r["n_steps"] is not None and r["n_steps"] < 0:
            r["n_steps"] = None
    return rows


def _as_items(source: Any) -> Iterable[Any]:
    try:
        import datasets

        if isinstance(source, datasets.Dataset):
            return (dict(r) for r in source)
    except ImportError:  # pragma: no cover - the train extra brings datasets
        pass
    return source


def prepare_grpo_dataset(
    sources: Sequence[Any] | Any,
    *,
    tokenizer: Any = None,
    max_prompt_tokens: int | None = None,
    with_ground_truth: bool = False,
    limit: int | None = None,
    seed: int = 0,
    shuffle: bool = True,
) -> Any:
    """A ``datasets.Dataset`` of GRPO rows from one or more sources (lists of traces or datasets).

    Rows without a gold agent and step are dropped (nothing to reward). ``limit`` keeps the first rows after a
    seeded shuffle.
    """
    import datasets

    if not isinstance(sources, (list, tuple)) or (sources and isinstance(sources[0], (AnnotatedTrace, dict))):
        sources = [sources]
    rows: list[dict[str, Any]] = []
    for src in sources:
        rows.extend(
            grpo_rows(_as_items(src), tokenizer=tokenizer, max_prompt_tokens=max_prompt_tokens, with_ground_truth=with_ground_truth)
        )
    rows = [r for r in rows if r["agent"] or r["step"] >= 0]
    if not rows:
        raise ValueError("no training rows: every source is empty or lacks a gold agent and step")
    if shuffle:
        random.Random(seed).shuffle(rows)
    if limit is not None:
        rows = rows[: max(int(limit), 0)]
    return datasets.Dataset.from_list(rows)


def prepare_sft_dataset(grpo_dataset: Any, tokenizer: Any, *, enable_thinking: bool = False) -> Any:
    """SFT warm-up rows ``{"prompt": text, "completion": answer + EOS}`` from GRPO rows.

    The prompt is rendered by :func:`agentracer.attribution.prompt.render_prompt` (the same template and
    thinking switch as GRPO and inference); the target is :func:`format_answer` of the gold columns
    (with thinking on, preceded by a ``<think>`` block holding the gold reason).
    """
    import datasets

    from ..attribution.prompt import format_answer, render_prompt

    eos = tokenizer.eos_token or ""
    rows = []
    for r in grpo_dataset:
        if not r["agent"] or r["step"] is None or r["step"] < 0:
            continue
        reason = r.get("reason") or "the decisive error"
        answer = format_answer(r["agent"], int(r["step"]), reason)
        if enable_thinking:  # no reasoning traces to imitate: the think block restates the reason
            answer = f"<think>\n{reason}\n</think>\n\n{answer}"
        rows.append(
            {"prompt": render_prompt(tokenizer, r["prompt"], enable_thinking=enable_thinking), "completion": answer + eos}
        )
    if not rows:
        raise ValueError("no SFT rows: every row lacks a gold agent or step")
    return datasets.Dataset.from_list(rows)
