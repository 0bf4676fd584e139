"""Programmatic fault injection: corrupt one step of a successful run, so the injected step is the label.

The fault taxonomy (:data:`FAULTS`) and one mutator per fault. Code (a step whose text is, or holds a
fenced block of, Python) is mutated with :mod:`ast` — return values, comparisons, constants, filter
clauses — and unparsed back; numbers and text have mutators of their own (regular expressions over
numbers, condition words, numbered lists, tool-call arguments, agent names, stated facts).

:func:`inject` applies a mutator to step k of a trace, re-runs the suffix on a
:class:`~agentracer.annotation.replay.Replayable` system, and keeps the sample only if the run now
fails: an :class:`~agentracer.trace.AnnotatedTrace` with ``source="injection"``, the injected step and
its agent as gold, and ``fault_type`` set. Without a runnable system the mutated trace is returned
marked unverified (``metadata["verified"] = False``).
"""

from __future__ import annotations

import ast
import copy
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..trace import AnnotatedTrace, Attribution, Trace, TraceError

if TYPE_CHECKING:
    from .replay import Replayable

__all__ = [
    "FAULTS",
    "scrub_fork_markers",
    "FaultSpec",
    "InjectionError",
    "MutationContext",
    "applicable_faults",
    "context_for",
    "inject",
    "mutate",
]


class InjectionError(ValueError):
    """A fault does not apply to a step's text (nothing to mutate), or the step cannot be injected."""


@dataclass
class MutationContext:
    """What mutators may draw replacements from: the agents, the speaker, names and facts seen in the run."""

    agents: list[str] = field(default_factory=list)
    speaker: str | None = None
    vocabulary: list[str] = field(default_factory=list)


@dataclass
class FaultSpec:
    """One fault type: its name, what it models, and its mutator ``(text, rng, ctx) -> text | None``."""

    name: str
    description: str
    mutate: Callable[[str, random.Random, MutationContext], str | None]


# ------------------------------------------------------------------------------------------- code
_FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.S)


def _code_region(text: str) -> tuple[str, int, int] | None:
    """The Python code in ``text`` (a fenced block, else the whole text) and its span, or None."""
    m = _FENCE.search(text)
    if m:
        code, a, b = m.group(1), m.start(1), m.end(1)
    else:
        code, a, b = text, 0, len(text)
    if not re.search(r"^\s*(def |return |lambda |class |for |if |while |import |[A-Za-z_]\w*\s*=)", code, re.M):
        return None
    try:
        ast.parse(code)
    except SyntaxError:
        return None
    return code, a, b


Pick = Callable[[ast.AST, random.Random], "tuple[ast.AST, ast.AST] | None"]


def _offset(lines: list[str], lineno: int, col: int) -> int:
    """Character offset of an ast (lineno, UTF-8 byte col_offset) position in the joined ``lines``."""
    before = sum(len(x) for x in lines[: lineno - 1])
    return before + len(lines[lineno - 1].encode("utf-8")[:col].decode("utf-8", errors="ignore"))


def _ast_mutation(text: str, rng: random.Random, pick: Pick) -> str | None:
    """Apply ``pick`` to the code in ``text``; splice only the changed node back (comments, quotes and layout
    elsewhere are kept). ``pick`` mutates the tree in place and returns ``(anchor, new)``: the node whose
    original source is replaced (it kept its position) and the node to render there."""
    region = _code_region(text)
    if region is None:
        return None
    code, a, b = region
    tree = ast.parse(code)
    before = ast.dump(ast.parse(code))
    got = pick(tree, rng)
    if got is None:
        return None
    anchor, node = got
    want = ast.dump(tree)
    if want == before:
        return None
    new_code = None
    if getattr(anchor, "end_lineno", None) is not None:
        lines = code.splitlines(keepends=True)
        i = _offset(lines, anchor.lineno, anchor.col_offset)
        j = _offset(lines, anchor.end_lineno, anchor.end_col_offset)
        for rendered in (ast.unparse(node), f"({ast.unparse(node)})"):
            cand = code[:i] + rendered + code[j:]
            try:
                if ast.dump(ast.parse(cand)) == want:
                    new_code = cand
                    break
            except SyntaxError:
                continue
    if new_code is None:  # the splice would not mean the same: render the whole mutated code
        new_code = ast.unparse(ast.fix_missing_locations(tree))
        if code.endswith("\n") and not new_code.endswith("\n"):
            new_code += "\n"
    return text[:a] + new_code + text[b:]


