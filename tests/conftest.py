"""Shared fixtures: the Who&When folder, an in-memory span exporter, and a tiny local Qwen3."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from agentracer.testing import whowhen_dir

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
WHOWHEN = whowhen_dir()  # $AGENTRACER_DATA, else ../shared/data beside the repository


@pytest.fixture(scope="session")
def whowhen_dir() -> Path:
    if not WHOWHEN.is_dir():
        pytest.skip(f"Who&When data not found at {WHOWHEN}")
    return WHOWHEN


@pytest.fixture()
def span_exporter():
    """A TracerProvider with an InMemorySpanExporter (synchronous); yields (provider, exporter)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


@pytest.fixture(scope="session")
def tiny_qwen3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3 + locally trained tokenizer, built once per test session."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from agentracer.testing import build_tiny_qwen3

    return build_tiny_qwen3(tmp_path_factory.mktemp("tiny-qwen3") / "model")
