"""Rebuilding the embedded attributor's parameters (``embedded_params.json``).

**The shipped file** comes from ``bench/rebuild_params.sh`` (issue 14): the default profile learns from Who&When
Algorithm-Generated plus seven generated systems *seen as transcripts* (``--union``;
:func:`agentracer.formats.whowhen.as_transcript`), every source weighted alike (:data:`SHIPPED_ALPHA`); the
``framework`` profile from Who&When plus the same sets as recorded plus the labelled failures of the simulated
refinement pipelines (:data:`SIMULATED_SET`), every trace weighted alike (:data:`SHIPPED_FRAMEWORK_ALPHA`). The
script names each generating command, so the sets (and the file) can be made again.

This module's own defaults are smaller: without ``--framework-data`` it generates :data:`GENERATED_SETS` (the
four frameworks' task runs, :data:`FRAMEWORK_SET`) on the spot; :data:`TEAM_SET` is the orchestrator-led
MagenticOne team, passed with ``--framework-data``. Without ``--union`` the default profile learns from Who&When
only; with ``--no-framework-profile`` nothing is generated. One command::

    python -m agentracer.training.embedded_fit --rebuild [--data DIR ...] [--framework-data PATH ...] \\
        [--union] [--no-simulated] [--no-framework-profile] [--keep-framework-profile PARAMS] [--out PATH]

Training needs numpy (``pip install 'agentracer[embedded]'``); the learner is
:func:`agentracer.attribution.listwise.train_params`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from ..attribution.embedded import DEFAULT_PARAMS
from ..attribution.listwise import train_params
from ..trace import AnnotatedTrace

__all__ = ["FRAMEWORK_SET", "GENERATED_SETS", "SHIPPED_ALPHA", "SHIPPED_FRAMEWORK_ALPHA", "SIMULATED_SET", "TEAM_SET", "main", "rebuild", "shared_data_dir", "simulated_set"]

_DEFAULT_DATA = ("who_and_when/Algorithm-Generated",)
# the generated set the framework profile learns from when no --framework-data is given
FRAMEWORK_SET: dict[str, Any] = {"framework": "all", "domain": "math,code,tools", "n": 25, "seed": 1}  # the shipped params' domains
# ... and the failures of the simulated refinement pipelines (agentracer.samples.simulated) of one seed (46 of its 80
# runs fail): few enough that one simulator's three flaws do not outweigh the generated runs. The refinement
# benchmark runs seeds 0-4 with task prefix "t" (none of its questions is among these)
# the orchestrator-led team (AutoGen MagenticOneGroupChat, web / file / multi-hop tasks; about 2 in 3 runs labelled)
TEAM_SET: dict[str, Any] = {"framework": "autogen", "domain": "web,files,multihop", "n": 20, "seed": 1}
# the team set is opt-in here (--framework-data); bench/rebuild_params.sh passes it and the other systems
GENERATED_SETS: tuple[dict[str, Any], ...] = (FRAMEWORK_SET,)
# the per-source weighting the shipped file is trained with. The default profile: 1 (every source counts the
# same, so Who&When's 126 transcripts and each generated system weigh alike). The framework profile: 0 (every
# trace counts the same): with 1 it blames the opening plan on the hand-made team trace of tests/test_confidence.py
# (issue 14, BENCHMARKS.md)
SHIPPED_ALPHA = 1.0
SHIPPED_FRAMEWORK_ALPHA = 0.0
SIMULATED_SET: dict[str, Any] = {"seeds": (100, 101), "n_tasks": 40, "prefix": "train"}


def shared_data_dir() -> Path:
    """The project's benchmark data folder: ``$AGENTRACER_DATA``, else the nearest ``../shared/data`` above
    this package (the repository's sibling ``shared/``), else ``../shared/data`` relative to the cwd."""
    env = os.environ.get("AGENTRACER_DATA")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        cand = parent.parent / "shared" / "data"
        if cand.is_dir():
            return cand
    return Path("../shared/data")


def rebuild(
    data: list[str | Path] | None = None,
    out: str | Path | None = None,
    framework_data: list[str | Path] | None = None,
    framework_profile: bool = True,
    simulated: bool = True,
    union: bool = False,
    alpha: float | None = None,
    keep_framework_profile: str | Path | None = None,
    framework_alpha: float | None = None,
) -> Path:
    """Retrain and write the params: the default profile on ``data`` (default: Who&When Algorithm-Generated in
    ``../shared/data``), or with ``union`` on ``data`` plus the generated sets; the framework profile (unless
    ``framework_profile`` is false) on ``data`` plus ``framework_data`` (default: the :data:`GENERATED_SETS`
    generated now, which needs the framework extras; ``PATH::NAME`` names a set in ``trained_on``) plus, if
    ``simulated``, the labelled failures of the simulated refinement pipelines (:data:`SIMULATED_SET`).
    ``alpha`` is the per-source weighting exponent (default :data:`SHIPPED_ALPHA`, what the shipped file uses).
    With ``union`` the generated runs join the default profile *as transcripts*
    (:func:`~agentracer.formats.whowhen.as_transcript`), the form of the traces that profile answers.
    ``keep_framework_profile`` (a parameter file) copies that file's framework profile instead of retraining it;
    ``framework_alpha`` is that profile's weighting exponent (default: ``alpha``)."""
    a = SHIPPED_ALPHA if alpha is None else alpha
    fa = (SHIPPED_FRAMEWORK_ALPHA if alpha is None else a) if framework_alpha is None else framework_alpha
    from ..formats import load_annotated
    from ..formats.whowhen import as_transcript

    paths = [Path(p) for p in data] if data else [shared_data_dir() / d for d in _DEFAULT_DATA]
    items: list[AnnotatedTrace] = []
    for p in paths:
        items.extend(load_annotated(p))
    if not items:
        raise ValueError(f"no annotated traces found in {', '.join(map(str, paths))}")
    names = [_display(p) for p in paths]
    if not framework_profile:
        if union:
            raise ValueError("--union needs the generated sets: leave out --no-framework-profile")
        params = train_params(items, sources=names, alpha=a)
    else:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="agentracer-gen-") as tmp:
            if framework_data:
                gpaths, gnames = _labelled(framework_data)
            else:
                gpaths = [_generate_set(Path(tmp) / f"set{k}", spec) for k, spec in enumerate(GENERATED_SETS)]
                gnames = [_generated_name(spec) for spec in GENERATED_SETS]
            gen: list[AnnotatedTrace] = []
            for p in gpaths:
                gen.extend(load_annotated(p))
            if not gen:
                raise ValueError(f"no annotated traces found in {', '.join(map(str, gpaths))}")
            sim = _simulated_set() if simulated and not keep_framework_profile else []
        if union:  # the default profile reads imported transcripts: it learns the generated runs as transcripts
            seen = [as_transcript(g) for g in gen]
            params = train_params(items + seen, sources=names + [f"{g} (as transcripts)" for g in gnames], alpha=a)
        else:
            params = train_params(items, sources=names, alpha=a)
        if keep_framework_profile:
            old = json.loads(Path(keep_framework_profile).read_text(encoding="utf-8"))
            if not (old.get("profiles") or {}).get("framework"):
                raise ValueError(f"{keep_framework_profile} has no framework profile to keep")
            params["profiles"] = {"framework": old["profiles"]["framework"]}
        else:
            prof = train_params(items + gen + sim, sources=names + gnames + ([_simulated_name()] if sim else []),
                                alpha=fa)
            params["profiles"] = {"framework": {k: prof[k] for k in ("modes", "trained_on", "n_traces")}}
    out = Path(out) if out else DEFAULT_PARAMS
    out.write_text(json.dumps(params, indent=1) + "\n", encoding="utf-8")
    return out


