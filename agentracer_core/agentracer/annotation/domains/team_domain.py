"""Orchestrator-led team domains: a lead that writes a plan and hands work to web, file, code and terminal workers.

The shape of a Magentic-One-style team: the orchestrator opens with a task ledger (team description, facts,
a numbered plan), then alternates with one worker at a time, each instruction addressed to a worker
(``@Name``, ``Next speaker: Name``, ``-> Name``...). Workers act through tools that can return nothing, a
distractor page or an error; the correct agents recover (a broader query, a retry, the next page), so a run
is long (30-80 steps) and most slips are not decisive. Decisive errors can sit in a worker's action (a wrong
URL or file), a worker's reading of a result (a wrong number), the plan (a dropped item, a flipped
aggregate) or a handoff (a coder asked to look something up answers from memory, and the lead trusts it).

Agent names, role prompts, team descriptions and the wording of every message vary per task (seeded), so a
cue cannot key on one system's boilerplate. :meth:`TeamDomain.bind` gives the per-task view (its agent names).
The task families (web lookup, file/table reading, multi-hop facts) are in :mod:`.team_tasks`.
"""

from __future__ import annotations

import ast
import copy
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from .base import Domain, Task, Turn

__all__ = ["ROLES", "TeamDomain", "TeamState"]

ROLES = ("O", "W", "F", "C", "T")  # orchestrator, web surfer, file surfer, coder, terminal
_NAMES = {
    "O": ("Orchestrator", "Lead", "Coordinator", "Manager", "Conductor", "TeamLead"),
    "W": ("WebSurfer", "Browser", "Researcher", "WebAgent", "Navigator", "SearchAgent"),
    "F": ("FileSurfer", "FileReader", "DocReader", "Archivist", "FileAgent", "DataReader"),
    "C": ("Coder", "Programmer", "Developer", "Engineer", "Scripter", "PyAgent"),
    "T": ("ComputerTerminal", "Terminal", "Executor", "Shell", "Runner", "Sandbox"),
}
_DESC = {
    "W": ("A helpful assistant with access to a web browser. Ask it to perform web searches, open pages, and "
          "interact with content (clicking links, scrolling the viewport).",
          "Browses the internet: searches, opens result pages and reads them.",
          "An agent that can search the web and summarise the pages it visits."),
    "F": ("An agent that can handle local files: open them, page through them and read tables.",
          "Reads documents and spreadsheets from the working directory.",
          "A file assistant: opens CSV, PDF and text files and reports what they contain."),
    "C": ("A helpful and general-purpose AI assistant that has strong language skills, Python skills, and Linux "
          "command line skills. It writes code blocks for the terminal to run.",
          "Writes Python scripts to compute or transform data.",
          "A programmer agent; it answers with a code block when computation is needed."),
    "T": ("A computer terminal that performs no other action than running Python scripts (provided to it quoted "
          "in ```python code blocks), or sh shell scripts.",
          "Executes the code blocks it is given and returns their output.",
          "A sandboxed shell that runs scripts and reports stdout and exit codes."),
}
_HANDOFF = ("@{a} ", "Next speaker: {a}. ", "Handing off to {a}: ", "-> {a}: ", "Route to {a}. ")
_SEARCH = ("please search the web for \"{q}\".", "run a web search for \"{q}\" and list the results.",
           "search for \"{q}\" and tell me what comes up.")
_OPEN = ("open the result about {t} and load the page.", "open the page that matches {t} exactly.",
         "click through to the page for {t}.")
_OPENF = ("open the file {f}.", "please open {f} and show its contents.", "load {f} so we can read the table.")
_PAGE = ("scroll down in {f} to see the remaining rows.", "page down in {f}; the row we need is further down.")
_READ = ("report the {k} of {t} as stated there.", "tell me the {k} of {t} from what you see.",
         "read off the {k} of {t}.")
_CODE = ("write Python that prints the {agg} of these values: {vals}.",
         "please write a short script computing the {agg} of {vals}.")
_RUN = ("run the code block above and report its output.", "execute the script the coder just wrote.")
_REPORT = ("According to the page, the {k} of {t} is {v}.", "I read it: the {k} of {t} is {v}.",
           "Done. The {k} of {t} is {v}.", "The page shows that the {k} of {t} is {v}.")
_FINAL = ("All the information is collected. FINAL ANSWER: {v}", "We have everything we need.\nFINAL ANSWER: {v}",
          "The request is satisfied. FINAL ANSWER: {v}")
