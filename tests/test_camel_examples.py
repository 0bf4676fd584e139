"""The CAMEL and OWL examples run offline and print the steps and an attribution."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("camel")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("script", "expect"),
    [
        ("camel_example.py", ["Math Tutor", "Baker", "outcome=failure", "Attribution", "Fork at step", "3 kg"]),
        ("owl_example.py", ["Workforce Manager", "A helpful assistant that can search the web", "outcome=failure",
                            "Attribution", "answer='Final answer: 88'"]),
    ],
)
def test_example_runs(script: str, expect: list[str]) -> None:
    env = dict(os.environ, OPENAI_API_KEY="", HF_HUB_OFFLINE="1", NO_PROXY="*")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / script)], capture_output=True, text=True,
                          timeout=120, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for text in expect:
        assert text in proc.stdout, (text, proc.stdout[-3000:])
    assert "Attribution (" in proc.stdout and "step=" in proc.stdout