def _labelled(framework_data: list[str | Path]) -> tuple[list[Path], list[str]]:
    """Paths and the names recorded in ``trained_on``: ``PATH::NAME`` names a set (e.g. by the command that
    generated it), a bare ``PATH`` is named by its path."""
    paths, names = [], []
    for entry in map(str, framework_data):
        path, sep, name = entry.partition("::")
        paths.append(Path(path))
        names.append(name.strip() if sep and name.strip() else _display(Path(path)))
    return paths, names


def _generated_name(spec: dict[str, Any]) -> str:
    return "generated: agentracer annotate generate " + " ".join(f"--{k} {v}" for k, v in spec.items())


def _simulated_name() -> str:
    return "simulated: agentracer.samples.simulated.labelled_failures(" + ", ".join(
        f"{k}={v!r}" for k, v in SIMULATED_SET.items()) + ")"


def simulated_set() -> list[AnnotatedTrace]:
    """The labelled failures of :data:`SIMULATED_SET` that :func:`rebuild` adds to the framework profile
    (needs the MaAS and LangGraph plugins)."""
    from ..samples.simulated import labelled_failures

    return labelled_failures(range(*SIMULATED_SET["seeds"]), SIMULATED_SET["n_tasks"], prefix=SIMULATED_SET["prefix"])