_AGG_WORDS = {"sum": "sum", "total": "sum", "maximum": "max", "largest": "max", "minimum": "min", "smallest": "min"}
_REPORT_RE = re.compile(r"the ([^\n]+?) of ([^\n]+?) (?:is|was|=) ([^\n]+?)\.?\s*$", re.M)
_PLAN_RE = re.compile(r"^\s*\d+[.)]\s+\w+(?: \w+)? the ([^\n]+?) of ([^\n]+?) (?:—|--|-) (\w+)\.?\s*$", re.M)
_QUOTED = re.compile(r"\"([^\"]+)\"")
_PREV = re.compile(r"the (?:result|answer) of step (\d+)")
# a lead's quality check that rejects the last report (only leads whose task style sets "verify" write it)
_REJECT = re.compile(r"^Quality check failed\b")
_STALE_MARK = "(archived copy"
_REJECT_TEXT = "Quality check failed: that figure comes from an archived copy, not the current page. "


@dataclass
class TeamState:
    """Where the team stands, replayed from the transcript: the plan, the item in hand, its phase, the values."""

    items: list[tuple[str, str, str]] = field(default_factory=list)  # (key, target, worker name)
    agg: str | None = None
    cur: int = 0
    phase: str = "find"  # find | open | more | read  (lookups); code | run | done (aggregation)
    attempt: int = 0
    values: list[str] = field(default_factory=list)
    output: str | None = None
    instr: tuple[str, str] | None = None  # (kind, addressee) of the lead's last instruction
    planned: bool = False


