"""Redaction quality and cost: recall per credential kind, false-positive rate, and time per step.

Usage (from the repository root, the environment as in BENCHMARKS.md)::

    PYTHONPATH=agentracer_core:integrations:tests python bench/bench_redaction.py [--json OUT]

- Recall: every credential of ``tests/secret_corpus.py`` (45 kinds x 8, each in 7 contexts) through
  :func:`agentracer.recording.redact.redact`; a sample counts as found when none of its needles survives.
- False positives: the share of steps whose text redaction changes, over every step (task, content, tool args
  and results) of the Who&When files in ``../shared/data/who_and_when`` plus generated negatives (UUIDs, git
  SHAs, base64 images, hashes in code, ordinary config); reported for the default detectors and with the
  opt-in entropy and PII detectors.
- Cost: microseconds per call on clean step text (cache off: each text is new) and on text with a secret;
  with ``--baseline OLD/redact.py`` also CPU time per call of that file's ``_redact`` against this one's on
  the same texts, interleaved (Who&When steps, and short agent messages).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "agentracer_core")]

from agentracer.formats import read  # noqa: E402
from agentracer.recording.redact import redactor  # noqa: E402
from agentracer.trace import AnnotatedTrace  # noqa: E402
from secret_corpus import KINDS, negatives, samples  # noqa: E402


def step_texts(folder: Path) -> list[str]:
    """The text of every step of every Who&When file in ``folder`` (one string per step, plus each task)."""
    out = []
    for item in read(folder):
        tr = item.trace if isinstance(item, AnnotatedTrace) else item
        out.append(tr.task or "")
        for s in tr.steps:
            out.append(json.dumps([s.content, s.tool_args, s.tool_result], ensure_ascii=False, default=str))
    return out


def recall(red) -> tuple[dict[str, float], int, int]:
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for s in samples():
        total[s.kind] += 1
        out = red(s.text)
        found[s.kind] += not any(n in out for n in s.needles)
    return {k: found[k] / total[k] for k in total}, sum(found.values()), sum(total.values())


def compare(baseline: Path, ww: list[str], rounds: int = 3) -> dict[str, float]:
    """CPU µs per call, median of ``rounds``, of the baseline's ``_redact`` and this tree's (uncached)."""
    import importlib.util
    import statistics

    from agentracer.recording.redact import _engine

    spec = importlib.util.spec_from_file_location("baseline_redact", baseline)
    old = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(old)  # type: ignore[union-attr]
    new = _engine(False, False)._run
    short = [f"{t} ({i})" for i in range(1000) for t in
             ("The solver computed 42 apples.", "VERDICT: ACCEPT", "Plan: 1) look up the price; 2) multiply by 3.")]
    times: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, fn in (("baseline", old._redact), ("new", new)):
            for label, texts in (("whowhen_step", ww), ("short_message", short)):
                t0 = time.process_time()
                for t in texts:
                    fn(t)
                times.setdefault(f"{name}_{label}", []).append((time.process_time() - t0) / len(texts) * 1e6)
    return {k: round(statistics.median(v), 1) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--whowhen", type=Path, default=ROOT.parent / "shared" / "data" / "who_and_when" / "Algorithm-Generated")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--baseline", type=Path, help="an older redact.py to time against (its _redact)")
    args = ap.parse_args()
    ww = step_texts(args.whowhen)
    neg = negatives()
    res: dict[str, object] = {"kinds": len(KINDS)}
    for name, opts in {"default": {}, "entropy": {"entropy": True}, "pii": {"pii": True}}.items():
        red = redactor(**opts)
        per_kind, hit, tot = recall(red)
        fp_ww = sum(red(t) != t for t in ww)
        fp_neg = sum(red(t) != t for t in neg)
        res[name] = {
            "recall": hit / tot, "samples": tot, "missed_kinds": {k: v for k, v in per_kind.items() if v < 1},
            "fp_whowhen": f"{fp_ww}/{len(ww)}", "fp_whowhen_rate": fp_ww / len(ww),
            "fp_generated": f"{fp_neg}/{len(neg)}", "fp_generated_rate": fp_neg / len(neg),
            "fp_all_rate": (fp_ww + fp_neg) / (len(ww) + len(neg)),
        }
        if name == "default":
            res["recall_per_kind"] = per_kind
    red = redactor()
    eng_texts = [f"{t} #{i}" for i, t in enumerate(ww)]  # distinct strings: the LRU cache never hits
    t0 = time.perf_counter()
    for t in eng_texts:
        red(t)
    clean = (time.perf_counter() - t0) / len(eng_texts) * 1e6
    secret = [f"{s.text} #{i}" for i, s in enumerate(samples())]
    t0 = time.perf_counter()
    for t in secret:
        red(t)
    res["us_per_step_whowhen"] = round(clean, 1)
    res["us_per_secret_sample"] = round((time.perf_counter() - t0) / len(secret) * 1e6, 1)
    res["mean_chars_whowhen_step"] = round(sum(map(len, ww)) / len(ww))
    if args.baseline:
        res["cpu_us_per_call"] = compare(args.baseline, ww)
    text = json.dumps(res, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
