"""The ``agentracer eval`` table: accuracy beside the floors, the spread and interval, per-subset tables."""

from __future__ import annotations

import math
from typing import Any

from .scoring import CI_METHOD, LENIENT_NOTE

__all__ = ["print_report"]


def _pct(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def print_report(rep: dict[str, Any], console: Any) -> None:
    """Print the accuracy table with the floors beside it, the spread and interval, and per-subset tables."""
    from rich.table import Table

    gt = "w/ G" if rep["with_gt"] else "w/o G"
    t = Table(title=f"{rep['method']} · {gt} · {rep['n']} traces")
    for col in ("method", "agent", "step", "step (lenient*)"):
        # nothing is cut: cells stay on one line while they fit, and fold (never "…") when nothing else does
        t.add_column(col, justify="left" if col == "method" else "right", no_wrap=True, overflow="fold")
    t.add_row(
        f"[bold]{rep['method']}[/]",
        f"[bold]{_pct(rep['agent_accuracy'])}[/]",
        f"[bold]{_pct(rep['step_accuracy'])}[/]",
        _pct(rep["step_accuracy_lenient"]),
    )
    labels = {
        "random": "floor: random (expected)",
        "first-speaker": "floor: first speaker",
        "step-one": "floor: always step 1",
    }
    for key in ("random", "first-speaker", "step-one"):
        fl = rep["floors"][key]
        t.add_row(labels[key], _pct(fl["agent_accuracy"]), _pct(fl["step_accuracy"]), _pct(fl["step_accuracy_lenient"]))
    console.print(t)
    n_folds = len(rep["fold_results"])
    console.print(f"protocol: {rep['protocol']}")
    console.print(
        f"agent {_pct(rep['agent_accuracy_fold_mean'])} ± {_pct(rep['agent_accuracy_fold_std'])} "
        f"(95% CI {_pct(rep['agent_ci95'][0])}-{_pct(rep['agent_ci95'][1])}), "
        f"step {_pct(rep['step_accuracy_fold_mean'])} ± {_pct(rep['step_accuracy_fold_std'])} "
        f"(95% CI {_pct(rep['step_ci95'][0])}-{_pct(rep['step_ci95'][1])}); "
        f"mean ± std over {n_folds} test fold(s)"
    )
    console.print(f"[dim]95% CI: {CI_METHOD}.[/]")
    console.print(f"[dim]* {LENIENT_NOTE}.[/]")
    if rep.get("unparsed"):
        console.print(
            f"[yellow]{rep['unparsed']} prediction(s) unparsed ({rep['attributor_errors']} attributor errors), "
            "scored wrong[/]"
        )
    for dim, groups in rep["per_subset"].items():
        if len(groups) < 2:
            continue
        st = Table(title=f"per {dim}", caption="floor agent: first speaker; floor step: always step 1")
        for col in ("subset", "n", "agent", "step", "floor agent", "floor step"):
            st.add_column(col, justify="left" if col == "subset" else "right", no_wrap=True, overflow="fold")
        for v, g in groups.items():
            st.add_row(
                v,
                str(g["n"]),
                _pct(g["agent_accuracy"]),
                _pct(g["step_accuracy"]),
                _pct(g["floors"]["first-speaker"]["agent_accuracy"]),
                _pct(g["floors"]["step-one"]["step_accuracy"]),
            )
        console.print(st)
