"""``report --all``: one report page per trace of a file, and an index page linking them, grouped by session.

The runs of one thread or session (``metadata["session_id"]``, e.g. the turns of a LangGraph checkpointer
thread) are listed together, in file order, with their outcome, size and the decisive step; each page says
which session it belongs to and which run of it it is, and links back to the index.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

from ..recording.redact import redact
from ..trace import AnnotatedTrace, Attribution, Trace
from . import _CSS, _e, write_report

__all__ = ["group_by_session", "session_of", "write_all"]


def session_of(trace: Trace) -> str | None:
    """The thread or session ``trace`` belongs to (``metadata["session_id"]``), or None."""
    sid = trace.metadata.get("session_id")
    return None if sid in (None, "") else str(sid)


def group_by_session(session_ids: list[str | None]) -> list[tuple[str | None, list[int]]]:
    """Trace positions grouped by session id, sessions in order of first appearance; a trace without a
    session (``None``) is a group of its own."""
    groups: dict[str, list[int]] = {}
    out: list[tuple[str | None, list[int]]] = []
    for i, sid in enumerate(session_ids):
        if sid is None:
            out.append((None, [i]))
        elif str(sid) in groups:
            groups[str(sid)].append(i)
        else:
            groups[str(sid)] = [i]
            out.append((str(sid), groups[str(sid)]))
    return out


def _attribute(trace: Trace, method: str | None) -> Attribution | None:
    if not method:
        return None
    from ..attribution import get_attributor
    from ..attribution.confidence import outcome_guard

    return outcome_guard(trace, method=method) or get_attributor(method).attribute(trace)


def write_all(items: list[Trace | AnnotatedTrace], out: str | Path, *, method: str | None = "embedded",
              src: str | None = None) -> Path:
    """Write ``out`` (an index page) and, beside it, ``<stem>-<k>.html`` for each trace ``k``; return ``out``.
    ``src``: the file the traces came from (named in the pages' ``agentracer show`` hints)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    traces = [i.trace if isinstance(i, AnnotatedTrace) else i for i in items]
    groups = group_by_session([session_of(t) for t in traces])
    place: dict[int, tuple[str | None, int, int]] = {}
    for sid, idx in groups:
        for r, i in enumerate(idx, 1):
            place[i] = (sid, r, len(idx))
    width = len(str(len(items) - 1))
    rows: dict[int, str] = {}
    for k, item in enumerate(items):
        tr = traces[k]
        page = out.with_name(f"{out.stem}-{k:0{width}d}.html")
        att = _attribute(tr, method)
        sid, r, m = place[k]
        ctx: dict[str, Any] = {"index_href": out.name, "trace_index": k, "src": src}
        if sid:
            ctx.update(session=sid, run=r, runs=m)
        write_report(item, page, method=None, attribution=att, context=ctx)
        verdict = "-"
        if att is not None and att.metadata.get("abstained"):
            verdict = "no blame"
        elif att is not None and att.parsed:
            verdict = f"{html.escape(redact(att.agent or '?'))} · step {att.step}"
        rows[k] = (f'<tr><td>{k}</td><td><a href="{html.escape(page.name, quote=True)}">{html.escape(redact(tr.run_id))}'
                   f"</a></td><td>{_e(tr.outcome)}</td><td>{len(tr.steps)}</td><td>{verdict}</td></tr>")
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">",
             f"<title>AgenTracer · {len(items)} traces</title><style>{_CSS}"
             "table{border-collapse:collapse;background:#fff;margin:8px 24px}td,th{padding:4px 10px;"
             "border-bottom:1px solid #eef0f3;text-align:left;font-size:13px}h2{font-size:14px;margin:16px 24px 0}"
             "</style></head><body>",
             f"<header><h1>AgenTracer · {len(items)} traces</h1><div class='meta'>"
             f"{sum(1 for s, _ in groups if s)} session(s); runs of one session are listed together</div></header>"]
    head = "<tr><th>#</th><th>run</th><th>outcome</th><th>steps</th><th>decisive (predicted)</th></tr>"
    for sid, idx in groups:
        title = f"session {html.escape(redact(sid))} · {len(idx)} run(s)" if sid else "no session"
        parts.append(f'<h2 class="session" data-runs="{len(idx)}">{title}</h2><table>{head}')
        parts.extend(rows[i] for i in idx)
        parts.append("</table>")
    parts.append("</body></html>")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text("".join(parts), encoding="utf-8")
    os.replace(tmp, out)
    return out
