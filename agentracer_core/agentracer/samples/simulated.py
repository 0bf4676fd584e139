"""Simulated agents for the offline refinement demo (``agentracer refine --demo``). **They are not LLMs.**

A simulated agent is a small deterministic program standing in for an LLM. It answers the prompts of
one role of a three-stage word-problem pipeline, and **its behaviour depends on the instructions it
receives**: every agent has one built-in flaw, and the feedback notes that reach its prompt (through
the real framework plugins: a MaAS operator prompt, a LangGraph agent's system prompt) can fix that
flaw, or, when a note is about something else, confuse it. So feedback aimed at the responsible agent
helps, feedback aimed at the wrong agent can hurt, and a critique given to everyone helps less.

The pipeline (three agents, in order):

==========  ===========================  =======================  ==========================================
role        MaAS operator / LangGraph    job                      built-in flaw (its trigger word)
==========  ===========================  =======================  ==========================================
extract     ``GenerateCoT`` / reader     starting TOTAL           a dozen counted as 10 (``dozen``)
compute     ``Programmer`` / calculator  code applying the op     "p percent" subtracted as p (``percent``)
finalize    ``SelfRefine`` / reviewer    final ANSWER             forgets to round (``nearest ten``)
==========  ===========================  =======================  ==========================================

How a simulated agent reads feedback (the only "learning" it does), per note (a ``- [step ...]`` or
``- [critique ...]`` line in its prompt), with seeded hash draws (a note seen n times gets n draws' worth
of chance, ``1 - (1 - p)^n``):

- a note aimed at it whose reason or correction names its flaw word fixes the flaw with ``p_learn``;
- a note aimed at it that quotes one of its outputs where the flaw shows (a vague reason, but the right
  agent and step) fixes it with ``p_learn_vague``;
- any other note aimed at it (an output that was not its mistake) may be misread as a rule about one of
  the note's trigger words: with ``p_confuse`` it becomes confused about that word and mis-adjusts its
  value on every task containing it (trigger words include neutral ones such as ``pairs``, so this breaks
  tasks that were right); a note saying ``do not adjust for <word>`` cures that;
- a critique given to every agent (not localised) fixes its flaw with ``p_generic_learn`` when it mentions
  the flaw's word, else confuses it with ``p_generic_confuse``.

Same notes, same seed: same behaviour. The probabilities are assumptions of the simulation
(:class:`SimPolicy`); the demo shows what the loop does with feedback of different precision and aim.

The same pipelines run with real LLM agents (``agentracer refine --base-url ... --model ...``): only the
LLM changes; the prompts below are ordinary instructions.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..trace import AnnotatedTrace, Attribution, Trace

__all__ = [
    "NOTICE",
    "ROLE_PROMPTS",
    "SimPolicy",
    "SimTask",
    "SimulatedLLM",
    "System",
    "build_langgraph_graph",
    "build_maas_workflow",
    "labelled_failures",
    "langgraph_system",
    "maas_system",
    "make_tasks",
    "oracle_attribution",
    "role_of",
    "run_solve",
    "simulated_critique",
]

NOTICE = (
    "SIMULATED AGENTS: the agents in this demo are small deterministic programs standing in for LLMs "
    "(agentracer.samples.simulated). Their behaviour depends on the instructions they receive, so feedback "
    "changes what they do, but these figures are not LLM results."
)

KEYWORDS: dict[str, str] = {
    # trigger words of the three flaws ...
    "dozen": r"\bdozens?\b", "percent": r"\bpercent\b", "nearest ten": r"nearest ten",
    # ... and neutral words of the other task kinds (an agent confused about one breaks tasks that were right)
    "pairs": r"\bpairs?\b", "sells": r"\b(?:sells?|sold)\b", "equally": r"\bequally\b",
}
ROLES = ("extract", "compute", "finalize")
FLAW = {"extract": "dozen", "compute": "percent", "finalize": "nearest ten"}

ROLE_PROMPTS = {
    "extract": (
        "You read word problems and work out the starting TOTAL number of items, converting units "
        "(a dozen is 12, a pair is 2). Give one sentence of reasoning, then a last line 'TOTAL: <number>'."
    ),
    "compute": (
        "You write a Python function solve() that starts from the given TOTAL and applies the problem's "
        "operation (selling, giving away a percentage, splitting equally), returning the resulting number "
        "without rounding. Reply with the code in a ```python block."
    ),
    "finalize": (
        "You produce the final ANSWER: take the computed result and apply the final instruction of the "
        "problem (for example rounding to the nearest ten). Give one sentence, then a last line "
        "'ANSWER: <number>'."
    ),
}


def role_of(text: str) -> str | None:
    """Which role's instructions ``text`` contains (searched anywhere: feedback may come first)."""
    for role, prompt in ROLE_PROMPTS.items():
        if prompt.split(",", 1)[0] in text:
            return role
    return None


