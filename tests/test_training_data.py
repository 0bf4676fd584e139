"""Training data: sources, GRPO rows with fitted prompts, SFT targets that the rewards score as perfect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("datasets")

from agentracer.attribution.prompt import build_messages, format_answer, render_prompt
from agentracer.trace import TraceError
from agentracer.training.data import (
    GOLD_COLUMNS,
    fit_messages,
    load_source,
    prepare_grpo_dataset,
    prepare_sft_dataset,
    synthetic_traces,
)
from agentracer.training.rewards import score_completion


@pytest.fixture(scope="module")
def tok(tiny_qwen3: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_qwen3)


def test_synthetic_traces_mark_the_decisive_step() -> None:
    items = synthetic_traces(20, seed=3)
    assert [x.trace.run_id for x in items] == [x.trace.run_id for x in synthetic_traces(20, seed=3)]
    for it in items:
        bad = [s.index for s in it.trace.steps if s.content.startswith("ERROR")]
        assert bad == [it.gold.step]
        assert it.gold.agent == it.trace.steps[it.gold.step].agent
        assert it.trace.outcome == "failure" and 3 <= len(it.trace.steps) <= 6
    with pytest.raises(ValueError):
        synthetic_traces(2, min_steps=4, max_steps=2)


def test_load_source_specs(tmp_path: Path, whowhen_dir: Path) -> None:
    assert len(load_source("synthetic:5")) == 5
    assert load_source("synthetic:3:7")[0].trace.run_id == "synthetic-7-0"
    with pytest.raises(ValueError, match="synthetic:N"):
        load_source("synthetic:many")
    items = load_source(f"whowhen:{whowhen_dir.name}", base_dir=whowhen_dir.parent)  # relative to base_dir
    assert len(items) == 126 and all(x.gold.step is not None for x in items)
    with pytest.raises(TraceError):
        load_source("whowhen:no/such/folder", base_dir=tmp_path)
    with pytest.raises(ValueError, match="not found"):
        load_source("missing.parquet", base_dir=tmp_path)


def test_whowhen_rows_fit_the_token_budget(tok, whowhen_dir: Path) -> None:
    items = load_source(f"whowhen:{whowhen_dir}")[:12]
    ds = prepare_grpo_dataset(items, tokenizer=tok, max_prompt_tokens=1536, shuffle=False)
    assert set(GOLD_COLUMNS) <= set(ds.column_names) and "prompt" in ds.column_names
    for row, item in zip(ds, items, strict=True):
        assert [m["role"] for m in row["prompt"]] == ["system", "user"]
        assert len(tok(render_prompt(tok, row["prompt"]), add_special_tokens=False).input_ids) <= 1536
        assert row["agent"] == item.gold.agent and row["step"] == item.gold.step
        assert row["n_steps"] == len(item.trace.steps) and row["source"] == "human"
        # every step number survives the shortening
        for s in item.trace.agent_steps():
            assert f"Step {s.index} | " in row["prompt"][1]["content"]


def test_annotation_dataset_rows(tmp_path: Path, tok) -> None:
    """Rows as the annotation helper writes them: rebuilt from the trace column, or taken from the prompt."""
    import datasets

    items = synthetic_traces(4, seed=1)
    with_trace = [
        {
            "prompt": build_messages(x.trace),
            "agent": x.gold.agent,
            "step": x.gold.step,
            "reason": x.gold.reason,
            "n_steps": len(x.trace.steps),
            "source": "injection",
            "fault_type": "synthetic",
            "domain": "math",
            "framework": "synthetic",
            "task_id": f"t{i}",
            "trace": json.dumps(x.to_dict()),
        }
        for i, x in enumerate(items)
    ]
    long_text = "Step 0 | A: " + "blah " * 3000 + "\nWho failed?"
    plain = [{"prompt": long_text, "agent": "A", "step": "0", "task_id": "p0"}]
    folder = tmp_path / "saved"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(with_trace)}).save_to_disk(str(folder))
    parquet = tmp_path / "rows.parquet"
    datasets.Dataset.from_list(plain).to_parquet(str(parquet))

    ds = prepare_grpo_dataset(
        [load_source(str(folder)), load_source(str(parquet))], tokenizer=tok, max_prompt_tokens=256, shuffle=False
    )
    assert len(ds) == 5
    first = ds[0]
    assert first["domain"] == "math" and first["task_id"] == "t0" and first["agent"] == items[0].gold.agent
    last = ds[4]
    assert last["prompt"][0]["role"] == "user" and last["step"] == 0 and last["n_steps"] is None
    assert "cut" in last["prompt"][0]["content"]
    assert len(tok(last["prompt"][0]["content"], add_special_tokens=False).input_ids) <= 256


def test_fit_messages_shortens_the_longest(tok) -> None:
    msgs = [{"role": "system", "content": "short"}, {"role": "user", "content": "x y z " * 2000}]
    out = fit_messages(msgs, tok, 200)
    assert out[0]["content"] == "short"
    assert sum(len(tok(m["content"], add_special_tokens=False).input_ids) for m in out) <= 200
    assert msgs[1]["content"].startswith("x y z ") and len(msgs[1]["content"]) == 12000  # input untouched


@pytest.mark.parametrize("thinking", [False, True])
def test_sft_targets_score_perfectly(tok, thinking: bool) -> None:
    grpo = prepare_grpo_dataset(synthetic_traces(6, seed=2), tokenizer=tok, max_prompt_tokens=1024)
    sft = prepare_sft_dataset(grpo, tok, enable_thinking=thinking)
    assert len(sft) == 6
    for g, s in zip(grpo, sft, strict=True):
        assert s["prompt"] == render_prompt(tok, g["prompt"], enable_thinking=thinking)
        assert s["completion"].endswith(tok.eos_token)
        assert format_answer(g["agent"], g["step"], g["reason"]) in s["completion"]
        assert s["completion"].startswith("<think>") == thinking
        b = score_completion(s["completion"], g["agent"], g["step"], n_steps=g["n_steps"])
        assert (b.agent, b.step, b.format) == (1.0, 1.0, 1.0)


def test_rows_without_labels_are_dropped() -> None:
    rows = [{"prompt": "p", "agent": "", "step": None}, {"prompt": "q", "agent": "A", "step": 2}]
    ds = prepare_grpo_dataset([rows], shuffle=False)
    assert len(ds) == 1 and ds[0]["agent"] == "A"
    with pytest.raises(ValueError, match="no training rows"):
        prepare_grpo_dataset([[{"prompt": "p", "agent": "", "step": -1}]])