class TeamDomain(Domain):
    """Base of the orchestrator-led team domains (see the module docstring); subclasses build tasks and worlds."""

    orchestrated = True
    role_faults: dict[str, tuple[str, ...]] = {
        "O": ("dropped_constraint", "fabricated_fact", "wrong_handoff", "inverted_condition"),
        "W": ("wrong_tool_argument", "fabricated_fact", "off_by_one"),
        "F": ("wrong_tool_argument", "fabricated_fact", "off_by_one"),
        "C": ("off_by_one", "wrong_return_value", "dropped_constraint"),
        "T": (),
    }

    # -- per-task view
    def style(self, rng: random.Random) -> dict[str, Any]:
        """The names, descriptions, wording and fault mix of one task (stored in ``task.data``)."""
        names = {r: rng.choice(_NAMES[r]) for r in ROLES}
        mix = {r: rng.uniform(0.2, 1.8) for r in ("O", "W", "F", "C")}
        return {"names": names, "desc": {r: rng.randrange(len(_DESC[r])) for r in _DESC}, "mix": mix,
                "w": {k: rng.randrange(64) for k in ("handoff", "search", "open", "openf", "page", "read", "code",
                                                     "run", "report", "final", "plan")}}

    def bind(self, task: Task) -> TeamDomain:
        """This domain with ``task``'s agent names, roles and faults (what a run of that task uses)."""
        d = copy.copy(self)
        st = task.data["style"]
        names = st["names"]
        d.agents = tuple(names[r] for r in ROLES)
        d.roles = {names[r]: self.role_prompt(r, task) for r in ROLES}
        d.faults = {names[r]: self.role_faults[r] for r in ROLES}
        return d

    def role_prompt(self, role: str, task: Task) -> str:
        st = task.data["style"]
        if role == "O":
            return st.get("lead_prompt") or \
                "You lead the team: write a plan, then address one member per message and collect their results."
        return _DESC[role][st["desc"][role]]

    def team_description(self, task: Task) -> str:
        st = task.data["style"]
        return "\n".join(f"{st['names'][r]}: {_DESC[r][st['desc'][r]]}" for r in ("W", "F", "C", "T"))

    def who(self, task: Task, role: str) -> str:
        """The agent name of ``role`` in ``task``."""
        return task.data["style"]["names"][role]

    def role_of(self, task: Task, agent: str) -> str:
        return {v: k for k, v in task.data["style"]["names"].items()}.get(agent, "?")

    def fault_weight(self, task: Task, agent: str) -> float:
        """How much more (or less) often than average ``agent`` slips in this task (the varied fault mix)."""
        return float(task.data["style"]["mix"].get(self.role_of(task, agent), 0.0))

    def pick(self, task: Task, pool: tuple[str, ...], slot: str, salt: int = 0) -> str:
        return pool[(task.data["style"]["w"][slot] + salt) % len(pool)]

    # -- subclass hooks
    def plan_text(self, task: Task) -> str:
        raise NotImplementedError

    def search(self, task: Task, query: str, nth: int) -> str:
        return "No results found."

    def visit(self, task: Task, url: str, nth: int) -> str:
        return "Error 404: page not found."

    def open_file(self, task: Task, path: str, nth: int, page: int) -> str:
        return f"Error: no such file {path}"

    def choose_url(self, task: Task, results: str, target: str) -> str | None:
        return None

    def read_value(self, task: Task, page: str, key: str, target: str) -> str:
        m = re.search(rf"(?m)^{re.escape(key)}: (.+)$", page)
        return m.group(1).strip() if m else "unknown"

    def recall(self, task: Task, key: str, target: str) -> str:
        """What an agent without the tool 'remembers' (a plausible wrong value)."""
        return "unknown"

    # -- the state, replayed from the transcript
    def state(self, task: Task, transcript: list[Turn]) -> TeamState:
        st = TeamState()
        lead = self.who(task, "O")
        for t in transcript:
            if t.agent == lead:
                if not st.planned:
                    st.planned = True
                    st.items = [(k, tg, w) for k, tg, w in _PLAN_RE.findall(t.text)]
                    m = re.search(r"\b(sum|total|maximum|largest|minimum|smallest)\b", t.text)
                    st.agg = _AGG_WORDS[m.group(1)] if m and task.data.get("agg") else None
                    continue
                if _REJECT.match(t.text) and st.values and 0 < st.cur <= len(st.items):
                    st.values.pop()  # the check sent the last item back: read it again from a fresh page
                    st.cur, st.phase, st.attempt = st.cur - 1, "open", 0
                st.instr = (self.kind_of(self.unnamed(task, t.text)), self.addressee(task, t.text) or "")
                continue
            self._advance(task, st, t)
        return st

    def _advance(self, task: Task, st: TeamState, t: Turn) -> None:
        if st.cur < len(st.items):
            reps = _REPORT_RE.findall(t.text)
            if reps:
                st.values.append(reps[-1][2].strip())
                st.cur, st.phase, st.attempt = st.cur + 1, "find", 0
                return
            for call in t.tools:
                res = str(call["result"])
                bad = res.startswith(("Error", "No results"))
                if call["name"] == "web_search":
                    st.phase, st.attempt = ("find", st.attempt + 1) if bad else ("open", 0)
                elif call["name"] == "visit_page":
                    st.phase, st.attempt = ("open", st.attempt + 1) if bad else ("read", 0)
                elif call["name"] in ("open_file", "page_down"):
                    more = "page_down" in res and call["name"] == "open_file"
                    st.phase, st.attempt = ("open", st.attempt + 1) if bad else ("more" if more else "read", 0)
            return
        if st.agg is None:
            return
        if t.agent == self.who(task, "C") and "```" in t.text:
            st.phase = "run"
        elif t.agent == self.who(task, "T") and t.text.startswith("exitcode"):
            m = re.search(r"output: (.+)", t.text)
            ok = t.text.startswith("exitcode: 0") and m is not None
            st.phase, st.output = ("done", m.group(1).strip() if m else None) if ok else ("code", None)

    def resolve(self, target: str, values: list[str]) -> str:
        m = _PREV.search(target)
        if m and 0 < int(m.group(1)) <= len(values):
            return values[int(m.group(1)) - 1]
        return target

    @staticmethod
    def unnamed(task: Task, text: str) -> str:
        """``text`` without the team's agent names (a name such as SearchAgent must not read as a verb)."""
        for a in task.data["style"]["names"].values():
            text = text.replace(a, "X")
        return text

    @staticmethod
    def kind_of(text: str) -> str:
        low = re.sub(r"\S+\.(?:csv|xlsx|txt|pdf)\b", "FILE", text).lower()
        for kind, words in (("final", ("final answer",)), ("page", ("scroll", "page down")), ("code", ("write",)),
                            ("run", ("run the", "execute")), ("search", ("search",)),
                            ("read", ("report", "tell me", "read off")), ("openf", ("file", ".csv")),
                            ("open", ("open", "click"))):
            if any(w in low for w in words):
                return kind
        return "other"

    def addressee(self, task: Task, text: str) -> str | None:
        names = "|".join(re.escape(a) for a in sorted(task.data["style"]["names"].values(), key=len, reverse=True))
        m = re.search(rf"(?:->|@|Next speaker:|Handing off to|Route to)\s*({names})\b", text)
        return m.group(1) if m else None

    # -- Domain API
    def next_agent(self, task: Task, transcript: list[Turn]) -> str | None:
        lead = self.who(task, "O")
        if not transcript:
            return lead
        last = transcript[-1]
        if last.agent != lead:
            return lead
        if "FINAL ANSWER" in last.text:
            return None
        if len(transcript) == 1:
            return lead  # the plan, then the first instruction
        to = self.addressee(task, last.text)
        return to if to is not None and to != lead else self.who(task, "W")

    def act(self, agent: str, task: Task, transcript: list[Turn]) -> str:
        role = self.role_of(task, agent)
        if role == "O":
            return self.lead_act(task, transcript)
        st = self.state(task, transcript)
        lead_turn = next((t for t in reversed(transcript) if t.agent == self.who(task, "O")), None)
        instr = lead_turn.text if lead_turn is not None else ""
        kind = self.kind_of(self.unnamed(task, instr))
        return self.worker_act(task, transcript, role, kind, instr, st)

    def lead_act(self, task: Task, transcript: list[Turn]) -> str:
        if not transcript:
            return self.plan_text(task)
        st = self.state(task, transcript)
        n = len(transcript)
        if task.data["style"].get("verify") and self.stale_report(task, transcript, st):
            key, target, _ = st.items[st.cur - 1]
            return _REJECT_TEXT + self.pick(task, _HANDOFF, "handoff", n).format(a=self.who(task, "W")) + \
                self.pick(task, _OPEN, "open", n).format(t=self.resolve(target, st.values[:-1]))
        if st.cur < len(st.items):
            key, target, worker = st.items[st.cur]
            target = self.resolve(target, st.values)
            web = worker == self.who(task, "W") or worker not in task.data["style"]["names"].values()
            to = self.who(task, "W") if web else self.who(task, "F")
            if web and st.phase == "find":
                q = f"{key} of {target}" if st.attempt == 0 else f"{target} {key}"
                body = self.pick(task, _SEARCH, "search", n).format(q=q)
            elif web and st.phase == "open":
                body = self.pick(task, _OPEN, "open", n).format(t=target)
            elif st.phase in ("find", "open"):
                body = self.pick(task, _OPENF, "openf", n).format(f=self.file_of(target))
            elif st.phase == "more":
                body = self.pick(task, _PAGE, "page", n).format(f=self.file_of(target))
            else:
                body = self.pick(task, _READ, "read", n).format(k=key, t=target)
            return self.pick(task, _HANDOFF, "handoff", n).format(a=to) + body
        if st.agg and st.phase != "done":
            if st.phase == "run":
                return self.pick(task, _HANDOFF, "handoff", n).format(a=self.who(task, "T")) + self.pick(task, _RUN, "run", n)
            vals = ", ".join(st.values)
            word = {"sum": "sum", "max": "maximum", "min": "minimum"}[st.agg]
            return self.pick(task, _HANDOFF, "handoff", n).format(a=self.who(task, "C")) + \
                self.pick(task, _CODE, "code", n).format(agg=word, vals=vals)
        v = st.output if st.agg else (st.values[-1] if st.values else "unknown")
        return self.pick(task, _FINAL, "final").format(v=v)

    def stale_report(self, task: Task, transcript: list[Turn], st: TeamState) -> bool:
        """Whether the last turn reported a value read off an archived copy of a page (a checking lead sends it back)."""
        last = transcript[-1] if transcript else None
        if last is None or last.agent == self.who(task, "O") or not _REPORT_RE.findall(last.text) or st.cur < 1:
            return False
        page = self.last_result(transcript, "visit_page") or ""
        return _STALE_MARK in page

    @staticmethod
    def file_of(target: str) -> str:
        m = re.search(r"\(([^()]+\.\w+)\)", target)
        return m.group(1) if m else target

    def worker_act(self, task: Task, transcript: list[Turn], role: str, kind: str, instr: str, st: TeamState) -> str:
        key, target = "", ""
        m = re.search(r"the ([^\n]+?) of ([^\n]+?)(?: as stated there| from what you see)?\.$", instr)
        if m:
            key, target = m.group(1), m.group(2)
        if role == "W":
            if kind == "search" and (q := _QUOTED.search(instr)):
                return f"I will search for it.\nCALL web_search({json.dumps(q.group(1))})"
            if kind == "open":
                t = re.search(r"(?:about|matches|for) (.+?)(?: exactly)?(?: and load the page)?\.$", instr)
                results = self.last_result(transcript, "web_search")
                url = self.choose_url(task, results or "", t.group(1) if t else "") if results else None
                if url:
                    return f"Opening the matching result.\nCALL visit_page({json.dumps(url)})"
                return "None of the results match; I could not open a relevant page."
            if kind == "read" and m:
                page = self.last_result(transcript, "visit_page") or ""
                return self.pick(task, _REPORT, "report", len(transcript)).format(
                    k=key, t=target, v=self.read_value(task, page, key, target))
            return "I can only browse the web; I cannot do that here."
        if role == "F":
            f = re.search(r"(\S+\.(?:csv|xlsx|txt|pdf))", instr)
            if kind == "openf" and f:
                return f"CALL open_file({json.dumps(f.group(1))})"
            if kind == "page" and f:
                return f"CALL page_down({json.dumps(f.group(1))})"
            if kind == "read" and m:
                view = "\n".join(self.results_since(transcript, "open_file"))
                return self.pick(task, _REPORT, "report", len(transcript)).format(
                    k=key, t=target, v=self.read_value(task, view, key, target))
            return "I can only open local files; there is no file for that request."
        if role == "C":
            if kind == "code":
                vals = re.search(r"(?:values|of): ?([-\d., ]+?)\.?$", instr) or re.search(r"of ([-\d., ]+)\.$", instr)
                nums = [v.strip() for v in (vals.group(1).split(",") if vals else []) if v.strip()]
                op = "sum" if "sum" in instr else ("max" if "maximum" in instr else "min")
                return f"```python\nvalues = [{', '.join(nums)}]\nprint({op}(values))\n```"
            if kind in ("search", "read", "open", "openf") and st.cur < len(st.items):
                key, target = st.items[st.cur][0], self.resolve(st.items[st.cur][1], st.values)
                return f"I have no browser, but from memory the {key} of {target} is {self.recall(task, key, target)}."
            return "There is nothing for me to code yet."
        if role == "T":
            code = next((t.text for t in reversed(transcript) if t.agent == self.who(task, "C") and "```" in t.text), None)
            return run_snippet(code) if kind == "run" and code else "exitcode: 1 (execution failed)\nno code block to run"
        return "Nothing to add."

    @staticmethod
    def last_result(transcript: list[Turn], tool: str) -> str | None:
        for t in reversed(transcript):
            for c in reversed(t.tools):
                if c["name"] == tool:
                    return str(c["result"])
        return None

    @staticmethod
    def results_since(transcript: list[Turn], tool: str) -> list[str]:
        """The tool results from the last call of ``tool`` on (a file view and its pages)."""
        out: list[str] = []
        for t in reversed(transcript):
            for c in reversed(t.tools):
                out.insert(0, str(c["result"]))
                if c["name"] == tool:
                    return out
        return out

    def run_tool(self, task: Task, transcript: list[Turn], name: str, args: tuple[Any, ...], sandbox: bool) -> str:
        """The tools, with their per-call noise (the n-th identical call may fail where the next succeeds)."""
        nth = sum(1 for t in transcript for c in t.tools if c["name"] == name and list(c["args"]) == list(args))
        a = str(args[0]) if args else ""
        if name == "web_search":
            return self.search(task, a, nth)
        if name == "visit_page":
            return self.visit(task, a, nth)
        if name == "open_file":
            return self.open_file(task, a, nth, 0)
        if name == "page_down":
            return self.open_file(task, a, 0, 1)
        return f"Error: unknown tool {name}"

    def vocabulary(self, task: Task) -> list[str]:
        return list(task.data.get("vocab", []))

    def max_turns(self, task: Task) -> int:
        return self.expected_steps(task) + 24


def run_snippet(code_text: str) -> str:
    """The terminal: runs a ``values = [...]; print(op(values))`` block (no ``exec``), as a shell would report it."""
    m = re.search(r"values = (\[[^\]]*\])\s*\nprint\((\w+)\(values\)\)", code_text)
    if not m:
        return "exitcode: 1 (execution failed)\nSyntaxError: invalid syntax"
    try:
        vals = [float(v) for v in ast.literal_eval(m.group(1))]
    except (ValueError, SyntaxError, TypeError):
        return "exitcode: 1 (execution failed)\nValueError: could not convert the values"
    ops = {"sum": sum, "max": max, "min": min, "len": len}
    if m.group(2) not in ops or not vals:
        return f"exitcode: 1 (execution failed)\nNameError: name '{m.group(2)}' is not defined"
    r = ops[m.group(2)](vals)
    return f"exitcode: 0 (execution succeeded)\nCode output: {int(r) if float(r).is_integer() else round(r, 4)}"