# ---------------------------------------------------------------------------------------------- tasks
@dataclass
class SimTask:
    """A generated word problem with its exact answer and the correct value after each stage."""

    id: str
    question: str
    answer: int
    stages: dict[str, Any]
    keywords: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (for the per-round JSON files)."""
        return {"id": self.id, "question": self.question, "answer": self.answer, "keywords": self.keywords}


_NAMES = ["Ava", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivo", "Jun", "Kofi", "Lena"]


def _round10(x: Fraction) -> Fraction:
    return Fraction(math.floor(x / 10 + Fraction(1, 2)) * 10)


def _parse_problem(text: str) -> dict[str, Any] | None:
    q = re.search(r"has (\d+) (dozen \w+|pairs of \w+|\w+)\.", text)
    if not q:
        return None
    n = int(q.group(1))
    unit = "dozen" if q.group(2).startswith("dozen") else "pairs" if q.group(2).startswith("pairs") else "plain"
    op: tuple[str, int] | None = None
    if m := re.search(r"sells (\d+) of them", text):
        op = ("sell", int(m.group(1)))
    elif m := re.search(r"gives away (\d+) percent of them", text):
        op = ("percent", int(m.group(1)))
    elif m := re.search(r"equally into (\d+) bags", text):
        op = ("split", int(m.group(1)))
    if op is None:
        return None
    return {"n": n, "unit": unit, "op": op, "round": bool(re.search(KEYWORDS["nearest ten"], text))}


def _extract(p: dict[str, Any], flawed: bool) -> Fraction:
    per = {"dozen": 10 if flawed else 12, "pairs": 2, "plain": 1}[p["unit"]]
    return Fraction(p["n"] * per)


def _compute(total: Fraction, op: tuple[str, int], flawed: bool) -> Fraction:
    kind, k = op
    if kind == "sell":
        return total - k
    if kind == "split":
        return total / k
    return total - k if flawed else total - total * k / 100


def _finalize(value: Fraction, rounding: bool, flawed: bool) -> Fraction:
    return _round10(value) if rounding and not flawed else value


def _fmt(x: Fraction) -> str:
    if x.denominator == 1:
        return str(x.numerator)
    return f"{float(x):.2f}".rstrip("0").rstrip(".")


def _pipeline(p: dict[str, Any], flaws: frozenset[str] = frozenset()) -> dict[str, Fraction]:
    t = _extract(p, "extract" in flaws)
    r = _compute(t, p["op"], "compute" in flaws)
    a = _finalize(r, p["round"], "finalize" in flaws)
    return {"extract": t, "compute": r, "finalize": a}


def make_tasks(n: int, seed: int = 0, *, prefix: str = "t") -> list[SimTask]:
    """``n`` word problems (seeded). Each trigger word appears in about a third of them, and each
    flaw, when it fires, changes the final answer (so a fixed flaw is visible in accuracy)."""
    rng = random.Random(f"tasks:{seed}:{prefix}")
    tasks: list[SimTask] = []
    while len(tasks) < n:
        unit = rng.choices(["dozen", "pairs", "plain"], weights=[0.35, 0.3, 0.35])[0]
        kind = rng.choices(["percent", "sell", "split"], weights=[0.35, 0.35, 0.3])[0]
        rounding = rng.random() < 0.35
        q = rng.randint(3, 40)
        if kind == "percent":
            k = rng.choice([10, 20, 25, 50])
        elif kind == "sell":
            k = rng.randint(2, 15)
        else:
            k = rng.choice([2, 3, 4, 6])
        name = rng.choice(_NAMES)
        noun = {"dozen": "dozen eggs", "pairs": "pairs of socks", "plain": rng.choice(["marbles", "stamps", "shells"])}
        sentence_op = {
            "percent": f"{name} gives away {k} percent of them.",
            "sell": f"{name} sells {k} of them.",
            "split": f"{name} splits them equally into {k} bags and keeps one bag.",
        }[kind]
        ask = "How many are left, rounded to the nearest ten?" if rounding else "How many are left? Give the exact number."
        question = f"{name} has {q} {noun[unit]}. {sentence_op} {ask}"
        p = _parse_problem(question)
        if p is None:  # pragma: no cover - the templates always parse
            continue
        good = _pipeline(p)
        if any(v.denominator != 1 or v <= 0 for v in good.values()):
            continue
        if rounding and good["compute"] % 10 == 0:
            continue
        active = [r for r in ROLES if _flaw_fires(r, p)]
        if any(_pipeline(p, frozenset([r]))["finalize"] == good["finalize"] for r in active):
            continue  # a flaw that would not show in the answer
        kws = [kw for kw, pat in KEYWORDS.items() if re.search(pat, question)]
        tasks.append(SimTask(id=f"{prefix}{len(tasks):03d}", question=question, answer=int(good["finalize"]),
                             stages={r: int(v) for r, v in good.items()}, keywords=kws))
    return tasks


def _flaw_fires(role: str, p: dict[str, Any]) -> bool:
    return {"extract": p["unit"] == "dozen", "compute": p["op"][0] == "percent", "finalize": p["round"]}[role]


# ---------------------------------------------------------------------------------------------- policy
_NOTE = re.compile(r"^\s*- \[(step|critique)([^\]]*)\](.*)$", re.M)
_SEEN = re.compile(r"seen (\d+)x")
_NO_ADJUST = re.compile(r"do not adjust for '?([a-z ]+?)'?(?:[ .,;]|$)")


def _u(*parts: Any) -> float:
    h = hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return int(h[:12], 16) / float(16**12)


def _kws(text: str) -> list[str]:
    return [kw for kw, pat in KEYWORDS.items() if re.search(pat, text, flags=re.I)]


@dataclass
class SimPolicy:
    """How the simulated agents answer and how feedback notes change them (see the module docstring)."""

    seed: int = 0
    p_learn: float = 0.8
    p_learn_vague: float = 0.5
    p_confuse: float = 0.15
    p_generic_learn: float = 0.35
    p_generic_confuse: float = 0.2

    def params(self) -> dict[str, Any]:
        """The simulation parameters (written next to every result)."""
        return {"seed": self.seed, "p_learn": self.p_learn, "p_learn_vague": self.p_learn_vague,
                "p_confuse": self.p_confuse, "p_generic_learn": self.p_generic_learn,
                "p_generic_confuse": self.p_generic_confuse}

    def state(self, role: str, prompt: str) -> tuple[set[str], set[str]]:
        """``(fixed, confused)`` trigger words of ``role`` given the feedback notes in ``prompt``."""
        fixed: set[str] = set()
        confused: set[str] = set()
        cured: set[str] = set()
        flaw = FLAW[role]
        for m in _NOTE.finditer(prompt):
            kind, body = m.group(1), m.group(3)
            seen = _SEEN.search(m.group(2))
            count = int(seen.group(1)) if seen else 1
            key = body.strip()
            cured.update(w.strip() for w in _NO_ADJUST.findall(body.lower()))

            def chance(p: float, count: int = count) -> float:  # a note seen n times is n chances
                return 1 - (1 - p) ** count

            if kind == "critique":  # not localised: the agent may still recognise its own flaw
                focus = _kws(body)
                if flaw in focus:
                    if _u(self.seed, role, flaw, key) < chance(self.p_generic_learn):
                        fixed.add(flaw)
                elif focus:
                    word = focus[int(_u(self.seed, role, "word", key) * len(focus))]
                    if _u(self.seed, role, word, key) < chance(self.p_generic_confuse):
                        confused.add(word)
                continue
            reason = " ".join(re.findall(r"(?:Reason|Suggested correction):(.*?)(?=Suggested correction:|$)", body))
            precise = _kws(reason)
            if flaw in precise:  # the note diagnoses its flaw
                if _u(self.seed, role, flaw, key) < chance(self.p_learn):
                    fixed.add(flaw)
            elif _shows_flaw(role, body):  # the note points at an output of its own where the flaw shows
                if _u(self.seed, role, flaw, key) < chance(self.p_learn_vague):
                    fixed.add(flaw)
            else:  # a note about an output that was not its mistake: it may misread it as a rule
                focus = precise or _kws(body)
                if focus:
                    word = focus[int(_u(self.seed, role, "word", key) * len(focus))]
                    if _u(self.seed, role, word, key) < chance(self.p_confuse):
                        confused.add(word)
        return fixed, confused - cured

    def respond(self, role: str, prompt: str) -> str:
        """The simulated agent's reply to ``prompt`` in ``role`` (its flaw and confusions applied)."""
        problem = _between(prompt, "Problem:")
        p = _parse_problem(problem)
        if p is None:
            return "I cannot read this problem. TOTAL: 0" if role == "extract" else "ANSWER: 0"
        fixed, confused = self.state(role, prompt)
        flawed = _flaw_fires(role, p) and FLAW[role] not in fixed
        mixups = [kw for kw in sorted(confused) if re.search(KEYWORDS[kw], problem)]
        if role == "extract":
            t = _extract(p, flawed)
            t = _confuse(t, mixups)
            per = {"dozen": 10 if flawed else 12, "pairs": 2, "plain": 1}[p["unit"]]
            why = f"{p['n']} x {per} = {_fmt(_extract(p, flawed))} items" if per != 1 else f"{p['n']} items"
            note = f" (adjusted for {', '.join(mixups)} as the feedback suggested)" if mixups else ""
            return f"The problem starts with {why}{note}.\nTOTAL: {_fmt(t)}"
        if role == "compute":
            total = _number_after(prompt, "TOTAL:")
            if total is None:
                total = Fraction(0)
            kind, k = p["op"]
            if kind == "sell":
                expr = f"total - {k}"
            elif kind == "split":
                expr = f"total / {k}"
            else:
                expr = f"total - {k}" if flawed else f"total - total * {k} / 100"
            if mixups:
                expr = f"({expr}) * 1.1  # adjusted for {', '.join(mixups)} as the feedback suggested"
            return f"```python\ndef solve():\n    total = {_fmt(total)}\n    return {expr}\n```"
        value = _number_after(prompt, "Computed result:")
        if value is None:
            value = Fraction(0)
        final = _finalize(value, p["round"], flawed)
        final = _confuse(final, mixups)
        how = "rounded to the nearest ten" if p["round"] and not flawed else "as computed"
        note = f" (adjusted for {', '.join(mixups)} as the feedback suggested)" if mixups else ""
        return f"The result {_fmt(value)}, {how}{note}.\nANSWER: {_fmt(final)}"


