"""The AutoGen example runs offline and prints the steps, an attribution, a fork and feedback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("autogen_agentchat")
pytest.importorskip("autogen_ext.models.replay")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "autogen_example.py"


def test_autogen_example_runs() -> None:
    env = dict(os.environ, COLUMNS="160", NO_COLOR="1", HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    assert "The recorded run" in text and "outcome: failure" in text
    for row in ("planner", "coder", "reviewer", "tool_call", "add({'a': 17, 'b': 3}) -> 20"):
        assert row in text
    assert "Attribution" in text and "agent=" in text and "step=" in text
    assert "(made 0 live calls)" in text and "final answer now 'Checked: 17 * 3 = 51. FINAL ANSWER: 51'" in text
    assert "fixes the run: the coder is to blame" in text
    assert "prompts that carried it in the next run: ['coder']" in text
