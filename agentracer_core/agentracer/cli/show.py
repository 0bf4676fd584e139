"""``agentracer show``: a trace's summary and one page of its steps, fast on any file size.

A ``.jsonl`` file is read in one pass that builds no :class:`~agentracer.trace.Step` (counts per agent and
kind, the traces and their sessions: :func:`agentracer.formats.jsonl.scan_jsonl`), then only the steps of
the page are parsed. Other formats (Who&When, OTLP JSON, folders) are read whole. ``--attribute`` needs the
whole trace and reads it.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from ..trace import AnnotatedTrace, Attribution, Step, Trace, TraceError
from .common import _fail, _pick, _print_attribution, _read, _step_range, _trace_of, console


@dataclass
class TraceView:
    """What ``show`` prints about one trace, whichever way the file was read."""

    header: dict[str, Any]
    counts: dict[str, Counter[str]]
    n_steps: int
    gold: Attribution | None
    rows: Callable[[range], list[Step]]  # the steps at these positions
    whole: Callable[[], Trace]  # the whole trace (for --attribute)

    @property
    def session_id(self) -> str | None:
        meta = self.header.get("metadata")
        sid = meta.get("session_id") if isinstance(meta, dict) else None
        return str(sid) if sid not in (None, "") else None


def _views_jsonl(src: Path) -> list[TraceView]:
    from ..formats.jsonl import load_steps, read_jsonl, scan_jsonl

    entries = scan_jsonl(src)
    views = []
    for k, e in enumerate(entries):
        gold = None
        if e.gold is not None:
            try:
                gold = Attribution.from_dict(e.gold, prefix="annotation.gold.")
            except TraceError:
                gold = None
        views.append(TraceView(
            header=e.header, counts=e.counts, n_steps=e.n_steps, gold=gold,
            rows=lambda r, e=e: load_steps(src, e, r),
            whole=lambda k=k: _trace_of(read_jsonl(src)[k]),
        ))
    return views


def _views_items(items: list[Trace | AnnotatedTrace]) -> list[TraceView]:
    views = []
    for item in items:
        tr = _trace_of(item)
        counts: dict[str, Counter[str]] = {}
        for s in tr.steps:
            counts.setdefault(s.agent, Counter())[s.kind] += 1
        head = {"run_id": tr.run_id, "framework": tr.framework, "outcome": tr.outcome, "task": tr.task,
                "final_answer": tr.final_answer, "metadata": tr.metadata}
        views.append(TraceView(
            header=head, counts=counts, n_steps=len(tr.steps),
            gold=item.gold if isinstance(item, AnnotatedTrace) else None,
            rows=lambda r, tr=tr: [tr.steps[i] for i in r if 0 <= i < len(tr.steps)],
            whole=lambda tr=tr: tr,
        ))
    return views


def read_views(src: Path) -> list[TraceView]:
    """Every trace of ``src`` as a :class:`TraceView`; malformed JSONL lines are skipped and reported."""
    from ..formats.jsonl import SkippedLineWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedLineWarning)
        if src.is_file() and src.suffix == ".jsonl":
            try:
                views = _views_jsonl(src)
            except TraceError as e:
                _fail(str(e))
            if not views:
                _fail(f"{src}: holds no trace")
        else:
            views = _views_items(_read(src))
    skipped = [w for w in caught if issubclass(w.category, SkippedLineWarning)]
    if skipped:
        console.print(f"[yellow]{src}: skipped {len(skipped)} malformed line(s)[/] (first: {skipped[0].message})",
                      soft_wrap=True, highlight=False)
    return views


def _print_sessions(views: list[TraceView], index: int) -> None:
    from ..report.pages import group_by_session

    groups = group_by_session([v.session_id for v in views])
    if not any(sid for sid, _ in groups):
        return
    n_s = sum(1 for sid, _ in groups if sid)
    console.print(f"{len(views)} traces, {n_s} session(s) (pick one with --index):", highlight=False)
    for sid, idx in groups[:20]:
        runs = ", ".join(f"{'>' if i == index else ''}{i}" for i in idx[:12]) + (" …" if len(idx) > 12 else "")
        label = f"session {sid}" if sid else "no session"
        console.print(f"  {label}: {len(idx)} run(s), --index {runs}", soft_wrap=True, highlight=False)
    if len(groups) > 20:
        console.print(f"  … {len(groups) - 20} more", highlight=False)


def show_cli(src: Path, *, width: int, index: int, steps: str | None, limit: int, attribute: bool) -> None:
    """The ``show`` command (see the module docstring)."""
    views = read_views(src)
    v = _pick(views, src, index)  # type: ignore[arg-type]
    h, n = v.header, v.n_steps
    where = ""
    if v.session_id:
        same = [i for i, w in enumerate(views) if w.session_id == v.session_id]
        where = f" · session {v.session_id} (run {same.index(index) + 1} of {len(same)})"
    console.print(f"[bold]trace {index + 1} of {len(views)}[/] · {h.get('run_id')} · {h.get('framework', 'unknown')} · "
                  f"{h.get('outcome', 'unknown')} · {n} steps{where}", soft_wrap=True, highlight=False)
    if len(views) > 1:
        _print_sessions(views, index)
    for agent, kinds in v.counts.items():
        console.print(f"  {agent}: {sum(kinds.values())} (" + ", ".join(f"{k} {c}" for k, c in kinds.most_common())
                      + ")", soft_wrap=True, highlight=False)
    att = None
    if attribute:
        from ..attribution import get_attributor
        from ..attribution.confidence import outcome_guard

        try:
            tr = v.whole()
        except TraceError as e:
            _fail(str(e))
        att = outcome_guard(tr, method="embedded") or get_attributor("embedded").attribute(tr)
    rank = {c["step"]: k + 1 for k, c in enumerate(att.candidates)} if att is not None else {}
    gold = v.gold
    rows = _step_range(steps, limit, n)
    t = Table(title=f"steps {rows.start}..{max(rows.start, rows.stop - 1)} of {n}" if n else "no steps")
    for col in ("step", "agent", "kind", "content"):
        t.add_column(col, overflow="fold")  # names wrap, never cut (an agent's name must stay readable)
    try:
        page = v.rows(rows)
    except TraceError as e:
        _fail(str(e.with_file(str(src)) if not e.file else e))
    for s in page:
        mark = " ★" if gold is not None and gold.step == s.index else ""
        mark += f" #{rank[s.index]}" if s.index in rank else ""
        text = (s.content or (json.dumps(s.tool_args) if s.tool_args is not None else "")).replace("\n", " ")
        indent = "  " if s.parent is not None else ""
        t.add_row(f"{s.index}{mark}", indent + s.agent, s.kind, text[:width])
    console.print(t)
    if rows.stop < n:
        nxt = f"{rows.stop}:{rows.stop + limit}" if limit > 0 else f"{rows.stop}:"
        console.print(f"next page: agentracer show {src} --index {index} --steps {nxt}", soft_wrap=True, highlight=False)
    if h.get("final_answer") is not None:
        console.print(f"[bold]final answer:[/] {str(h['final_answer'])[:300]}", soft_wrap=True, highlight=False)
    if h.get("task"):
        console.print(f"[bold]task:[/] {str(h['task'])[:300]}")
    if gold is not None:
        console.print(f"[bold]gold:[/] agent={gold.agent} step={gold.step} — {(gold.reason or '')[:300]}")
    if att is not None:
        _print_attribution(att, "attribution")