def _shows_flaw(role: str, body: str) -> bool:
    """Whether a note quotes an output of ``role`` in which its flaw is visible (on a task that triggers it)."""
    task = re.search(r'failed run of "(.*?)"', body)
    out = re.search(r'your output "(.*?)" at step', body)
    if not task or not out:
        return False
    t, o = task.group(1), out.group(1)
    if role == "extract":
        return bool(re.search(KEYWORDS["dozen"], t)) and " x 10 = " in o
    if role == "compute":
        return bool(re.search(KEYWORDS["percent"], t)) and "return total -" in o and "total - total" not in o
    return bool(re.search(KEYWORDS["nearest ten"], t)) and "as computed" in o


def _confuse(x: Fraction, mixups: list[str]) -> Fraction:
    for _ in mixups:
        x = x + max(1, abs(x) // 10)
    return x


def _between(text: str, marker: str) -> str:
    i = text.rfind(marker)
    if i < 0:
        return text
    return text[i + len(marker):].split("\n", 1)[0].strip()


def _number_after(text: str, marker: str) -> Fraction | None:
    i = text.rfind(marker)
    if i < 0:
        return None
    m = re.search(r"-?\d+(?:\.\d+)?", text[i + len(marker):])
    return Fraction(m.group(0)) if m else None


# ---------------------------------------------------------------------------------------------- code
def run_solve(code: str, *, isolate: bool = False, timeout: float = 5.0) -> tuple[bool, str]:
    """Run ``code`` (which defines ``solve()``) and return ``(ok, str(result) or the error)``.

    ``isolate=True`` runs it in a separate Python process with a timeout (use it for code written by
    a real LLM); otherwise in-process with a few safe builtins (the simulated agents' own code).
    """
    m = re.search(r"```(?:python)?\n(.*?)```", code, flags=re.S)
    src = m.group(1) if m else code
    if isolate:
        prog = src + "\nprint(solve())\n"
        try:
            out = subprocess.run([sys.executable, "-I", "-c", prog], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return False, "timed out"
        if out.returncode != 0:
            return False, (out.stderr.strip().splitlines() or ["error"])[-1]
        return True, out.stdout.strip()
    ns: dict[str, Any] = {}
    try:
        exec(src, {"__builtins__": {"round": round, "int": int, "float": float, "abs": abs, "range": range}}, ns)
        result = ns["solve"]()
    except Exception as e:
        return False, f"{type(e).__name__}: {e}"
    if isinstance(result, float):
        result = round(result, 2)
        if float(result).is_integer():
            result = int(result)
    return True, str(result)


# ---------------------------------------------------------------------------------------------- MaAS-shaped
class SimulatedLLM:
    """A MaAS-shaped LLM (``async aask``) whose answers come from :class:`SimPolicy` (the role is read
    from the prompt). Keeps every prompt it received in ``prompts`` as ``(role, prompt)``."""

    def __init__(self, policy: SimPolicy) -> None:
        self.policy = policy
        self.model = "simulated-agent"
        self.prompts: list[tuple[str | None, str]] = []

    async def aask(self, msg: Any, system_msgs: list[str] | None = None, *args: Any, **kwargs: Any) -> str:
        text = msg if isinstance(msg, str) else json.dumps(msg, ensure_ascii=False)
        role = role_of(text)
        self.prompts.append((role, text))
        return self.policy.respond(role or "finalize", text)


class _Operator:
    """Base of the demo's MaAS-shaped operators: ``_fill_node`` sends the prompt to ``llm.aask``."""

    def __init__(self, llm: Any, name: str) -> None:
        self.llm = llm
        self.name = name

    async def _fill_node(self, prompt: str) -> str:
        return await self.llm.aask(prompt)


class GenerateCoT(_Operator):
    """Reads the problem and works out the starting total (role ``extract``)."""

    def __init__(self, llm: Any, name: str = "GenerateCoT") -> None:
        super().__init__(llm, name)

    async def __call__(self, problem: str, instruction: str = "") -> dict[str, str]:
        text = await self._fill_node(f"{ROLE_PROMPTS['extract']}\n{instruction}Problem: {problem}")
        return {"response": text}


class Programmer(_Operator):
    """Writes ``solve()`` from the analysis and runs it (role ``compute``)."""

    def __init__(self, llm: Any, name: str = "Programmer", *, isolate: bool = False) -> None:
        super().__init__(llm, name)
        self.isolate = isolate

    async def __call__(self, problem: str, analysis: str = "") -> dict[str, str]:
        code = await self._fill_node(f"{ROLE_PROMPTS['compute']}\nProblem: {problem}\nAnalysis: {analysis}")
        ok, out = run_solve(code, isolate=self.isolate)
        return {"code": code, "output": out if ok else f"error: {out}"}


class SelfRefine(_Operator):
    """Turns the computed result into the final answer (role ``finalize``)."""

    def __init__(self, llm: Any, name: str = "SelfRefine") -> None:
        super().__init__(llm, name)

    async def __call__(self, problem: str, solution: str) -> dict[str, str]:
        text = await self._fill_node(f"{ROLE_PROMPTS['finalize']}\nProblem: {problem}\nComputed result: {solution}")
        return {"response": text}


class FixedController:
    """MaAS-shaped controller that always picks GenerateCoT -> Programmer -> SelfRefine (recorded by the plugin)."""

    LAYERS = [["GenerateCoT"], ["Programmer"], ["SelfRefine"]]

    def forward(self, query: str, operator_embeddings: Any, names: list[str]) -> tuple[list[float], list[list[str]]]:
        return [0.0 for _ in self.LAYERS], [list(x) for x in self.LAYERS]


class MaasWorkflow:
    """A MaAS-shaped workflow: ``await workflow(problem)`` -> ``(answer, cost, log_prob)``."""

    def __init__(self, llm: Any, *, isolate: bool = False) -> None:
        self.llm = llm
        self.controller = FixedController()
        self.selection_operator_instances = {
            "GenerateCoT": GenerateCoT(llm), "Programmer": Programmer(llm, isolate=isolate), "SelfRefine": SelfRefine(llm)
        }
        self.selection_operator_names = list(self.selection_operator_instances)

    async def __call__(self, problem: str, entry_point: str = "", log_path: str = "") -> tuple[str, float, float]:
        log_probs, layers = self.controller.forward(problem, None, self.selection_operator_names)
        current = ""
        for layer in layers:
            for name in layer:
                op = self.selection_operator_instances[name]
                if name == "GenerateCoT":
                    current = (await op(problem=problem))["response"]
                elif name == "Programmer":
                    current = (await op(problem=problem, analysis=current))["output"]
                else:
                    current = (await op(problem=problem, solution=current))["response"]
        return current, 0.0, float(sum(log_probs))


def build_maas_workflow(llm: Any, *, isolate: bool = False) -> MaasWorkflow:
    """The three-operator MaAS-shaped workflow on ``llm`` (anything with ``async aask``)."""
    return MaasWorkflow(llm, isolate=isolate)


# ---------------------------------------------------------------------------------------------- LangGraph
LANGGRAPH_AGENTS = {"extract": "reader", "compute": "calculator", "finalize": "reviewer"}


def build_langgraph_graph(model_for: Callable[[str], Any], *, isolate: bool = False) -> Any:
    """A compiled LangGraph graph reader -> calculator -> reviewer; ``model_for(role)`` gives each node's chat model."""
    from typing import TypedDict

    from langchain_core.messages import HumanMessage, SystemMessage
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict, total=False):
        problem: str
        total: str
        result: str
        answer: str

    models = {role: model_for(role) for role in ROLES}

    def reader(state: State) -> dict[str, str]:
        msg = models["extract"].invoke([SystemMessage(ROLE_PROMPTS["extract"]), HumanMessage(f"Problem: {state['problem']}")])
        return {"total": str(msg.content)}

    def calculator(state: State) -> dict[str, str]:
        msg = models["compute"].invoke([
            SystemMessage(ROLE_PROMPTS["compute"]),
            HumanMessage(f"Problem: {state['problem']}\nAnalysis: {state.get('total', '')}"),
        ])
        ok, out = run_solve(str(msg.content), isolate=isolate)
        return {"result": f"{msg.content}\nRESULT: {out if ok else 'error: ' + out}"}

    def reviewer(state: State) -> dict[str, str]:
        result = _between(state.get("result", ""), "RESULT:")
        msg = models["finalize"].invoke([
            SystemMessage(ROLE_PROMPTS["finalize"]),
            HumanMessage(f"Problem: {state['problem']}\nComputed result: {result}"),
        ])
        return {"answer": str(msg.content)}

    g = StateGraph(State)
    g.add_node("reader", reader)
    g.add_node("calculator", calculator)
    g.add_node("reviewer", reviewer)
    g.add_edge(START, "reader")
    g.add_edge("reader", "calculator")
    g.add_edge("calculator", "reviewer")
    g.add_edge("reviewer", END)
    return g.compile()


def sim_chat_model(policy: SimPolicy, role: str, log: list[tuple[str, str]] | None = None) -> Any:
    """A LangChain chat model whose replies come from :class:`SimPolicy` for ``role``."""
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    class SimulatedChatModel(BaseChatModel):
        """A simulated agent behind LangChain's chat-model interface (not an LLM)."""

        role: str
        policy: Any
        log: Any = None

        @property
        def _llm_type(self) -> str:
            return "simulated-agent"

        def _generate(self, messages: list[Any], stop: Any = None, run_manager: Any = None, **kw: Any) -> ChatResult:
            text = "\n".join(str(m.content) for m in messages)
            if self.log is not None:
                self.log.append((self.role, text))
            reply = self.policy.respond(self.role, text)
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])

    return SimulatedChatModel(role=role, policy=policy, log=log)


