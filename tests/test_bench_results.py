"""Running one part of a benchmark never destroys the committed tables of the parts it did not recompute."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "bench" / "results" / "annotation.md"

# What `bench_annotation.py throughput` writes to bench/out/annotation-throughput.json (figures made up, and
# distinctive, so that the test can find them in the rendered table).
THROUGHPUT = {
    "items": 12,
    "serial": {"labelled": 11, "seconds": 77.7, "per_minute": 8.5},
    "ray": {"labelled": 11, "seconds": 44.4, "per_minute": 14.9, "per_minute_incl_startup": 12.1, "init_seconds": 3.3},
    "_n": 1,
}


@pytest.fixture()
def bench(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    for name in ("bench_annotation", "results_md"):
        sys.modules.pop(name, None)
    import bench_annotation

    return bench_annotation


def test_one_part_keeps_the_other_committed_tables(bench: object, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh clone (no bench/out) runs only `throughput`: the other three sections stay byte for byte."""
    from results_md import split_sections

    committed = COMMITTED.read_text()
    _, old = split_sections(committed)
    assert len(old) == 4, "the committed page has the four parts' sections"
    results = tmp_path / "annotation.md"
    results.write_text(committed)
    out = tmp_path / "out"
    out.mkdir()
    (out / "annotation-throughput.json").write_text(json.dumps(THROUGHPUT))
    monkeypatch.setattr(bench, "OUT", out)
    monkeypatch.setattr(bench, "RESULTS", results)

    bench.write_results()

    _, new = split_sections(results.read_text())
    assert [h for h, _ in new] == [h for h, _ in old]
    for (heading, before), (_, after) in zip(old, new, strict=True):
        if heading == "## Throughput":
            assert "| 77.7 |" in after and "| 44.4 |" in after and before != after
        else:
            assert after == before, heading


def test_merge_keeps_old_sections_in_place_and_adds_new_ones() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from results_md import merge_sections
    finally:
        sys.path.remove(str(ROOT / "bench"))
    old = "# T\nold pre\n## A\na1\n## B\nb1\n## C\nc1\n"
    new = "# T\nnew pre\n## B\nb2\n## D\nd2\n"
    assert merge_sections(old, new) == "# T\nnew pre\n## A\na1\n## B\nb2\n## C\nc1\n## D\nd2\n"
    assert merge_sections("", new) == new
    assert merge_sections(old, "# T\n") == "# T\n## A\na1\n## B\nb1\n## C\nc1\n"


def test_attribution_speed_only_run_keeps_the_accuracy_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`bench_attribution.py --skip-accuracy` (no --generated) re-measures speed only: the accuracy and
    generalisation tables of the committed page survive byte for byte, and the page says where they came from."""
    from agentracer.testing import whowhen_dir

    if not whowhen_dir().is_dir():
        pytest.skip(f"Who&When data not found at {whowhen_dir()}")
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    sys.modules.pop("bench_attribution", None)
    import bench_attribution
    from results_md import _BLOCK

    committed = (ROOT / "bench" / "results" / "attribution.md").read_text(encoding="utf-8")
    page = tmp_path / "attribution.md"
    page.write_text(committed, encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["bench_attribution.py", "--skip-accuracy", "--out", str(page)])
    assert bench_attribution.main() == 0
    after = page.read_text(encoding="utf-8")
    old_blocks = {m.group(1): m.group(2) for m in _BLOCK.finditer(committed)}
    new_blocks = {m.group(1): m.group(2) for m in _BLOCK.finditer(after)}
    assert set(old_blocks) == {"accuracy", "generalisation"} and all(b.strip() for b in old_blocks.values())
    assert new_blocks == old_blocks
    assert "--skip-accuracy` (tables of parts it did not run are kept from the earlier run of" in after
    assert "| 100-step trace" in after  # the part it did run
