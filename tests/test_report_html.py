"""HTML report: self-contained, rendered DOM checked in headless Chromium, screenshot saved."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from agentracer import Attribution, Step, Trace
from agentracer.formats.whowhen import read_whowhen
from agentracer.report import render_report, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _chromium(args: list[str], tmp: Path) -> str:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return res.stdout


def _big_trace(n: int = 500) -> Trace:
    t = Trace(run_id="big", task="a long run", framework="test", outcome="failure")
    for i in range(n):
        s = t.add_step(Step(index=0, agent=f"agent{i % 4}", content=f"message {i} " + "lorem ipsum " * (i % 7)))
        if i % 10 == 0:
            t.add_step(Step(index=0, agent=s.agent, kind="llm_call", parent=s.index, content=f"llm {i}"))
    return t


def test_report_is_self_contained(whowhen_dir: Path, tmp_path: Path) -> None:
    item = read_whowhen(whowhen_dir / "1.json")
    html = render_report(item, Attribution(item.gold.agent, item.gold.step, "the <b>count</b> was wrong", 0.7, "test"))
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    assert "&lt;b&gt;count&lt;/b&gt;" in html  # content is escaped


def test_report_rendered_in_chromium(whowhen_dir: Path, tmp_path: Path) -> None:
    item = read_whowhen(whowhen_dir / "1.json")
    pred = Attribution(item.trace.steps[1].agent, 1, "predicted reason here", 0.42, "test")
    out = write_report(item, tmp_path / "r.html", attribution=pred)
    dom = _chromium(["--dump-dom", out.as_uri()], tmp_path)
    n = len(item.trace.agent_steps())
    assert len(re.findall(r'class="row[^"]*" id="s\d+"', dom)) == n
    assert re.search(r'class="row decisive[^"]*" id="s1"', dom)
    assert f'id="s{item.gold.step}"' in dom and "Gold attribution" in dom
    assert "predicted reason here" in dom and "0.42" in dom
    lanes = re.search(r'class="lanehead">(.*?)</div></div>', dom, re.S)
    assert lanes and all(a in lanes.group(1) for a in item.trace.agents)
    shot = tmp_path / "report.png"
    _chromium([f"--screenshot={shot}", "--window-size=1400,1000", out.as_uri()], tmp_path)
    assert shot.exists() and shot.stat().st_size > 10_000
    art = Path(__file__).parent / "artifacts"
    art.mkdir(exist_ok=True)
    shutil.copy(shot, art / "report_whowhen_1.png")


def test_report_500_steps(tmp_path: Path) -> None:
    t = _big_trace()
    out = write_report(t, tmp_path / "big.html", attribution=Attribution("agent3", 123, "r", 0.5, "test"))
    assert out.stat().st_size < 2_000_000
    dom = _chromium(["--dump-dom", out.as_uri()], tmp_path)
    assert len(re.findall(r'class="row[^"]*" id="s\d+"', dom)) == 500
    assert dom.count('class="child"') == 50
    assert 'class="row decisive' in dom


def test_report_cli_on_whowhen(whowhen_dir: Path, tmp_path: Path) -> None:
    from agentracer.cli import app
    from typer.testing import CliRunner

    res = CliRunner().invoke(app, ["report", str(whowhen_dir / "5.json"), "-o", str(tmp_path / "x.html")])
    assert res.exit_code == 0, res.output
    text = (tmp_path / "x.html").read_text()
    assert "Decisive error (predicted)" in text and "Gold attribution" in text
