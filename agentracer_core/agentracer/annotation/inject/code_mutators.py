"""The code mutators of fault injection: Python (a step's text, or its fenced block) mutated with :mod:`ast`.

Each ``pick_*`` chooses a node of the tree and its replacement (return values, comparisons, integer
constants, filter clauses); :func:`ast_mutation` applies one and unparses the code back into the text.
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Callable

__all__ = ["Pick", "ast_mutation", "code_region", "pick_drop_clause", "pick_invert", "pick_off_by_one", "pick_return"]

_FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.S)


def code_region(text: str) -> tuple[str, int, int] | None:
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


def ast_mutation(text: str, rng: random.Random, pick: Pick) -> str | None:
    """Apply ``pick`` to the code in ``text``; splice only the changed node back (comments, quotes and layout
    elsewhere are kept). ``pick`` mutates the tree in place and returns ``(anchor, new)``: the node whose
    original source is replaced (it kept its position) and the node to render there."""
    region = code_region(text)
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


def pick_invert(tree: ast.AST, rng: random.Random) -> tuple[ast.AST, ast.AST] | None:
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


def pick_off_by_one(tree: ast.AST, rng: random.Random) -> tuple[ast.AST, ast.AST] | None:
    consts = _int_constants(tree)
    if not consts:
        return None
    node = rng.choice(consts)
    node.value = node.value + rng.choice((-1, 1))
    return node, node


_CALL_SWAP = {"sum": "len", "len": "sum", "max": "min", "min": "max", "sorted": "list", "any": "all", "all": "any"}


def pick_return(tree: ast.AST, rng: random.Random) -> tuple[ast.AST, ast.AST] | None:
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


def pick_drop_clause(tree: ast.AST, rng: random.Random) -> tuple[ast.AST, ast.AST] | None:
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


