"""The report of a long run (more than :data:`agentracer.report.LONG_RECORDS` records): readable, and bounded
in size whatever the number of steps.

- First, the decisive step and the top candidates (and the gold step), each in full with its nested LLM and
  tool calls and a few steps of context around it, the decisive one open.
- Then every top-level step in collapsed lanes, rendered by the page's script 200 rows at a time from one
  compact JSON block (index, lane, kind, number of nested calls, a short preview); a step's body is built when
  it is expanded. Previews shrink as the run grows (:data:`PREVIEW_BUDGET`), so the file stays a few MB at
  100,000 steps; the full text of any step is one ``agentracer show FILE --steps A:B`` away.
- An overview strip drawn on a canvas (one column per step, coloured by agent, the decisive step in red):
  a click opens that step's page.

A URL ending in ``#a<index>`` opens that step (the page's script expands it), so a link can point at any step.
"""

from __future__ import annotations

import json
from typing import Any

from ..recording.redact import redact, redact_value
from ..trace import Attribution, Step, Trace
from . import _e, _head_html, _lanehead, _layout, _row_html, _short

__all__ = ["CONTEXT", "PAGE", "PREVIEW_BUDGET", "render_long"]

PAGE = 200  # rows rendered at a time
CONTEXT = 2  # top-level steps shown in full before and after each candidate
PREVIEW_BUDGET = 3_000_000  # characters of preview text embedded, over all top-level steps

_CSS = """
.focus{margin:12px 24px;background:#fff;border:1px solid #dde1e7;border-radius:6px}
.focus h2,.all h2{font-size:14px;margin:0;padding:8px 10px;border-bottom:1px solid #dde1e7}
.focus .gap{padding:2px 10px;color:#8a93a3;font-size:12px;background:#fafbfc}
.all{margin:0 24px 40px;background:#fff;border:1px solid #dde1e7;border-radius:6px}
#strip{display:block;width:calc(100% - 48px);height:28px;margin:12px 24px 0;background:#fff;border:1px solid #dde1e7;
border-radius:6px;cursor:pointer}.controls span{color:#5a6372}.lazy .more{font-size:12px;color:#5a6372;padding:4px 8px}
"""

