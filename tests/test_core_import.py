"""`import agentracer` (and the default attribution, the formats and the CLI) needs neither torch nor any
agent framework: a subprocess that forbids importing them must still attribute a Who&When file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FORBIDDEN = [
    "torch", "transformers", "trl", "peft", "datasets", "accelerate", "vllm", "numpy", "ray",
    "langgraph", "langchain_core", "autogen_agentchat", "autogen_core", "camel", "openinference",
]

CHILD = r"""
import sys, importlib.abc
FORBIDDEN = set(sys.argv[2].split(","))

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN:
            raise ImportError(f"forbidden in a core-only install: {name}")
        return None

sys.meta_path.insert(0, Block())
import agentracer
from agentracer.formats import read
from agentracer.cli import app  # the CLI module itself imports nothing heavy
item = read(sys.argv[1])[0]
att = agentracer.attribute(item.trace)
assert att.parsed and att.agent and att.step is not None, att
assert not (FORBIDDEN & {m.split(".")[0] for m in sys.modules}), sorted(FORBIDDEN & set(sys.modules))
print("ok", att.agent, att.step)
"""


def test_core_imports_without_torch_or_frameworks(whowhen_dir: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-c", CHILD, str(whowhen_dir / "1.json"), ",".join(FORBIDDEN)],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.startswith("ok ")