# ---------------------------------------------------------------------------------------------- oracle, critic
_MARKERS = {"extract": "TOTAL:", "compute": "output:", "finalize": "ANSWER:"}


def _step_value(role: str, content: str) -> Fraction | None:
    for marker in (_MARKERS[role], "RESULT:"):
        v = _number_after(content, marker)
        if v is not None:
            return v
    nums = re.findall(r"-?\d+(?:\.\d+)?", content)
    return Fraction(nums[-1]) if nums else None


def oracle_attribution(trace: Trace, task: SimTask, roles: dict[str, str]) -> Attribution:
    """Gold attribution of a failed run of the pipeline: the first agent step whose value differs from
    the correct value of its stage (the simulation knows them), with a reason naming the cause."""
    p = _parse_problem(task.question) or {}
    by_agent = {agent: role for role, agent in roles.items()}
    for s in trace.agent_steps():
        role = by_agent.get(s.agent)
        if role is None:
            continue
        got = _step_value(role, s.content or "")
        want = Fraction(task.stages[role])
        if got == want:
            continue
        kw = FLAW[role]
        if p and _flaw_fires(role, p) and got is not None and got == _pipeline_stage(p, role, s, trace, roles):
            reason = {
                "extract": f"it counted a dozen as 10 ({_fmt(got)} instead of {_fmt(want)}); a dozen is 12",
                "compute": f"it subtracted the percentage as a plain number ({_fmt(got)} instead of {_fmt(want)}); "
                           f"p percent of x is x*p/100",
                "finalize": f"it did not round to the nearest ten ({_fmt(got)} instead of {_fmt(want)})",
            }[role]
            fix = {"extract": "multiply dozens by 12", "compute": "subtract total * p / 100 for 'p percent'",
                   "finalize": "round the result to the nearest ten when asked"}[role]
        else:
            others = [k for k in _kws(task.question) if k != kw]
            reason = f"its value is {_fmt(got) if got is not None else 'missing'} instead of {_fmt(want)}"
            if others:
                reason += f"; it adjusted for {' and '.join(others)} although that is another step's job"
                fix = "; ".join(f"do not adjust for '{o}' in this step" for o in others)
            else:
                fix = "recompute this step exactly as the instructions say"
        return Attribution(agent=s.agent, step=s.index, reason=reason, confidence=1.0, method="oracle",
                           metadata={"correction": fix})
    last = trace.agent_steps()[-1] if trace.agent_steps() else None
    return Attribution(agent=last.agent if last else None, step=last.index if last else None,
                       reason="no stage value differs; the final answer is malformed", method="oracle",
                       parsed=last is not None)