_JS = """
(function(){
const D=JSON.parse(document.getElementById('trace-data').textContent);
const S=D.s,A=D.a,C=D.c,K=D.k,PAGE=D.page;
const pos=new Map(S.map((s,j)=>[s[0],j]));
let view=S.map((_,j)=>j),page=0;
const rows=document.getElementById('rows'),info=document.getElementById('pageinfo'),q=document.getElementById('q');
function esc(t){return String(t).replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));}
function badges(s){let b='';if(s[0]===D.dec)b+='<span class="badge dec">decisive</span>';
  if(s[0]===D.gold)b+='<span class="badge gold">gold</span>';
  if(K[s[2]]!=='agent_message')b+='<span class="badge k">'+esc(K[s[2]])+'</span>';
  if(s[3])b+='<span class="badge k">'+s[3]+' call'+(s[3]===1?'':'s')+'</span>';return b;}
function row(j){const s=S[j];let cells='';
  for(let i=0;i<A.length;i++){cells+='<div class="cell">'+(i===s[1]?'<details class="step lazy" data-j="'+j+'"><summary>'
    +badges(s)+esc(s[4]||'(empty)')+'</summary></details>':'')+'</div>';}
  return '<div class="row'+(s[0]===D.dec?' decisive':'')+(s[0]===D.gold?' gold':'')+'" id="a'+s[0]+'" data-step="'+s[0]
    +'"><div class="idx">'+s[0]+'</div>'+cells+'</div>';}
function fill(d){if(d.dataset.done)return;d.dataset.done='1';const s=S[+d.dataset.j];
  let h='<pre>'+esc(s[4]||'')+'</pre><div class="more">';
  if(D.full.includes(s[0]))h+='<a href="#s'+s[0]+'">this step in full, with its calls, above</a>';
  else h+=(s[3]?s[3]+' nested call'+(s[3]===1?'':'s')+' · ':'')+'full text: <code>agentracer show '+esc(D.file)+' --index '
    +D.index+' --steps '+s[0]+':'+(s[0]+1+s[3])+'</code>';
  d.insertAdjacentHTML('beforeend',h+'</div>');}
function render(){const n=Math.max(1,Math.ceil(view.length/PAGE));page=Math.min(Math.max(page,0),n-1);
  rows.innerHTML=view.slice(page*PAGE,(page+1)*PAGE).map(row).join('');
  info.textContent='page '+(page+1)+' of '+n+' · '+view.length+' step(s)';}
rows.addEventListener('toggle',e=>{if(e.target.open)fill(e.target);},true);
function open(idx){if(!pos.has(idx))return;q.value='';view=S.map((_,j)=>j);page=Math.floor(pos.get(idx)/PAGE);render();
  const r=document.getElementById('a'+idx);if(!r)return;const d=r.querySelector('details');fill(d);d.open=true;
  r.scrollIntoView({block:'center'});}
function fromHash(){const m=/^#a(\\d+)$/.exec(location.hash);if(m)open(+m[1]);}
document.getElementById('prev').onclick=()=>{page--;render();};
document.getElementById('next').onclick=()=>{page++;render();};
document.getElementById('go').onchange=e=>open(+e.target.value);
q.addEventListener('input',()=>{const t=q.value.toLowerCase();
  view=S.map((_,j)=>j).filter(j=>!t||(A[S[j][1]]+' '+S[j][4]).toLowerCase().includes(t));page=0;render();});
document.getElementById('jump').onclick=()=>{const d=document.querySelector('.focus .row.decisive');
  if(d){d.scrollIntoView({block:'center'});const s=d.querySelector('details');if(s)s.open=true;}};
const cv=document.getElementById('strip');
function draw(){const w=cv.clientWidth||800,h=cv.clientHeight||28;cv.width=w;cv.height=h;const g=cv.getContext('2d');
  const n=S.length,bw=Math.max(w/n,1);S.forEach((s,j)=>{g.fillStyle=C[s[1]];g.fillRect(Math.floor(j*w/n),4,bw,h-8);});
  [[D.gold,'#2ca02c'],[D.dec,'#d62728']].forEach(([x,c])=>{if(x!==null&&pos.has(x)){g.fillStyle=c;
    g.fillRect(Math.floor(pos.get(x)*w/n)-1,0,Math.max(bw,3),h);}});}
cv.addEventListener('click',e=>{const j=Math.floor(e.offsetX/cv.clientWidth*S.length);if(S[j])open(S[j][0]);});
window.addEventListener('hashchange',fromHash);window.addEventListener('resize',draw);
render();draw();fromHash();
})();
"""


def _redacted(s: Step) -> Step:
    """A redacted copy of one step (the long-run page redacts only what it shows)."""
    return Step.from_dict(redact_value(s.to_dict()))


def _focus(top: list[Any], attribution: Attribution | None, gold: Attribution | None) -> list[tuple[str, int]]:
    """(label, top-level position) of the steps shown in full: the decisive step, the other candidates, gold."""
    where = {s.index: k for k, s in enumerate(top)}
    out: list[tuple[str, int]] = []
    if attribution is not None and attribution.parsed and attribution.step in where:
        out.append(("decisive (predicted)", where[attribution.step]))
    for r, c in enumerate(attribution.candidates if attribution is not None else [], 1):
        if c.get("step") in where and all(p != where[c["step"]] for _, p in out):
            out.append((f"candidate #{r}", where[c["step"]]))
    if gold is not None and gold.step in where and all(p != where[gold.step] for _, p in out):
        out.append(("gold", where[gold.step]))
    return out


