"""The task families of the orchestrator-led team (:mod:`.team_domain`): web lookup with distractor pages
(``web``), file/table reading (``files``) and multi-hop facts over the web (``multihop``).

Each builds a small world per task (pages or files, with distractors and noisy tools), the question, the
gold answer and the lead's plan; the world is a pure function of the task, so replays see the same one.
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any

from .base import Task, task_id_of
from .team_domain import TeamDomain

__all__ = ["FilesDomain", "MultiHopDomain", "WebDomain"]

_SYL = ["ka", "lo", "mi", "ren", "tu", "sa", "vor", "el", "dan", "qui", "zo", "pha", "ril", "mon", "bea", "tor",
        "lin", "gar", "nis", "fel", "ou", "bra", "ste", "val"]
_SITES = ("en.wikipedia.org/wiki", "www.citypedia.net/page", "data.worldfacts.org/entry")
_PRE = ("We are working to address the following user request:\n\n{q}\n\nTo answer this request we have assembled "
        "the following team:\n\n{team}", "Task ledger.\nRequest: {q}\n\nTeam members:\n{team}",
        "Here is the request and who can help.\n{q}\n\nThe team:\n{team}")
_VERBS = ("Look up", "Find", "Get", "Retrieve", "Determine")
_KEYS = (("2020 population", "2010 population", "town"), ("elevation in metres", "prominence in metres", "peak"),
         ("employees in 2023", "employees in 2019", "firm"))
_AGG_Q = {"sum": ("sum", "total"), "max": ("maximum", "largest"), "min": ("minimum", "smallest")}


def _name(rng: random.Random, used: set[str]) -> str:
    while True:
        n = "".join(rng.choice(_SYL) for _ in range(rng.choice((2, 3)))).capitalize()
        if n not in used:
            used.add(n)
            return n


def _h(*parts: Any) -> int:
    return int(hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_")


class _Ledger(TeamDomain):
    """Shared plan writing and sizing for the three families."""

    def plan_text(self, task: Task) -> str:
        st = task.data["style"]
        names = st["names"]
        verb = _VERBS[st["w"]["plan"] % len(_VERBS)]
        lines = [f"{i + 1}. {verb} the {k} of {t} — {names[r]}." for i, (k, t, r) in enumerate(task.data["items"])]
        n = len(lines)
        if task.data.get("agg"):
            word = _AGG_Q[task.data["agg"]][st["w"]["plan"] % 2]
            lines.append(f"{n + 1}. Ask {names['C']} for a script computing the {word} of the collected values; "
                         f"{names['T']} runs it.")
            n += 1
        lines.append(f"{n + 1}. Report the result as the final answer.")
        facts = "\n".join(f"- {f}" for f in task.data["facts"])
        pre = _PRE[st["w"]["plan"] % len(_PRE)].format(q=task.question, team=self.team_description(task))
        return f"{pre}\n\nFacts we know:\n{facts}\n\nPlan:\n" + "\n".join(lines)

    def expected_steps(self, task: Task) -> int:
        n = 2 + (4 if task.data.get("agg") else 0)
        for it in task.data["noise"]:
            n += 6 if it.get("web") else 4
            n += 2 * sum(1 for k in ("empty", "flaky", "locked", "paged") if it.get(k))
        return n

    def size_for(self, rng: random.Random) -> int:
        return rng.randint(30, 80)

    def recall(self, task: Task, key: str, target: str) -> str:
        if task.data.get("agg"):
            return str(1000 + _h(task.task_id, key, target) % 90000)
        vocab = [v for v in task.data["vocab"] if not v.startswith("http")]
        return vocab[_h(task.task_id, target) % len(vocab)]

    def finish(self, task_data: dict[str, Any], rng: random.Random, q: str, answer: str) -> Task:
        task_data["style"] = self.style(rng)
        return Task(self.name, task_id_of(self.name, q), q, answer, task_data)


class WebDomain(_Ledger):
    """Web lookup with distractor pages: one number per place (same-name places elsewhere, two figures per
    page), aggregated by the coder's script."""

    name = "web"

    def make_task(self, rng: random.Random, size: int) -> Task:
        k = max(3, min(10, round((size - 8) / 6.8)))
        key, other, noun = rng.choice(_KEYS)
        agg = rng.choice(("sum", "max", "min"))
        used: set[str] = set()
        regions = [_name(rng, used) for _ in range(k + 3)]
        site = rng.choice(_SITES)
        pages: dict[str, dict[str, str]] = {}
        items, noise, ents, vals = [], [], [], []
        for i in range(k):
            nm = _name(rng, used)
            reg, alt = regions[i], rng.choice([r for r in regions if r != regions[i]])
            v, v2, d = rng.randint(800, 99000), rng.randint(800, 99000), rng.randint(800, 99000)
            main = f"https://{site}/{nm}_({reg})"
            pages[main] = {"title": f"{nm} ({reg})", "text": f"{nm} is a {noun} in {reg}.\n{key}: {v}\n{other}: {v2}"}
            dist = f"https://{site}/{nm}_({alt})"
            pages[dist] = {"title": f"{nm} ({alt})", "text": f"{nm} is a {noun} in {alt}.\n{key}: {d}\n{other}: {v2 + 7}"}
            lst = f"https://{site}/List_of_{noun}s_named_{nm}"
            pages[lst] = {"title": f"List of {noun}s named {nm}", "text": f"{nm} may refer to places in {reg} or {alt}."}
            target = f"{nm} ({reg})"
            items.append((key, target, "W"))
            noise.append({"web": True, "name": nm, "urls": rng.sample([main, dist, lst], 3), "main": main,
                          "empty": rng.random() < 0.3, "flaky": rng.random() < 0.2})
            ents.append(target)
            vals.append(v)
        answer = {"sum": sum, "max": max, "min": min}[agg](vals)
        word = _AGG_Q[agg][rng.randrange(2)]
        q = rng.choice((f"Using the web, find the {key} of each of these {noun}s: {'; '.join(ents)}. What is the {word}?",
                        f"What is the {word} of the {key} figures of {'; '.join(ents)}? Look each one up online.",
                        f"I need the {word} {key} among: {'; '.join(ents)}. Check the web pages, not memory."))
        facts = [f"The request names {k} {noun}s, each with its region in brackets.",
                 f"Several {noun}s share a name, so the region matters.", f"The figure wanted is the {key}."]
        data = {"items": items, "noise": noise, "pages": pages, "agg": agg, "facts": facts,
                "vocab": sorted(pages) + ents}
        return self.finish(data, rng, q, str(answer))

    def _entity(self, task: Task, text: str) -> dict[str, Any] | None:
        for it in task.data["noise"]:
            if re.search(rf"\b{re.escape(it['name'])}\b", text, re.I):
                return it
        return None

    def search(self, task: Task, query: str, nth: int) -> str:
        it = self._entity(task, query)
        if it is None or (it["empty"] and nth == 0 and not query.startswith(it["name"])):
            return f"No results found for '{query}'."
        pages = task.data["pages"]
        return "\n".join(f"{i + 1}. {pages[u]['title']} — {u}" for i, u in enumerate(it["urls"]))

    def visit(self, task: Task, url: str, nth: int) -> str:
        page = task.data["pages"].get(url)
        if page is None:
            return f"Error 404: {url} not found."
        it = next((x for x in task.data["noise"] if x["main"] == url), None)
        if it is not None and it["flaky"] and nth == 0:
            return "Error 503: the server did not respond in time."
        if it is not None and it.get("stale") and nth == (1 if it["flaky"] else 0):
            return f"# {page['title']}\n(archived copy of {2008 + _h(url) % 9}; figures may be out of date)\n" + \
                re.sub(r"(?m)^([^:\n]+): (\d+)$", lambda m: f"{m.group(1)}: {int(m.group(2)) + 1 + _h(url, m.group(1)) % 900}",
                       page["text"])
        return f"# {page['title']}\n{page['text']}"

    def choose_url(self, task: Task, results: str, target: str) -> str | None:
        for line in results.splitlines():
            m = re.match(r"\d+\. (.+) — (\S+)$", line)
            if m and m.group(1) == target:
                return m.group(2)
        return None