def _pipeline_stage(p: dict[str, Any], role: str, step: Any, trace: Trace, roles: dict[str, str]) -> Fraction | None:
    """The value ``role`` produces with its flaw, from the upstream value actually recorded."""
    if role == "extract":
        return _extract(p, True)
    upstream_role = "extract" if role == "compute" else "compute"
    up = None
    for s in trace.agent_steps():
        if s.index >= step.index:
            break
        if s.agent == roles[upstream_role]:
            up = _step_value(upstream_role, s.content or "")
    if up is None:
        return None
    if role == "compute":
        return _compute(up, p["op"], True)
    return _finalize(up, p["round"], True)


def simulated_critique(trace: Trace, task: Any) -> str:
    """A Self-Refine-style critique of the whole trajectory that does not locate the error (simulated critic)."""
    question = task.question if hasattr(task, "question") else str(task)
    agents = [s.agent for s in trace.agent_steps()]
    return (
        f"The final answer {trace.final_answer!r} to \"{question}\" was judged wrong. Reviewing the whole "
        f"trajectory ({' -> '.join(agents)}): the reasoning may have gone wrong anywhere; each step should "
        f"re-read the problem carefully and double-check its own numbers before passing them on."
    )


# ---------------------------------------------------------------------------------------------- systems
@dataclass
class System:
    """A runnable pipeline for the refinement loop: how to build a fresh instance, run a task on it,
    its agents by role, and (for generated tasks) the oracle attribution."""

    name: str
    build: Callable[[], Any]
    run: Callable[[Any, Any], str]
    roles: dict[str, str]
    prompts: list[tuple[str | None, str]] = field(default_factory=list)

    @property
    def agents(self) -> list[str]:
        """Agent names in pipeline order."""
        return [self.roles[r] for r in ROLES]

    def oracle(self, trace: Trace, task: Any) -> Attribution:
        """Gold attribution (first wrong stage) for a :class:`SimTask`."""
        return oracle_attribution(trace, task, self.roles)


