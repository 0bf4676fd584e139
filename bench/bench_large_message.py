"""Time a run pays for one very large message (issue 19): a run of one agent step whose LLM call gets a
prompt of SIZE bytes and answers SIZE bytes, recorded with the default redaction, against the same run with a
100-byte message. Reports the median added time without a sink (the recorder's work: redaction, copying, the
call key) and with a JSONL sink (plus writing 4 copies of the message to disk), and one first redaction of
such a text (windowed path, recording/longtext.py) against the plain engine over the whole text.

Kinds of text: ``prose`` (default; a seeded mix of words with about one e-mail, URL or card number per KB,
not periodic), ``periodic`` (the ~1 KB chunk repeated of the earlier figures), ``json`` (JSON-like records:
many ``:`` separators, so keyword names are the anchors), ``base64`` (one blob: a single token run, which no
window can narrow). Each run gets a fresh text object (the redactor remembers long texts it has seen).

    .venv/bin/python bench/bench_large_message.py [--mb 5] [--repeat 5] [--kind prose|periodic|json|base64]
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from agentracer import Recorder
from agentracer.recording.redact import _engine, redact

_WORDS = ["the", "planner", "asked", "solver", "to", "check", "invoice", "totals", "for", "march", "and", "april",
          "then", "verifier", "said", "the", "sum", "was", "wrong", "because", "two", "lines", "repeat"]


def text(n: int, kind: str = "prose", seed: int = 0) -> str:
    """``n`` characters of ``kind`` text (see the module docstring)."""
    rng = random.Random(seed)
    if kind == "periodic":  # the text of the earlier figures: one ~1 KB chunk repeated
        chunk = ("The planner asked the solver to check the invoice totals for march and april. " * 12)[:950]
        chunk += f" contact bob@example.com, card 4111 1111 1111 1111. {seed}"
        return (chunk * (n // len(chunk) + 1))[:n]
    if kind == "base64":
        return base64.b64encode(rng.randbytes(n * 3 // 4 + 3)).decode()[:n]
    out, size = [], 0
    while size < n:
        if kind == "json":
            w = (f'{{"id": {rng.randrange(10**6)}, "name": "{rng.choice(_WORDS)}", "total": {rng.random():.4f}, '
                 f'"note": "{rng.choice(_WORDS)} {rng.choice(_WORDS)}"}},')
        else:
            r = rng.random()
            # about one e-mail, URL or card number per kilobyte, as the earlier periodic text had
            w = (rng.choice(_WORDS) if r > 0.006 else f"bob{rng.randrange(999)}@example.com" if r > 0.003
                 else f"https://example.com/doc/{rng.randrange(10**6)}" if r > 0.0015 else "4111 1111 1111 1111.")
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:n]


def one_run(rec: Recorder, body: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one recorded run with ``body`` as every text."""
    t0, c0 = time.perf_counter(), time.process_time()
    with rec.run("task"), rec.step("agent", input=body) as h:
        rec.begin_llm("m", messages=[{"role": "user", "content": body}]).end(body)
        h.set(content=body)
    return time.perf_counter() - t0, time.process_time() - c0


def _added(rec: Recorder, bodies: list[str], small: str) -> tuple[float, float]:
    """Median (wall, CPU) seconds a run with one of ``bodies`` takes more than one with ``small``."""
    one_run(rec, small)
    smalls = [one_run(rec, small) for _ in range(len(bodies))]
    bigs = [one_run(rec, b) for b in bodies]  # a fresh text object each run: nothing remembered
    return tuple(statistics.median(b[i] for b in bigs) - statistics.median(s[i] for s in smalls) for i in (0, 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--kind", default="prose", choices=("prose", "json", "base64", "periodic"))
    ap.add_argument("--plain", action="store_true", help="also time the plain engine on the whole text (slow)")
    args = ap.parse_args()
    n = int(args.mb * 1_000_000)
    bodies = [text(n, args.kind, seed=i) for i in range(args.repeat)]
    small = text(100)
    no_sink = _added(Recorder(), bodies, small)
    with tempfile.TemporaryDirectory() as d:
        with_sink = _added(Recorder(sink=Path(d) / "s.jsonl"), [b + " " for b in bodies], small)
    reds = [_time(redact, b + ".") for b in bodies]
    t_red = tuple(statistics.median(r[i] for r in reds) for i in (0, 1))
    machine = f"{platform.machine()} Python {sys.version.split()[0]}, 2-core shared CPU"
    load = "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    print(f"{args.mb:g} MB {args.kind} message (input, prompt, output and content: 4 copies of it) on {machine}, "
          f"{load}, median of {args.repeat}:")
    print(f"  added per run, no sink: {1000 * no_sink[0]:.1f} ms wall, {1000 * no_sink[1]:.1f} ms CPU; "
          f"with a JSONL sink: {1000 * with_sink[0]:.1f} ms wall, {1000 * with_sink[1]:.1f} ms CPU")
    print(f"  one first redact() of the message (windowed): {t_red[0] * 1000:.1f} ms wall, {t_red[1] * 1000:.1f} ms CPU")
    if args.plain:
        t_plain = _time(_engine(False, False)._run, bodies[0] + "!")
        print(f"  the plain engine over the whole message: {t_plain[0] * 1000:.1f} ms wall, "
              f"{t_plain[1] * 1000:.1f} ms CPU")


def _time(fn, arg) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    fn(arg)
    return time.perf_counter() - t0, time.process_time() - c0


if __name__ == "__main__":
    main()
