#!/usr/bin/env bash
# Build the union-trained embedded parameters of issue 14 (tried, NOT shipped: see BENCHMARKS.md): both profiles
# learn from Who&When Algorithm-Generated plus the generated sources of the leave-one-system-out matrix, each
# trace weighted by its source's size. Writes WORKDIR/params_union.json (never the shipped file); use it with
# `--method embedded:WORKDIR/params_union.json`.
# Usage: bench/rebuild_params.sh [WORKDIR]   (WORKDIR keeps the generated sets; default /tmp/xsys-sources)
# The supervisor set needs a generator with `--system supervisor` (branch gens2 at e7a2e8c); without it the
# set is skipped and the parameters differ.
set -euo pipefail
W=${1:-/tmp/xsys-sources}
PY=${PYTHON:-python}
mkdir -p "$W"
gen() { "$PY" -m agentracer.cli annotate generate "$@" >/dev/null; }
for f in langgraph autogen camel maas; do
  [ -s "$W/$f/annotations.jsonl" ] || gen --framework "$f" --domain math,code,tools --n 40 --seed 7 --out "$W/$f"
done
for s in 7 8; do
  [ -s "$W/team_s$s/annotations.jsonl" ] || gen --framework autogen --domain web,files,multihop --n 30 --seed "$s" --out "$W/team_s$s"
done
# one source of the two seeds; the generator's run ids repeat across seeds, so each gets its seed as suffix
mkdir -p "$W/team"
"$PY" - "$W" <<'PY'
import json, sys
w = sys.argv[1]
with open(f"{w}/team/annotations.jsonl", "w") as out:
    for s in ("s7", "s8"):
        for line in open(f"{w}/team_{s}/annotations.jsonl"):
            d = json.loads(line)
            d["run_id"] += "-" + s
            out.write(json.dumps(d) + "\n")
PY
SUP=()
if [ -s "$W/supervisor_s7/annotations.jsonl" ] || gen --framework langgraph --system supervisor --domain web,files,multihop --n 20 --seed 7 --out "$W/supervisor_s7" 2>/dev/null; then
  SUP=(--framework-data "$W/supervisor_s7/annotations.jsonl::generated: agentracer annotate generate --framework langgraph --system supervisor --domain web,files,multihop --n 20 --seed 7")
fi
G="generated: agentracer annotate generate"
"$PY" -m agentracer.training.embedded_fit --rebuild --union --out "$W/params_union.json" \
  --framework-data "$W/langgraph/annotations.jsonl::$G --framework langgraph --domain math,code,tools --n 40 --seed 7" \
  --framework-data "$W/autogen/annotations.jsonl::$G --framework autogen --domain math,code,tools --n 40 --seed 7" \
  --framework-data "$W/camel/annotations.jsonl::$G --framework camel --domain math,code,tools --n 40 --seed 7" \
  --framework-data "$W/maas/annotations.jsonl::$G --framework maas --domain math,code,tools --n 40 --seed 7" \
  --framework-data "$W/team/annotations.jsonl::$G --framework autogen --domain web,files,multihop --n 30 --seed 7 and --seed 8 (run ids suffixed -s7 / -s8)" \
  "${SUP[@]}"