_CMP_FLIP: dict[type, type] = {
    ast.Gt: ast.LtE, ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.LtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}


def _pick_invert(tree: ast.AST, rng: random.Random) -> tuple[ast.AST, ast.AST] | None:
    cmps = [n for n in ast.walk(tree) if isinstance(n, ast.Compare) and type(n.ops[0]) in _CMP_FLIP]
    if cmps:
        node = rng.choice(cmps)
        node.ops[0] = _CMP_FLIP[type(node.ops[0])]()
        return node, node
    bools = [n for n in ast.walk(tree) if isinstance(n, ast.BoolOp)]
    if bools:
        node = rng.choice(bools)
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return node, node
    tests = [n for n in ast.walk(tree) if isinstance(n, (ast.If, ast.IfExp, ast.While))]
    if tests:
        node = rng.choice(tests)
        old = node.test
        node.test = ast.UnaryOp(op=ast.Not(), operand=old)
        return old, node.test
    return None


def _int_constants(tree: ast.AST) -> list[ast.Constant]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and type(n.value) is int]


def _pick_off_by_one(tree: ast.AST, rng: random.Random) -> tuple[ast.AST, ast.AST] | None:
    consts = _int_constants(tree)
    if not consts:
        return None
    node = rng.choice(consts)
    node.value = node.value + rng.choice((-1, 1))
    return node, node


_CALL_SWAP = {"sum": "len", "len": "sum", "max": "min", "min": "max", "sorted": "list", "any": "all", "all": "any"}


def _pick_return(tree: ast.AST, rng: random.Random) -> tuple[ast.AST, ast.AST] | None:
    rets = [n for n in ast.walk(tree) if isinstance(n, ast.Return) and n.value is not None]
    if not rets:
        return None
    node = rng.choice(rets)
    value = node.value
    # 1) a swapped reducer: sum -> len, max -> min, ...
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in _CALL_SWAP:
        value.func = ast.Name(id=_CALL_SWAP[value.func.id], ctx=ast.Load())
        return node, node
    # 2) the wrong variable: the function's first parameter (the untouched input) instead of the result
    funcs = [f for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             and any(r is node for r in ast.walk(f))]
    if funcs and funcs[0].args.args:
        p = funcs[0].args.args[0].arg
        if not (isinstance(value, ast.Name) and value.id == p):
            node.value = ast.Name(id=p, ctx=ast.Load())
            return node, node
    # 3) a list result loses its first element; anything else is negated
    if isinstance(value, (ast.ListComp, ast.List)):
        node.value = ast.Subscript(value=value, slice=ast.Slice(lower=ast.Constant(1)), ctx=ast.Load())
    else:
        node.value = ast.UnaryOp(op=ast.USub(), operand=value)
    return node, node


def _pick_drop_clause(tree: ast.AST, rng: random.Random) -> tuple[ast.AST, ast.AST] | None:
    comps = [(n, g) for n in ast.walk(tree) if isinstance(n, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp))
             for g in n.generators if g.ifs]
    if comps:
        node, g = rng.choice(comps)
        k = rng.randrange(len(g.ifs))
        cond = g.ifs[k]
        if isinstance(cond, ast.BoolOp) and isinstance(cond.op, ast.And) and len(cond.values) > 1:
            cond.values.pop(rng.randrange(len(cond.values)))  # "a and b" loses one of its requirements
            if len(cond.values) == 1:
                g.ifs[k] = cond.values[0]
        else:
            g.ifs.pop(k)
        return node, node
    ands = [n for n in ast.walk(tree) if isinstance(n, ast.BoolOp) and isinstance(n.op, ast.And) and len(n.values) > 1]
    if ands:  # an `if a and b:` guard loses one requirement
        node = rng.choice(ands)
        node.values.pop(rng.randrange(len(node.values)))
        if len(node.values) == 1:
            _replace_child(tree, node, node.values[0])
            return node, node.values[0]
        return node, node
    return None


def _replace_child(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, new)
                return
            if isinstance(value, list):
                for i, v in enumerate(value):
                    if v is old:
                        value[i] = new
                        return


# ------------------------------------------------------------------------------------------- text
_NUM = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*\w)")
_LABEL_BEFORE = re.compile(r"(?i)(step|turn|hop|stage|round|#)\s*$")


