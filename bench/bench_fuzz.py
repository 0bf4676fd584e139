"""Fuzz every importer with >= 100,000 hypothesis inputs; the only exception allowed out is TraceError.

Run: .venv/bin/python bench/bench_fuzz.py [N]   (writes bench/results/trust-fuzz.md)
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

from agentracer.testing.fuzzing import FUZZ_TARGETS, json_values, shaped_records
from agentracer.trace import TraceError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    counts = {"inputs": 0, "trace_error": 0, "accepted": 0, "calls": 0}
    other: list[str] = []
    text_inputs = st.text(max_size=300) | st.builds(json.dumps, json_values)

    @settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(value=st.one_of(json_values, shaped_records(), text_inputs))
    def fuzz(value) -> None:
        counts["inputs"] += 1
        for name, fn in FUZZ_TARGETS.items():
            counts["calls"] += 1
            try:
                fn(value)
                counts["accepted"] += 1
            except TraceError:
                counts["trace_error"] += 1
            except Exception as e:  # noqa: BLE001 - this is what we are looking for
                other.append(f"{name}: {type(e).__name__}: {e} <- {value!r}"[:500])

    t0 = time.time()
    fuzz()
    dt = time.time() - t0
    print(json.dumps(counts), f"{dt:.0f}s", f"{len(other)} undocumented exceptions")
    for o in other[:20]:
        print(o)
    machine = f"{platform.machine()}, Python {sys.version.split()[0]}, 2-core CPU, no GPU"
    out = Path(__file__).parent / "results" / "trust-fuzz.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        f"Fuzzing the importers ({', '.join(FUZZ_TARGETS)}) with hypothesis: **{counts['inputs']:,} inputs**, "
        f"{counts['calls']:,} importer calls, {counts['trace_error']:,} rejected with TraceError, "
        f"{counts['accepted']:,} accepted, **{len(other)} undocumented exceptions**, {dt:.0f} s. "
        f"Command: `.venv/bin/python bench/bench_fuzz.py {n}`. Machine: {machine}.\n"
    )
    sys.exit(1 if other else 0)


if __name__ == "__main__":
    main()