def render_long(
    trace: Trace,
    attribution: Attribution | None,
    gold: Attribution | None,
    *,
    title: str | None = None,
    context: dict[str, Any] | None = None,
) -> str:
    """The long-run report of ``trace`` as an HTML string (see the module docstring)."""
    top, agents, color, children = _layout(trace)
    dec = attribution.step if attribution is not None and attribution.parsed else None
    gstep = gold.step if gold is not None else None
    parts: list[str] = []
    _head_html(parts, trace, top, agents, color, attribution, gold, title, context, css=_CSS)

    # the decisive step and the candidates first, in full, with a little context around each
    focus = _focus(top, attribution, gold)
    shown: set[int] = set()
    parts.append(f'<section class="focus lanes" style="--n:{len(agents)}"><h2>Decisive step and top candidates '
                 f"(in full, {CONTEXT} steps of context around each)</h2>")
    _lanehead(parts, agents, color, ' style="position:static"')
    for label, k in focus:
        lo, hi = max(0, k - CONTEXT), min(len(top), k + CONTEXT + 1)
        parts.append(f'<div class="gap">{_e(label)}: step {top[k].index} · steps {top[lo].index}–{top[hi - 1].index}'
                     "</div>")
        for p in range(lo, hi):
            if p in shown:
                continue
            shown.add(p)
            kids = {top[p].index: [_redacted(c) for c in children.get(top[p].index, [])]}
            _row_html(parts, _redacted(top[p]), agents, kids, dec, gstep, attribution, gold)
    if not focus:
        parts.append('<div class="gap">no attribution: every step is listed below</div>')
    parts.append("</section>")
    # open the decisive step
    if dec is not None:
        mark = f'id="s{dec}" '
        for i in range(len(parts) - 1, -1, -1):
            if mark in parts[i] and parts[i].startswith('<div class="row'):
                j = i + 1
                while not parts[j].startswith('<details class="step">'):
                    j += 1
                parts[j] = parts[j].replace('<details class="step">', '<details class="step" open>', 1)
                break

    # every top-level step, collapsed, rendered by the script from compact JSON
    width = max(24, min(160, PREVIEW_BUDGET // max(1, len(top))))
    lane = {a: i for i, a in enumerate(agents)}
    kinds: list[str] = []
    kind_ix: dict[str, int] = {}
    data_steps = []
    for s in top:
        if s.kind not in kind_ix:
            kind_ix[s.kind] = len(kinds)
            kinds.append(s.kind)
        preview = _short(s.content, width) or (f"{s.tool_name}(…)" if s.tool_name else "")
        data_steps.append([s.index, lane.get(s.agent, 0), kind_ix[s.kind], len(children.get(s.index, ())),
                           redact(preview)])
    data = {
        "a": [redact(a) for a in agents], "c": [color[a] for a in agents], "k": [redact(k) for k in kinds], "s": data_steps, "page": PAGE,
        "dec": dec, "gold": gstep, "full": sorted(top[p].index for p in shown),
        "index": (context or {}).get("trace_index", 0), "file": str((context or {}).get("src") or "FILE"),
    }
    blob = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    parts.append('<canvas id="strip" aria-label="overview: one column per step"></canvas>')
    parts.append(
        '<div class="controls"><input id="q" placeholder="filter steps by text or agent"> '
        '<button id="prev">◂ prev</button><button id="next">next ▸</button><span id="pageinfo"></span> '
        '<input id="go" type="number" min="0" placeholder="go to step" style="width:110px"> '
        '<button id="jump">jump to decisive step</button></div>'
    )
    parts.append(f'<section class="all lanes" style="--n:{len(agents)}"><h2>All {len(top)} agent steps '
                 f"(collapsed; expand one to read it)</h2>")
    _lanehead(parts, agents, color)
    parts.append('<div id="rows"></div></section>')
    parts.append(f'<script type="application/json" id="trace-data">{blob}</script>')
    parts.append(f"<script>{_JS}</script></body></html>")
    return "".join(parts)