def _numbers(text: str) -> list[re.Match[str]]:
    out = []
    for m in _NUM.finditer(text):
        before = text[max(0, m.start() - 8): m.start()]
        line_start = text.rfind("\n", 0, m.start()) + 1
        if _LABEL_BEFORE.search(before):
            continue  # a step label, not a value
        if text[line_start: m.start()].strip() == "" and text[m.end(): m.end() + 1] in (".", ")"):
            continue  # a list marker "3." / "3)"
        out.append(m)
    return out


def _text_off_by_one(text: str, rng: random.Random, ctx: MutationContext) -> str | None:
    nums = _numbers(text)
    if not nums:
        return None
    # prefer results: a number after '=' or 'answer' or 'value'; else any value
    pref = [m for m in nums if re.search(r"(?i)(=|answer|value|result|is)\s*[:\s]*$", text[max(0, m.start() - 12): m.start()])]
    m = rng.choice(pref or nums)
    raw = m.group(0)
    if "." in raw:
        new = f"{float(raw) + rng.choice((-1, 1)):.{len(raw.split('.')[1])}f}"
    else:
        new = str(int(raw) + rng.choice((-1, 1)))
    return text[: m.start()] + new + text[m.end():]


_WORD_FLIPS = [
    ("greater than or equal to", "less than"), ("less than or equal to", "greater than"),
    ("greater", "less"), ("larger", "smaller"), ("above", "below"), ("more", "fewer"), ("increase", "decrease"),
    ("add", "subtract"), ("plus", "minus"), ("even", "odd"), ("keep", "drop"), ("include", "exclude"),
    ("before", "after"), ("true", "false"), ("yes", "no"), ("pass", "fail"), ("passed", "failed"),
    ("approved", "rejected"), ("correct", "incorrect"), ("valid", "invalid"), ("all", "none"),
    ("maximum", "minimum"), ("largest", "smallest"), ("max", "min"), ("ascending", "descending"), ("first", "last"),
]
_SYM_FLIPS = [(">=", "<"), ("<=", ">"), ("==", "!="), ("!=", "=="), (">", "<="), ("<", ">=")]


def _case_like(src: str, word: str) -> str:
    if src.isupper():
        return word.upper()
    if src[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _text_invert(text: str, rng: random.Random, ctx: MutationContext) -> str | None:
    cands: list[tuple[int, int, str]] = []
    for a, b in _WORD_FLIPS:
        for src, dst in ((a, b), (b, a)):
            for m in re.finditer(rf"(?i)\b{re.escape(src)}\b", text):
                cands.append((m.start(), m.end(), _case_like(m.group(0), dst)))
    for a, b in _SYM_FLIPS:
        for m in re.finditer(rf"(?<![<>=!]){re.escape(a)}(?![<>=])", text):
            cands.append((m.start(), m.end(), b))
    if not cands:
        return None
    # drop candidates overlapping a longer one
    cands.sort(key=lambda c: (c[0], -(c[1] - c[0])))
    keep: list[tuple[int, int, str]] = []
    for c in cands:
        if not keep or c[0] >= keep[-1][1]:
            keep.append(c)
    a, b, new = rng.choice(keep)
    return text[:a] + new + text[b:]


_LIST_LINE = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+.+$", re.M)


def _text_drop(text: str, rng: random.Random, ctx: MutationContext) -> str | None:
    lines = list(_LIST_LINE.finditer(text))
    if len(lines) >= 2:
        m = rng.choice(lines)
        a, b = m.start(), m.end()
        if b < len(text) and text[b] == "\n":
            b += 1
        return _renumber(text[:a] + text[b:])
    # a clause: "..., and X" / " and X" / a sentence with must/only/exactly/at least/at most
    clauses = list(re.finditer(r"(?i)(,?\s+(?:and|but|while)\s+[^.,;\n]+)", text))
    musts = list(re.finditer(r"(?i)[^.\n]*\b(?:must|only|exactly|at least|at most|never|always)\b[^.\n]*\.\s*", text))
    pool = [(m.start(), m.end()) for m in clauses + musts if m.end() - m.start() < len(text)]
    if not pool:
        return None
    a, b = rng.choice(pool)
    out = (text[:a] + text[b:]).strip()
    return out if out and out != text.strip() else None


def _renumber(text: str) -> str:
    """Renumber a numbered list after a line was dropped (so the drop is not betrayed by a gap)."""
    counter = 0

    def sub(m: re.Match[str]) -> str:
        nonlocal counter
        counter += 1
        return f"{m.group(1)}{counter}{m.group(3)}"

    return re.sub(r"(?m)^(\s*)(\d+)([.)]\s)", sub, text)


_TOOL_CALL = re.compile(r"(?P<name>[A-Za-z_][\w.]*)\((?P<args>[^()]*)\)")
_ARG = re.compile(r"\"[^\"]*\"|'[^']*'|-?\d+(?:\.\d+)?")


def _perturb_string(s: str, rng: random.Random, ctx: MutationContext) -> str:
    others = [v for v in ctx.vocabulary if v != s and v]
    if others:
        return rng.choice(others)
    if len(s) >= 3:
        i = rng.randrange(len(s) - 1)
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]
    return s + "x"