def _question(task: Any) -> str:
    if isinstance(task, str):
        return task
    if isinstance(task, dict):
        return str(task.get("question") or task.get("problem") or task.get("task") or "")
    return str(getattr(task, "question", task))


def maas_system(llm_factory: Callable[[], Any] | None = None, *, policy: SimPolicy | None = None,
                isolate: bool = False) -> System:
    """The MaAS-shaped pipeline; simulated agents unless ``llm_factory`` gives a real ``aask`` LLM."""
    import asyncio

    prompts: list[tuple[str | None, str]] = []

    def build() -> Any:
        if llm_factory is not None:
            llm = llm_factory()
        else:
            llm = SimulatedLLM(policy or SimPolicy())
            llm.prompts = prompts
        return build_maas_workflow(llm, isolate=isolate)

    def run(system: Any, task: Any) -> str:
        answer, _cost, _lp = asyncio.run(system(_question(task)))
        return str(answer)

    return System("maas", build, run, {"extract": "GenerateCoT", "compute": "Programmer", "finalize": "SelfRefine"},
                  prompts)


def langgraph_system(model_factory: Callable[[str], Any] | None = None, *, policy: SimPolicy | None = None,
                     isolate: bool = False) -> System:
    """The LangGraph pipeline; simulated agents unless ``model_factory(role)`` gives real chat models."""
    prompts: list[tuple[str | None, str]] = []
    pol = policy or SimPolicy()

    def build() -> Any:
        factory = model_factory or (lambda role: sim_chat_model(pol, role, prompts))
        return build_langgraph_graph(factory, isolate=isolate)

    def run(system: Any, task: Any) -> str:
        out = system.invoke({"problem": _question(task)})
        return str(out.get("answer", ""))

    return System("langgraph", build, run, dict(LANGGRAPH_AGENTS), prompts)