class FilesDomain(_Ledger):
    """File/table reading: one cell per CSV file (a similar row and a forecast column beside the right ones,
    long files paged, a locked file), aggregated by the coder's script."""

    name = "files"

    def make_task(self, rng: random.Random, size: int) -> Task:
        k = max(4, min(16, round((size - 8) / 4.8)))
        rows = ["North", "North-East", "South", "South-West", "East", "West", "Central", "Coast", "Highlands",
                "Islands", "Metro", "Rural"]
        col = rng.choice(("Q3 revenue", "units sold", "net margin", "returns"))
        agg = rng.choice(("sum", "max", "min"))
        files: dict[str, list[list[str]]] = {}
        items, noise, vals, targets = [], [], [], []
        for i in range(k):
            f = f"{rng.choice(('sales', 'report', 'ledger', 'export'))}_{2015 + i}_{rng.randint(10, 99)}.csv"
            n_rows = rng.randint(5, 12)
            rr = rng.sample(rows, n_rows)
            header = ["Region", f"{col} (forecast)", col, "notes"]
            table = [header] + [[r, str(rng.randint(100, 9999)), str(rng.randint(100, 9999)), rng.choice(("", "est.", "rev."))]
                                for r in rr]
            files[f] = table
            pick = rng.randrange(n_rows)
            row = rr[pick]
            items.append((col, f"{row} ({f})", "F"))
            vals.append(int(table[pick + 1][2]))
            targets.append(f"{row} in {f}")
            noise.append({"file": f, "locked": rng.random() < 0.2, "paged": n_rows > 8})
        answer = {"sum": sum, "max": max, "min": min}[agg](vals)
        word = _AGG_Q[agg][rng.randrange(2)]
        q = rng.choice((f"The attached files hold regional figures. Take the '{col}' value for {'; '.join(targets)}. "
                        f"What is the {word}?",
                        f"From the local CSV files, read '{col}' for: {'; '.join(targets)}, and give the {word}."))
        facts = [f"There are {k} CSV files in the working directory.", f"The column wanted is '{col}', not its forecast.",
                 "Region names are similar (e.g. North and North-East)."]
        data = {"items": items, "noise": noise, "files": files, "agg": agg, "facts": facts,
                "vocab": sorted(files) + rows}
        return self.finish(data, rng, q, str(answer))

    def open_file(self, task: Task, path: str, nth: int, page: int) -> str:
        table = task.data["files"].get(path)
        if table is None:
            return f"Error: no such file: {path}"
        it = next(x for x in task.data["noise"] if x["file"] == path)
        if it["locked"] and nth == 0 and page == 0:
            return f"Error: {path} is locked by another process; try again."
        body = table[1:]
        lines = [",".join(table[0])]
        if len(body) > 8:
            part = body[:8] if page == 0 else body[8:]
            lines += [",".join(r) for r in part]
            lines.append(f"[rows 1-8 of {len(body)}; call page_down() to see the rest]" if page == 0
                         else f"[rows 9-{len(body)} of {len(body)}]")
        else:
            lines += [",".join(r) for r in body]
        return "\n".join(lines)

    def read_value(self, task: Task, page: str, key: str, target: str) -> str:
        row = re.sub(r"\s*\([^()]*\)$", "", target)
        header = next((ln.split(",") for ln in page.splitlines() if ln.startswith("Region,")), None)
        if header is None or key not in header:
            return "unknown"
        j = header.index(key)
        for ln in page.splitlines():
            cells = ln.split(",")
            if cells[0] == row and len(cells) > j:
                return cells[j]
        return "unknown"