def _text_tool_arg(text: str, rng: random.Random, ctx: MutationContext) -> str | None:
    calls = [m for m in _TOOL_CALL.finditer(text) if _ARG.search(m.group("args"))]
    if not calls:
        return _json_tool_arg(text, rng, ctx)
    m = rng.choice(calls)
    args = list(_ARG.finditer(m.group("args")))
    arg = rng.choice(args)
    raw = arg.group(0)
    if raw[0] in "\"'":
        new = raw[0] + _perturb_string(raw[1:-1], rng, ctx) + raw[0]
    else:
        new = str(int(float(raw)) + rng.choice((-1, 1))) if "." not in raw else str(float(raw) + 1)
    if new == raw:
        return None
    a = m.start("args") + arg.start()
    b = m.start("args") + arg.end()
    return text[:a] + new + text[b:]


def _json_tool_arg(text: str, rng: random.Random, ctx: MutationContext) -> str | None:
    m = re.search(r"\"(?:arguments|args|parameters|input)\"\s*:\s*\{([^{}]*)\}", text)
    if not m:
        return None
    vals = list(re.finditer(r":\s*(\"[^\"]*\"|-?\d+(?:\.\d+)?)", m.group(1)))
    if not vals:
        return None
    v = rng.choice(vals)
    raw = v.group(1)
    new = ("\"" + _perturb_string(raw[1:-1], rng, ctx) + "\"") if raw.startswith("\"") else str(int(float(raw)) + 1)
    a = m.start(1) + v.start(1)
    return text[:a] + new + text[a + len(raw):]


def _made_up_name(rng: random.Random) -> str:
    syl = ["ka", "lo", "mi", "ren", "tu", "sa", "vor", "el", "dan", "qui", "zo", "pha", "ril", "mon"]
    return "".join(rng.choice(syl) for _ in range(rng.choice((2, 3)))).capitalize()


def _text_fabricate(text: str, rng: random.Random, ctx: MutationContext) -> str | None:
    # a stated fact: "... is X" / ": X" where X is a capitalised name or a number
    facts = list(re.finditer(r"(?:\bis\b|\bare\b|\bwas\b|:|=)\s+(?P<v>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*|-?\d+(?:\.\d+)?)", text))
    agents = {a.lower() for a in ctx.agents}
    facts = [f for f in facts if f.group("v").lower() not in agents and not f.group("v").isupper()]
    if not facts:
        return None
    f = rng.choice(facts)
    v = f.group("v")
    if re.fullmatch(r"-?\d+(?:\.\d+)?", v):
        n = float(v)
        new_n = n + rng.choice((-1, 1)) * max(2, round(abs(n) * rng.uniform(0.2, 0.6)))
        new = str(int(new_n)) if "." not in v else f"{new_n:.2f}"
    else:
        pool = [w for w in ctx.vocabulary if w != v and w[:1].isupper() and w.lower() not in agents]
        new = rng.choice(pool) if pool else _made_up_name(rng)
    if new == v:
        return None
    return text[: f.start("v")] + new + text[f.end("v"):]


def _text_handoff(text: str, rng: random.Random, ctx: MutationContext) -> str | None:
    agents = [a for a in ctx.agents if a]
    if len(agents) < 2:
        return None
    names = "|".join(re.escape(a) for a in sorted(agents, key=len, reverse=True))
    pats = [
        rf"(?:->|→|=>)\s*(?P<a>{names})\b",
        rf"(?i:hand(?:ing)?\s*off\s+to|handoff\s+to|transfer(?:ring)?\s+to|next\s*(?:speaker|agent)?\s*:|route\s+to|@)\s*(?P<a>{names})\b",
    ]
    hits = [m for p in pats for m in re.finditer(p, text)]
    if not hits:
        return None
    m = rng.choice(hits)
    cur = m.group("a")
    others = [a for a in agents if a != cur and a != ctx.speaker] or [a for a in agents if a != cur]
    new = rng.choice(others)
    return text[: m.start("a")] + new + text[m.end("a"):]


