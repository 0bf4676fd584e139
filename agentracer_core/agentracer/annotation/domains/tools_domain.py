"""The tools domain: multi-hop lookups over a generated knowledge base, through a lookup tool."""

from __future__ import annotations

import functools
import json
import random
import re
from typing import Any

from .base import Domain, Task, Turn, count_turns, first_turn, task_id_of

__all__ = ["ToolsDomain"]


_SYL = ["ka", "lo", "mi", "ren", "tu", "sa", "vor", "el", "dan", "qui", "zo", "pha", "ril", "mon", "bea", "tor",
        "lin", "gar", "nis", "fel", "ou", "bra", "ste", "val"]
_REL = {
    "person": {"born_in": "city", "works_for": "company"},
    "city": {"mayor": "person", "located_in": "country", "population": "int"},
    "country": {"capital": "city"},
    "company": {"ceo": "person", "headquarters": "city", "founded": "int"},
}


def _name(rng: random.Random, used: set[str], words: int = 1) -> str:
    while True:
        n = " ".join("".join(rng.choice(_SYL) for _ in range(rng.choice((2, 3)))).capitalize() for _ in range(words))
        if n not in used:
            used.add(n)
            return n


@functools.lru_cache(maxsize=4096)
def _tools_plan(text: str) -> tuple[str, list[str]] | None:
    m = re.search(r"Start:\s*(.+)", text)
    rels = re.findall(r"(?m)^\s*\d+[.)]\s*([a-z_]+)\s*$", text)
    return (m.group(1).strip(), rels) if m and rels else None