def labelled_failures(
    seeds: Iterable[int], n_tasks: int = 40, systems: tuple[str, ...] = ("maas", "langgraph"), *, prefix: str = "train"
) -> list[AnnotatedTrace]:
    """Failed round-0 runs of the simulated pipelines, recorded through the real plugins and labelled.

    Each failure's gold is the simulation's :func:`oracle_attribution` (the first stage whose value is
    wrong). This is training data for the embedded attributor's ``framework`` profile; the tasks come
    from ``make_tasks(n_tasks, seed, prefix=prefix)``, so a ``prefix`` other than the refinement
    benchmark's ``"t"`` keeps the two apart. Needs the ``maas`` / ``langgraph`` plugins installed.
    """
    import agentracer

    from ..refinement import numeric_match

    out: list[AnnotatedTrace] = []
    for name in systems:
        if name not in ("maas", "langgraph"):
            raise ValueError(f"unknown simulated system {name!r}; expected 'maas' or 'langgraph'")
        for seed in seeds:
            policy = SimPolicy(seed=seed)
            system = maas_system(policy=policy) if name == "maas" else langgraph_system(policy=policy)
            rec = agentracer.Recorder()
            inst = agentracer.instrument(system.build(), recorder=rec)
            for task in make_tasks(n_tasks, seed, prefix=prefix):
                answer = system.run(inst, task)
                if numeric_match(answer, task):
                    continue
                trace = rec.last_trace()
                if trace is None:
                    continue
                trace.outcome = "failure"
                trace.ground_truth = str(task.answer)
                gold = system.oracle(trace, task)
                out.append(AnnotatedTrace(trace=trace, gold=gold, source="simulation",
                                          metadata={"system": name, "seed": seed, "task": task.id}))
    return out