# -------------------------------------------------------------------------------------- taxonomy
def _code_first(code_pick: Pick | None, text_fn: Any) -> Callable[..., str | None]:
    def mutate(text: str, rng: random.Random, ctx: MutationContext) -> str | None:
        if code_pick is not None and _code_region(text) is not None:
            out = _ast_mutation(text, rng, code_pick)
            if out is not None:
                return out
        return text_fn(text, rng, ctx) if text_fn is not None else None

    return mutate


FAULTS: dict[str, FaultSpec] = {
    f.name: f
    for f in (
        FaultSpec("wrong_return_value", "a function returns the wrong value (ast: swapped reducer, wrong variable, "
                  "negated/truncated result); in prose, a wrong final value", _code_first(_pick_return, _text_off_by_one)),
        FaultSpec("inverted_condition", "a comparison or condition is inverted (ast: > vs <=, and vs or, not; prose: "
                  "greater/less, add/subtract, pass/fail ...)", _code_first(_pick_invert, _text_invert)),
        FaultSpec("off_by_one", "a number is off by one (ast: an integer constant; prose: a stated value)",
                  _code_first(_pick_off_by_one, _text_off_by_one)),
        FaultSpec("wrong_tool_argument", "a tool is called with a wrong argument", _text_tool_arg),
        FaultSpec("dropped_constraint", "a requirement is silently dropped (a list item, a clause, a filter condition)",
                  _code_first(_pick_drop_clause, _text_drop)),
        FaultSpec("fabricated_fact", "a stated fact (a name or a number) is made up", _text_fabricate),
        FaultSpec("wrong_handoff", "the work is handed to the wrong agent", _text_handoff),
    )
}


def mutate(fault: str, text: str, *, rng: random.Random | int | None = None, ctx: MutationContext | None = None) -> str:
    """``text`` with ``fault`` injected; raises :class:`InjectionError` when the fault does not apply."""
    spec = FAULTS.get(fault)
    if spec is None:
        raise InjectionError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
    r = rng if isinstance(rng, random.Random) else random.Random(rng)
    out = spec.mutate(text or "", r, ctx or MutationContext())
    if out is None or out == text:
        raise InjectionError(f"fault {fault!r} does not apply to this text (nothing to mutate): {text[:80]!r}")
    return out


def applicable_faults(text: str, ctx: MutationContext | None = None) -> list[str]:
    """The faults whose mutator changes ``text`` (tried with a fixed seed)."""
    out = []
    for name, spec in FAULTS.items():
        try:
            res = spec.mutate(text or "", random.Random(0), ctx or MutationContext())
        except Exception:  # a mutator that chokes on odd text simply does not apply
            res = None
        if res is not None and res != text:
            out.append(name)
    return out


_NAME = re.compile(r"\b[A-Z][a-z]+(?:[ \t]+[A-Z][a-z]+)*\b(?!\s*:)")
_STOP = {"The", "This", "That", "It", "We", "I", "A", "An", "Then", "Now", "Plan", "Start", "Step", "Hop", "Fact",
         "Task", "Final", "Answer", "Correction", "Verified", "Current", "Nothing", "All", "There", "Finally",
         "Specification", "Write", "Use", "What", "Reply", "Agent", "Tool"}


def context_for(trace: Trace, step: int) -> MutationContext:
    """The :class:`MutationContext` of ``step``: the run's agents, the speaker, and names/values seen elsewhere.

    The vocabulary lists what tools returned and were called with first (real entities of the run), then
    capitalised names from other steps' text (sentence starts, labels such as ``Plan:`` and a stop list
    are left out).
    """
    vocab: list[str] = []

    def add(v: Any) -> None:
        if isinstance(v, str) and v and v not in vocab and len(vocab) < 200 and v not in _STOP:
            vocab.append(v)

    for s in trace.steps:
        if s.index == step or s.kind not in ("tool_call", "tool_result"):
            continue
        add(s.tool_result if isinstance(s.tool_result, str) else None)
        args = s.tool_args.values() if isinstance(s.tool_args, dict) else s.tool_args if isinstance(s.tool_args, list) else []
        for a in args:
            add(a)
    for s in trace.steps:
        if s.index == step:
            continue
        for w in _NAME.findall(s.content or ""):
            add(w)
    agents = set(trace.agents)
    vocab = [v for v in vocab if v not in agents and not re.fullmatch(r"[a-z_]+|NOT FOUND|-?\d+", v)]
    vocab = [v for v in vocab if " " in v or not any(v in w.split() for w in vocab if w != v)]  # no name fragments
    return MutationContext(agents=list(trace.agents), speaker=trace.steps[step].agent, vocabulary=vocab)


