"""The layering check (import-linter contracts in pyproject.toml) holds on the tree, and fails on a wrong import.

The contracts: the core's layers (face > features > attribution > formats > recording > contract > data model),
a core that imports no agent framework and no plugin, and plugins that do not import each other. The second
and third tests copy the packages to a temporary folder, plant one wrong import and check that the same
contracts break, so the check is known to bite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (the dev extra)")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run ``lint-imports`` with the project's contracts over the packages under ``tree``."""
    roots = [tree / "agentracer_core", tree / "integrations"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(r) for r in roots)}
    return subprocess.run([str(LINT), "--no-cache", str(ROOT / "pyproject.toml")], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=120)


def _copy(tmp_path: Path) -> Path:
    for part in ("agentracer_core", "integrations"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return tmp_path


def test_the_tree_keeps_every_contract() -> None:
    r = _lint(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 kept, 0 broken" in r.stdout


def _plant(tree: Path, module: str, line: str) -> None:
    path = tree / "agentracer_core" / "agentracer" / module
    path.write_text(path.read_text() + f"\n\ndef _planted() -> None:  # a lazy import counts too\n    {line}\n")


def test_a_framework_import_in_the_core_breaks_the_check(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    _plant(tree, "attribution/base.py", "import langgraph  # noqa: F401")
    r = _lint(tree)
    assert r.returncode != 0
    assert "agentracer is not allowed to import langgraph" in r.stdout
    assert "agentracer.attribution.base -> langgraph" in r.stdout


def test_an_upward_import_breaks_the_check(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    _plant(tree, "recording/redact.py", "from agentracer.attribution import get_attributor  # noqa: F401")
    r = _lint(tree)
    assert r.returncode != 0
    assert "agentracer.recording is not allowed to import agentracer.attribution" in r.stdout


def test_a_plugin_importing_another_breaks_the_check(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    path = tree / "integrations" / "agentracer_maas" / "plugin.py"
    path.write_text(path.read_text() + "\n\nimport agentracer_langgraph  # noqa: E402,F401\n")
    r = _lint(tree)
    assert r.returncode != 0
    assert "agentracer_maas is not allowed to import agentracer_langgraph" in r.stdout