_REL = {
    "person": {"birthplace": "city", "employer": "company"},
    "city": {"mayor": "person", "country": "country"},
    "country": {"capital": "city"},
    "company": {"chief executive": "person", "headquarters": "city"},
}


class MultiHopDomain(WebDomain):
    """Multi-hop facts over the web: each hop's entity is the previous hop's answer; every entity has a page
    (and a stale fan-wiki copy with old values), so a wrong hop leads on to wrong pages, not to a dead end."""

    name = "multihop"

    def make_task(self, rng: random.Random, size: int) -> Task:
        hops = max(4, min(11, round((size - 2) / 6.6)))
        used: set[str] = set()
        n = hops + 6
        ents = {"person": [_name(rng, used) + " " + _name(rng, used) for _ in range(n)],
                "city": [_name(rng, used) for _ in range(n)], "country": [_name(rng, used) for _ in range(4)],
                "company": [_name(rng, used) + rng.choice((" Corp", " Labs", " Group")) for _ in range(n)]}
        kb = {e: {"type": t, **{r: rng.choice(ents[tg]) for r, tg in _REL[t].items()},
                  **{f"former {r}": rng.choice(ents[tg]) for r, tg in _REL[t].items()}}
              for t, names in ents.items() for e in names}
        start = rng.choice(ents[rng.choice(("person", "city", "company"))])
        cur, path = start, []
        for _ in range(hops):
            rel = rng.choice(list(_REL[kb[cur]["type"]]))
            path.append(rel)
            cur = kb[cur][rel]
        site = rng.choice(_SITES)
        pages: dict[str, dict[str, str]] = {}
        for e, d in kb.items():
            body = "\n".join(f"{r}: {v}" for r, v in d.items() if r != "type")
            pages[f"https://{site}/{_slug(e)}"] = {"title": e, "text": f"{e} ({d['type']}).\n{body}"}
            stale = "\n".join(f"{r}: {d['former ' + r]}" for r in _REL[d["type"]])
            pages[f"https://fans.{site.split('/')[0]}/{_slug(e)}"] = {"title": f"{e} (fan wiki)", "text": stale}
        items = [(rel, start if i == 0 else f"the result of step {i}", "W") for i, rel in enumerate(path)]
        noise = [{"web": True, "empty": rng.random() < 0.25, "flaky": rng.random() < 0.15} for _ in path]
        chain = " → ".join(path)
        q = rng.choice((f"Start from {start} and follow, one lookup each: {chain}. What do you reach?",
                        f"Beginning at {start}, look up in turn the {', then the '.join(path)}. Which entity is the result?"))
        facts = [f"The starting point is {start}.", f"There are {hops} hops to follow.",
                 "Fan wikis may carry outdated values."]
        data = {"items": items, "noise": noise, "pages": pages, "agg": None, "facts": facts, "kb_seed": 0,
                "vocab": sorted(pages) + sorted(kb), "flaky_urls": [], "path": path}
        return self.finish(data, rng, q, cur)

    def search(self, task: Task, query: str, nth: int) -> str:
        pages = task.data["pages"]
        hits = [u for u, p in pages.items() if re.search(rf"\b{re.escape(p['title'].split(' (')[0])}\b", query, re.I)]
        if not hits:
            return f"No results found for '{query}'."
        if nth == 0 and _h(task.task_id, query) % 4 == 0 and not query[:1].isupper():
            return f"No results found for '{query}'."
        hits.sort(key=lambda u: _h(task.task_id, u))
        return "\n".join(f"{i + 1}. {pages[u]['title']} — {u}" for i, u in enumerate(hits[:6]))

    def visit(self, task: Task, url: str, nth: int) -> str:
        page = task.data["pages"].get(url)
        if page is None:
            return f"Error 404: {url} not found."
        if nth == 0 and _h(task.task_id, url) % 7 == 0:
            return "Error 503: the server did not respond in time."
        return f"# {page['title']}\n{page['text']}"