def inject(
    trace: Trace,
    step: int,
    fault: str,
    *,
    system: Replayable | None = None,
    seed: int | random.Random = 0,
    checker: Callable[[Any], bool] | None = None,
    require_failure: bool = True,
) -> AnnotatedTrace | None:
    """Inject ``fault`` into agent step ``step`` of the successful ``trace``.

    With a ``system`` (bound to ``trace``) the mutated step is replayed and the suffix re-run; the
    sample is kept (returned) only if the run now fails (``checker(outcome)`` or ``outcome.success``
    false), else None. The returned trace is the re-run's trace, labelled with the injected step and
    its agent. Without a system, the trace with that step's text mutated is returned, marked
    ``metadata["verified"] = False`` (the suffix was not re-run; its outcome is ``unknown``).
    """
    if not 0 <= step < len(trace.steps):
        raise TraceError(f"no step {step} (the trace has {len(trace.steps)})", field="step")
    target = trace.steps[step]
    if target.parent is not None:
        raise TraceError(f"step {step} is a nested {target.kind}; inject into its agent step {target.parent}",
                         field="step", step=step)
    rng = seed if isinstance(seed, random.Random) else random.Random(f"{seed}:{trace.run_id}:{step}:{fault}")
    original = target.content or ""
    mutated = mutate(fault, original, rng=rng, ctx=context_for(trace, step))
    reason = f"injected fault '{fault}' ({FAULTS[fault].description.split(' (')[0]}) into step {step} ({target.agent})"
    gold = Attribution(agent=target.agent, step=step, reason=reason, confidence=1.0, method="injection")
    meta: dict[str, Any] = {"original": original, "mutated": mutated, "source_run_id": trace.run_id}
    if system is None:
        new = copy.deepcopy(trace)
        new.steps[step].content = mutated
        new.outcome = "unknown"
        new.run_id = f"{trace.run_id}-inj{step}-{fault}"
        meta["verified"] = False
        return AnnotatedTrace(new, gold, source="injection", counterfactual=original, fault_type=fault, metadata=meta)
    out = system.run_with(step, mutated)
    failed = not (checker(out) if checker is not None else out.success)
    meta["verified"] = True
    meta["live_calls_before_fork"] = out.live_calls_before_fork
    if require_failure and not failed:
        return None
    new = copy.deepcopy(out.trace) if out.trace is not None else copy.deepcopy(trace)
    if out.trace is None:
        new.steps[step].content = mutated
    new.outcome = "failure" if failed else "success"
    scrub_fork_markers(new, step, mutated)
    return AnnotatedTrace(new, gold, source="injection", counterfactual=original, fault_type=fault, metadata=meta)


_STEP_MARKERS = ("replaced", "replaced_output", "injected", "resynced")
_REPLAY_MARKERS = ("overridden", "served_from", "parent_run_id", "fork_of", "fork_step", "parent_step", "source")


def scrub_fork_markers(trace: Trace, step: int, text: str) -> Trace:
    """Make a forked run look like a plain run whose step ``step`` said ``text`` (for training data).

    Removes what would give the label away: fork and replay markers on steps and on the trace (which step
    was overridden, which calls were served from the recording), and makes the LLM calls under the
    injected step say what the step says (a fork that patched the output after the call keeps the old
    answer there). ``AnnotatedTrace.metadata`` keeps the original and mutated texts.
    """
    trace.metadata.pop("fork", None)
    for key in ("maas", "camel"):
        if isinstance(trace.metadata.get(key), dict):
            trace.metadata[key].pop("fork", None)
    for s in trace.steps:
        for k in _STEP_MARKERS:
            s.metadata.pop(k, None)
        for k in _REPLAY_MARKERS:
            s.replay.pop(k, None)
        if s.parent == step and s.kind == "llm_call" and step < len(trace.steps) and trace.steps[step].content == text:
            s.content = text
            if isinstance(s.replay.get("response"), dict):
                s.replay["response"] = {"text": text}
    return trace