class ToolsDomain(Domain):
    """Multi-hop lookups in a generated knowledge base: a Planner lists the relations, a Router hands each
    hop to the Searcher (``-> Searcher``), the Searcher calls ``lookup(entity, relation)``, an Analyst
    states the fact it found, and an Answerer gives ``FINAL ANSWER: <value>``."""

    name = "tools"
    agents = ("Planner", "Router", "Searcher", "Analyst", "Answerer")
    roles = {
        "Planner": "List the lookups to make. Reply exactly:\nPlan:\nStart: <entity>\n1. <relation>\n2. ...",
        "Router": "Hand the next lookup to the Searcher. Reply exactly: Hop <n>: -> Searcher: find the <relation> of <entity>.",
        "Searcher": "Call the lookup tool. Reply exactly: CALL lookup(\"<entity>\", \"<relation>\")",
        "Analyst": "State what the last lookup found. Reply exactly: Fact: the <relation> of <entity> is <value>.",
        "Answerer": "Give the final result. Reply exactly: FINAL ANSWER: <value>",
    }
    faults = {
        "Planner": ("dropped_constraint", "fabricated_fact"),
        "Router": ("wrong_handoff",),
        "Searcher": ("wrong_tool_argument",),
        "Analyst": ("fabricated_fact",),
        "Answerer": ("fabricated_fact",),
    }

    def make_task(self, rng: random.Random, size: int) -> Task:
        hops = max(1, round((size - 2) / 3))
        used: set[str] = set()
        n = max(6, hops // 2 + 5)
        ents = {
            "person": [_name(rng, used, 2) for _ in range(n)],
            "city": [_name(rng, used) for _ in range(n)],
            "country": [_name(rng, used) for _ in range(max(3, n // 2))],
            "company": [_name(rng, used) + " " + rng.choice(("Corp", "Labs", "Group", "Works")) for _ in range(n)],
        }
        kb: dict[str, dict[str, Any]] = {}
        for typ, names in ents.items():
            for e in names:
                rels = {}
                for rel, tgt in _REL[typ].items():
                    if tgt == "int":
                        rels[rel] = rng.randint(1000, 99999) if rel == "population" else rng.randint(1890, 2020)
                    else:
                        rels[rel] = rng.choice(ents[tgt])
                kb[e] = {"type": typ, **rels}
        typ = rng.choice(("person", "city", "company"))
        start = rng.choice(ents[typ])
        cur, path = start, []
        for h in range(hops):
            rels = [r for r, tgt in _REL[kb[cur]["type"]].items() if tgt != "int" or h == hops - 1]
            rel = rng.choice(rels)
            path.append(rel)
            cur = kb[cur][rel]
        answer = str(cur)
        q = (f"Start from {start}. Follow these relations in order, one lookup per relation: {', '.join(path)}. "
             "What do you reach? Use the lookup tool; answer with 'FINAL ANSWER: <value>'.")
        return Task(self.name, task_id_of(self.name, q), q, answer, {"start": start, "path": path, "kb": kb})

    def expected_steps(self, task: Task) -> int:
        return 2 + 3 * len(task.data["path"])

    def size_for(self, rng: random.Random) -> int:
        return rng.randint(5, 17)

    def vocabulary(self, task: Task) -> list[str]:
        return sorted(task.data["kb"])

    def tools(self, task: Task) -> dict[str, Any]:
        kb = task.data["kb"]

        def lookup(entity: Any = None, relation: Any = None, *rest: Any) -> str:
            v = kb.get(str(entity), {}).get(str(relation))
            return "NOT FOUND" if v is None or relation == "type" else str(v)

        return {"lookup": lookup}

    def plan(self, task: Task, transcript: list[Turn]) -> tuple[str, list[str]]:
        t = first_turn(transcript, "Planner")
        parsed = _tools_plan(t.text) if t is not None else None
        return parsed if parsed is not None else (task.data["start"], list(task.data["path"]))

    def current(self, task: Task, transcript: list[Turn]) -> str:
        for t in reversed(transcript):
            if t.agent == "Analyst":
                m = re.search(r"Fact: the \w+ of .+? is (.+?)\.?$", t.text.strip())
                if m:
                    return m.group(1).strip()
        return self.plan(task, transcript)[0]

    def next_agent(self, task: Task, transcript: list[Turn]) -> str | None:
        if not transcript:
            return "Planner"
        last = transcript[-1]
        if last.agent == "Answerer":
            return None
        if last.agent == "Planner":
            return "Router" if count_turns(transcript, {"Router"}) < len(self.plan(task, transcript)[1]) else "Answerer"
        if last.agent == "Router":
            m = re.search(r"->\s*([A-Za-z]+)", last.text)
            to = m.group(1) if m else "Searcher"
            return to if to in self.agents and to != "Router" else "Searcher"
        if last.agent == "Searcher":
            return "Analyst"
        if last.agent == "Analyst":
            return "Router" if count_turns(transcript, {"Router"}) < len(self.plan(task, transcript)[1]) else "Answerer"
        return "Router"

    def act(self, agent: str, task: Task, transcript: list[Turn]) -> str:
        if agent == "Planner":
            return "Plan:\nStart: {}\n{}".format(
                task.data["start"], "\n".join(f"{i + 1}. {r}" for i, r in enumerate(task.data["path"])))
        start, rels = self.plan(task, transcript)
        if agent == "Router":
            i = count_turns(transcript, {"Router"})
            rel = rels[i] if i < len(rels) else rels[-1]
            return f"Hop {i + 1}: -> Searcher: find the {rel} of {self.current(task, transcript)}."
        if agent == "Searcher":
            last = next((t for t in reversed(transcript) if t.agent == "Router"), None)
            m = re.search(r"find the (\w+) of (.+?)\.?$", last.text.strip()) if last else None
            if not m:
                return "There is nothing to look up."
            return f'CALL lookup({json.dumps(m.group(2))}, {json.dumps(m.group(1))})'
        if agent == "Analyst":
            last = next((t for t in reversed(transcript) if t.agent == "Searcher" and t.tools), None)
            if last is None:
                return f"Fact: the start is {start}."
            call = last.tools[-1]
            ent = call["args"][0] if call["args"] else "?"
            rel = call["args"][1] if len(call["args"]) > 1 else "?"
            res = call["result"]
            return f"Fact: the {rel} of {ent} is {'unknown' if res == 'NOT FOUND' else res}."
        if agent == "Answerer":
            return f"FINAL ANSWER: {self.current(task, transcript)}"
        return "Nothing to add."