def _simulated_set() -> list[AnnotatedTrace]:
    """:func:`simulated_set`, or a :class:`ValueError` that says how to rebuild without it."""
    try:
        runs = simulated_set()
    except Exception as e:  # a plugin missing, or a crash in a simulated run
        raise ValueError(f"running the simulated pipelines failed ({type(e).__name__}: {e}); pass --no-simulated") from e
    if not runs:
        raise ValueError("the simulated pipelines produced no failed run; pass --no-simulated")
    return runs


def _generate_set(tmp: Path, spec: dict[str, Any]) -> Path:
    """Generate and label one of :data:`GENERATED_SETS` in ``tmp``; the path of its annotations."""
    import io

    from rich.console import Console

    from ..annotation.cli import generate_cli

    out = tmp / "generated"
    hint = "pass --framework-data with a generated set, or --no-framework-profile"
    try:
        generate_cli(
            out=out, base_url=None, model=None, ray=False, ray_address=None, build=False,
            console=Console(file=io.StringIO()), **spec,
        )
    except Exception as e:  # typer.Exit after a printed error (a framework extra missing), or a crash
        raise ValueError(f"generating the framework set failed ({type(e).__name__}: {e}); {hint}") from e
    ann = out / "annotations.jsonl"
    if not ann.is_file():
        raise ValueError(f"generating the framework set produced no annotations; {hint}")
    return ann


def _display(p: Path) -> str:
    parts = p.resolve().parts
    if "data" in parts:
        return "/".join(parts[parts.index("data") :])
    return str(p)


def main(argv: list[str] | None = None) -> int:
    """``python -m agentracer.training.embedded_fit --rebuild [--data DIR ...] [--out PATH]``."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m agentracer.training.embedded_fit", description=main.__doc__)
    ap.add_argument("--rebuild", action="store_true", help="retrain and write the parameter file")
    ap.add_argument("--data", action="append", help="annotated traces to learn from (repeatable)")
    ap.add_argument(
        "--framework-data", action="append",
        help="generated traces to learn from beside --data (repeatable; PATH or 'PATH::NAME', NAME recorded in "
        "trained_on, e.g. the command that generated it; default: generate GENERATED_SETS now)",
    )
    ap.add_argument("--no-framework-profile", action="store_true", help="write the default profile only")
    ap.add_argument("--union", action="store_true",
                    help="train the default profile on the union of --data and the generated sets too")
    ap.add_argument(
        "--no-simulated", action="store_true",
        help="leave the simulated refinement pipelines' failures out of the framework profile",
    )
    ap.add_argument("--source-weighting", type=float, default=None, metavar="ALPHA",
                    help=f"per-source weighting exponent: each trace weighs n_source**-ALPHA (default {SHIPPED_ALPHA}, "
                    "the shipped file's; 1 = every source counts the same)")
    ap.add_argument("--framework-source-weighting", type=float, default=None, metavar="ALPHA",
                    help="the framework profile's exponent (default: --source-weighting if given, else "
                    f"{SHIPPED_FRAMEWORK_ALPHA}, the shipped file's)")
    ap.add_argument("--keep-framework-profile", metavar="PARAMS",
                    help="copy the framework profile of this parameter file (e.g. the shipped one) instead of retraining it")
    ap.add_argument("--out", help=f"where to write (default: the shipped {DEFAULT_PARAMS.name} in agentracer.attribution)")
    args = ap.parse_args(argv)
    if not args.rebuild:
        ap.print_help()
        return 0
    try:
        path = rebuild(args.data, args.out, args.framework_data, not args.no_framework_profile, not args.no_simulated,
                       union=args.union, alpha=args.source_weighting,
                       keep_framework_profile=args.keep_framework_profile,
                       framework_alpha=args.framework_source_weighting)
    except (ValueError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    p = json.loads(path.read_text(encoding="utf-8"))
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    for name, prof in [("default", p), *(p.get("profiles") or {}).items()]:
        print(f" profile {name}: {prof['n_traces']} traces from {', '.join(prof['trained_on'])}")
        for mode, m in prof["modes"].items():
            print(
                f"  {mode}: step l2={m['step']['l2']} (inner-CV accuracy {m['step']['inner_cv_accuracy']}), "
                f"agent l2={m['agent']['l2']} (inner-CV accuracy {m['agent']['inner_cv_accuracy']})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
