"""The HTML trace report: one self-contained file (no network), for a person to look at a failed run.

A lane per agent (a swimlane timeline), every top-level step expandable with its LLM and tool calls nested
under it, an overview strip of all steps, and the decisive step highlighted with its reason and confidence.
The gold attribution is shown beside the prediction when it is known. Content is redacted and escaped.
A run of more than :data:`LONG_RECORDS` records gets the bounded long-run layout of :mod:`.long`;
:mod:`.pages` writes one page per trace of a file and an index grouped by session (``report --all``).
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from ..recording.redact import redact, redact_any, redacts
from ..trace import AnnotatedTrace, Attribution, Trace

__all__ = ["render_report", "write_report"]

_PALETTE = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948",
    "#ff9da7", "#9c755f", "#bab0ac", "#e15759", "#86bcb6", "#d37295",
]
_PREVIEW = 160
_MAX_BODY = 20000

_CSS = """
*{box-sizing:border-box}body{font:14px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{padding:16px 24px;background:#fff;border-bottom:1px solid #dde1e7}
h1{font-size:18px;margin:0 0 6px}.meta{color:#5a6372;font-size:13px}.meta b{color:#1d2330}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-top:12px}
.card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:10px 14px;min-width:260px;max-width:560px}
.card.pred{border-left:5px solid #d62728}.card.gold{border-left:5px solid #2ca02c}
.card h2{font-size:13px;margin:0 0 4px;text-transform:uppercase;letter-spacing:.04em;color:#5a6372}
.verdict{font-size:12px;margin-left:6px;padding:1px 6px;border-radius:8px;background:#eef}
.legend{display:flex;gap:10px;flex-wrap:wrap;margin-top:10px;font-size:12px}
.legend span{display:inline-flex;align-items:center;gap:4px}.sw{width:10px;height:10px;border-radius:2px;display:inline-block}
.strip{display:flex;flex-wrap:wrap;gap:1px;margin:12px 24px 0;padding:6px;background:#fff;border:1px solid #dde1e7;border-radius:6px}
.strip a{display:block;width:9px;height:18px;border-radius:1px;opacity:.85}
.strip a.decisive{outline:2px solid #d62728;outline-offset:1px;opacity:1}.strip a.goldmark{outline:2px solid #2ca02c}
.controls{margin:10px 24px;display:flex;gap:8px;align-items:center;font-size:13px}
.controls input{padding:4px 8px;border:1px solid #c8ced8;border-radius:4px;width:240px}
.controls button{padding:4px 10px;border:1px solid #c8ced8;background:#fff;border-radius:4px;cursor:pointer}
.lanes{margin:0 24px 40px;background:#fff;border:1px solid #dde1e7;border-radius:6px}
.lanehead,.row{display:grid;grid-template-columns:56px repeat(var(--n),minmax(0,1fr))}
.lanehead{position:sticky;top:0;background:#fff;border-bottom:1px solid #dde1e7;z-index:2;font-weight:600;font-size:12px}
.lanehead div{padding:6px;border-left:1px solid #eef0f3;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.row{border-bottom:1px solid #f0f2f5}.row>.idx{padding:6px;color:#8a93a3;font-size:12px;text-align:right}
.row>.cell{border-left:1px solid #f0f2f5;min-width:0}
.row.decisive{background:#fff1f1}.row.gold{box-shadow:inset 4px 0 0 #2ca02c}.row.hidden{display:none}
details.step{margin:3px 4px;border-radius:5px;border:1px solid #e3e6ea;background:#fff}
details.step>summary{cursor:pointer;padding:4px 6px;list-style:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-size:12.5px}
details.step[open]>summary{white-space:normal}
details.step>summary::before{content:'▸ ';color:#8a93a3}details.step[open]>summary::before{content:'▾ '}
.row.decisive details.step{border:2px solid #d62728}
.badge{display:inline-block;font-size:11px;padding:0 5px;border-radius:6px;margin-right:4px;color:#fff}
.badge.dec{background:#d62728}.badge.gold{background:#2ca02c}.badge.k{background:#8a93a3}
pre{white-space:pre-wrap;word-break:break-word;margin:0;padding:6px 8px;font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;background:#fafbfc;border-top:1px solid #eef0f3;max-height:420px;overflow:auto}
.child{margin:4px 8px 6px 16px;border-left:3px solid #c8ced8;padding-left:6px;font-size:12px}
.cands{font-size:12.5px;margin-top:4px}.cands ol{margin:2px 0 0 18px;padding:0}.note{font-size:12.5px;margin-top:4px;color:#8a5a00}
.child .k{font-weight:600}.reason{margin:4px 8px;padding:6px 8px;background:#fff1f1;border-radius:4px;font-size:12.5px}
"""

_JS = """
(function(){
  const q=document.getElementById('q');
  function apply(){const t=q.value.toLowerCase();document.querySelectorAll('.row[data-text]').forEach(r=>{
    r.classList.toggle('hidden', t && !r.dataset.text.includes(t));});}
  q.addEventListener('input',apply);
  document.getElementById('expand').onclick=()=>document.querySelectorAll('details.step').forEach(d=>d.open=true);
  document.getElementById('collapse').onclick=()=>document.querySelectorAll('details.step').forEach(d=>d.open=false);
  document.getElementById('jump').onclick=()=>{const d=document.querySelector('.row.decisive');
    if(d){d.scrollIntoView({block:'center'});const s=d.querySelector('details');if(s)s.open=true;}};
  document.querySelectorAll('.strip a').forEach(a=>a.addEventListener('click',e=>{
    const r=document.getElementById(a.getAttribute('href').slice(1));if(r){const s=r.querySelector('details');if(s)s.open=true;}}));
})();
"""


def _e(text: Any) -> str:
    return html.escape(redact(text if isinstance(text, str) else json.dumps(text, ensure_ascii=False, default=str)))


def _short(text: str, n: int = _PREVIEW) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= n else t[: n - 1] + "…"


def _body(text: str) -> str:
    if len(text) > _MAX_BODY:
        text = text[:_MAX_BODY] + f"\n… [{len(text) - _MAX_BODY} more characters]"
    return text


def _att_card(att: Attribution | None, title: str, cls: str, gold: Attribution | None = None) -> str:
    if att is None:
        return ""
    if att.metadata.get("abstained"):
        return f'<div class="card {cls}"><h2>{title}</h2>no blame: {_e(att.reason)}</div>'
    if not att.parsed:
        return f'<div class="card {cls}"><h2>{title}</h2>the tracer answer could not be parsed</div>'
    conf = f" · confidence {att.confidence:.2f}" if att.confidence is not None else ""
    verdict = ""
    if gold is not None:
        a_ok, s_ok = att.matches(gold)
        verdict = (
            f'<span class="verdict">agent {"✓" if a_ok else "✗"} · step {"✓" if s_ok else "✗"}</span>'
        )
    method = f" · {html.escape(att.method)}" if att.method else ""
    extra = ""
    if att.candidates:
        items = "".join(
            f'<li>step {_e(c.get("step"))} · {_e(c.get("agent"))} · {100 * (c.get("probability") or 0):.0f}%</li>'
            for c in att.candidates
        )
        extra += f'<div class="cands">Top-{len(att.candidates)} candidates:<ol>{items}</ol></div>'
    if att.metadata.get("note"):
        extra += f'<div class="note">{_e(att.metadata["note"])}</div>'
    return (
        f'<div class="card {cls}" id="{cls}-card"><h2>{title}{method}</h2>'
        f'<div>agent <b class="att-agent">{_e(att.agent or "?")}</b> · step '
        f'<b class="att-step">{att.step if att.step is not None else "?"}</b>{conf}{verdict}</div>'
        f'<div class="reason-text">{_e(att.reason or "")}</div>{extra}</div>'
    )


def _row_html(
    parts: list[str], s: Any, agents: list[str], children: dict[int, list[Any]], dec: int | None,
    gstep: int | None, attribution: Attribution | None, gold: Attribution | None,
) -> None:
    """Append one top-level step's row (a cell per lane, the step expandable with its nested calls)."""
    lane = agents.index(s.agent) if s.agent in agents else 0
    cls = ["row"]
    if s.index == dec:
        cls.append("decisive")
    if s.index == gstep:
        cls.append("gold")
    search = html.escape(redact(f"{s.agent} {_short(s.content, 400)}").lower(), quote=True)
    parts.append(f'<div class="{" ".join(cls)}" id="s{s.index}" data-step="{s.index}" data-agent="{_e(s.agent)}" '
                 f'data-text="{search}"><div class="idx">{s.index}</div>')
    for i in range(len(agents)):
        parts.append('<div class="cell">')
        if i == lane:
            badges = ""
            if s.index == dec:
                badges += '<span class="badge dec">decisive</span>'
            if s.index == gstep:
                badges += '<span class="badge gold">gold</span>'
            if s.kind != "agent_message":
                badges += f'<span class="badge k">{_e(s.kind)}</span>'
            kids = children.get(s.index, [])
            if kids:
                badges += f'<span class="badge k">{len(kids)} call{"s" if len(kids) != 1 else ""}</span>'
            preview = _short(s.content) or (f"{s.tool_name}(…)" if s.tool_name else "(empty)")
            parts.append(f'<details class="step"><summary>{badges}{_e(preview)}</summary>')
            if s.index == dec and attribution is not None and attribution.reason:
                parts.append(f'<div class="reason"><b>Why:</b> {_e(attribution.reason)}</div>')
            if s.index == gstep and gold is not None and gold.reason:
                parts.append(f'<div class="reason" style="background:#eefaf0"><b>Gold:</b> {_e(gold.reason)}</div>')
            parts.append(f"<pre>{_e(_body(s.content or ''))}</pre>")
            for c in kids:
                label = f"chat {c.metadata.get('model', '')}" if c.kind == "llm_call" else (
                    f"tool {c.tool_name}" if c.tool_name else c.kind)
                detail = c.content
                if c.kind == "tool_call" and c.tool_args is not None:
                    detail = f"args: {json.dumps(c.tool_args, ensure_ascii=False, default=str)}\nresult: {c.content}"
                parts.append(
                    f'<div class="child" data-kind="{_e(c.kind)}"><span class="k">#{c.index} {_e(label)}</span>'
                    f"<pre>{_e(_body(detail or ''))}</pre></div>"
                )
            parts.append("</details>")
        parts.append("</div>")
    parts.append("</div>")


LONG_RECORDS = 2000  # above this many records a trace gets the long-run layout (:mod:`.long`)


def _layout(trace: Trace) -> tuple[list[Any], list[str], dict[str, str], dict[int, list[Any]]]:
    """(top-level steps, lanes in order of first appearance, lane colours, nested calls under each top step)."""
    top = trace.agent_steps()
    agents: list[str] = []
    seen: set[str] = set()
    for s in top:
        if s.agent not in seen:
            seen.add(s.agent)
            agents.append(s.agent)
    used = {s.agent for s in trace.steps}
    for a in trace.agents:
        if a not in seen and a in used:
            seen.add(a)
            agents.append(a)
    if not agents:
        agents = ["(no agent)"]
    color = {a: _PALETTE[i % len(_PALETTE)] for i, a in enumerate(agents)}
    children: dict[int, list[Any]] = {}
    for s in trace.steps:
        if s.parent is not None:
            root = s.parent
            while trace.steps[root].parent is not None:
                root = trace.steps[root].parent  # type: ignore[assignment]
            children.setdefault(root, []).append(s)
    return top, agents, color, children


def _head_html(
    parts: list[str], trace: Trace, top: list[Any], agents: list[str], color: dict[str, str],
    attribution: Attribution | None, gold: Attribution | None, title: str | None, context: dict[str, Any] | None,
    css: str = "",
) -> None:
    """Append the document head and the page header: run facts, session, prediction and gold cards, legend."""
    parts.append("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>")
    parts.append("<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; "
                 "script-src 'unsafe-inline'\">")
    parts.append(f"<title>{_e(title or ('AgenTracer · ' + trace.run_id))}</title><style>{_CSS}{css}</style></head><body>")
    parts.append("<header>")
    parts.append(f"<h1>{_e(title or 'AgenTracer report')}</h1>")
    ctx = context or {}
    where = ""
    if ctx.get("index_href"):
        where += f' · <a href="{html.escape(str(ctx["index_href"]), quote=True)}">all traces</a>'
    sid = ctx.get("session") or trace.metadata.get("session_id")
    if sid:
        run = f" (run {ctx['run']} of {ctx['runs']})" if ctx.get("runs") else ""
        where += f' · session <b id="session">{_e(str(sid))}</b>{run}'
    parts.append(
        f'<div class="meta">run <b>{_e(trace.run_id)}</b> · framework <b>{_e(trace.framework)}</b> · outcome '
        f'<b id="outcome">{_e(trace.outcome)}</b> · <b id="nsteps">{len(top)}</b> agent steps '
        f"({len(trace.steps)} records) · {len(agents)} agents{where}</div>"
    )
    if trace.task:
        parts.append(f'<div class="meta" style="margin-top:6px"><b>Task:</b> {_e(_short(trace.task, 600))}</div>')
    if trace.ground_truth:
        parts.append(f'<div class="meta"><b>Ground truth:</b> {_e(_short(trace.ground_truth, 300))}</div>')
    if trace.final_answer:
        parts.append(f'<div class="meta"><b>Final answer:</b> {_e(_short(trace.final_answer, 300))}</div>')
    parts.append('<div class="cards">')
    parts.append(_att_card(attribution, "Decisive error (predicted)", "pred", gold))
    parts.append(_att_card(gold, "Gold attribution", "gold"))
    parts.append("</div><div class='legend'>")
    for a in agents:
        parts.append(f'<span><i class="sw" style="background:{color[a]}"></i>{_e(a)}</span>')
    parts.append("</div></header>")


def _lanehead(parts: list[str], agents: list[str], color: dict[str, str], extra: str = "") -> None:
    parts.append(f'<div class="lanehead"{extra}><div>step</div>')
    for a in agents:
        parts.append(f'<div style="border-top:3px solid {color[a]}">{_e(a)}</div>')
    parts.append("</div>")


def render_report(
    item: Trace | AnnotatedTrace,
    attribution: Attribution | None = None,
    *,
    title: str | None = None,
    context: dict[str, Any] | None = None,
) -> str:
    """The report as an HTML string. ``attribution`` is the prediction to highlight (None: none).

    ``context`` places the trace among others: ``session`` (its session id), ``run``/``runs`` (its place in
    that session), ``index_href`` (a link back to the index page of ``report --all``), ``trace_index`` and
    ``src`` (the trace's place in its file, for the page's ``agentracer show`` hints). A trace of more than
    :data:`LONG_RECORDS` records gets the long-run layout of :mod:`.long` (bounded size, steps on demand)."""
    trace = item.trace if isinstance(item, AnnotatedTrace) else item
    gold = item.gold if isinstance(item, AnnotatedTrace) else None
    if len(trace.steps) > LONG_RECORDS:
        from .long import render_long

        return render_long(trace, attribution, gold, title=title, context=context)
    top, agents, color, children = _layout(trace)
    dec = attribution.step if attribution is not None and attribution.parsed else None
    gstep = gold.step if gold is not None else None

    parts: list[str] = []
    _head_html(parts, trace, top, agents, color, attribution, gold, title, context)
    parts.append('<nav class="strip" aria-label="overview">')
    for s in top:
        cls = " ".join(c for c in ("decisive" if s.index == dec else "", "goldmark" if s.index == gstep else "") if c)
        parts.append(
            f'<a href="#s{s.index}" class="{cls}" title="step {s.index} · {_e(s.agent)}" '
            f'style="background:{color.get(s.agent, "#999")}"></a>'
        )
    parts.append("</nav>")
    parts.append(
        '<div class="controls"><input id="q" placeholder="filter steps by text or agent"> '
        '<button id="expand">expand all</button><button id="collapse">collapse all</button>'
        '<button id="jump">jump to decisive step</button></div>'
    )
    parts.append(f'<main class="lanes" style="--n:{len(agents)}">')
    _lanehead(parts, agents, color)
    for s in top:
        _row_html(parts, s, agents, children, dec, gstep, attribution, gold)
    parts.append("</main>")
    parts.append(f"<script>{_JS}</script></body></html>")
    return "".join(parts)


def _attribute(trace: Trace, method: str) -> Attribution:
    from ..attribution import get_attributor
    from ..attribution.confidence import outcome_guard

    # a successful run is not blamed (its card says so); see agentracer.attribution.confidence
    return outcome_guard(trace, method=method) or get_attributor(method).attribute(trace)


@redacts("item", "attribution")
def _render_whole(item: Trace | AnnotatedTrace, method: str | None, attribution: Attribution | None,
                  context: dict[str, Any] | None) -> str:
    trace = item.trace if isinstance(item, AnnotatedTrace) else item
    if attribution is None and method:
        attribution = _attribute(trace, method)
    return render_report(item, attribution, context=context)


def write_report(
    item: Trace | AnnotatedTrace,
    out: str | Path,
    *,
    method: str | None = "embedded",
    attribution: Attribution | None = None,
    context: dict[str, Any] | None = None,
) -> Path:
    """Attribute ``item`` with ``method`` (unless ``attribution`` is given) and write the report to ``out``
    (``context``: see :func:`render_report`). Every string written is redacted.

    A trace of up to :data:`LONG_RECORDS` records is redacted whole first (and attributed redacted). A longer
    one is attributed as it is (as ``agentracer attribute`` does) and its long-run page redacts what it shows:
    the steps in full, the previews, the names and the attribution; copying a 100,000-step trace to redact text
    the page never shows would cost more than the rest of the report."""
    trace = item.trace if isinstance(item, AnnotatedTrace) else item
    if len(trace.steps) <= LONG_RECORDS:
        text = _render_whole(item, method, attribution, context)
    else:
        from .long import render_long

        if attribution is None and method:
            attribution = _attribute(trace, method)
        gold = item.gold if isinstance(item, AnnotatedTrace) else None
        text = render_long(trace, redact_any(attribution), redact_any(gold), context=context)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return out
