"""Every writer in the code goes through the redaction step: a walk over the source finds each function that
writes a file or sends data out, and fails on one that neither wears ``@redacts`` nor calls a redaction function
nor is on the short list below of writers that hold no trace content (each with its reason)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "agentracer_core" / "agentracer", ROOT / "integrations"]

# writers that write no trace, prompt or model text; "module:qualname" -> why
NO_CONTENT = {
    "agentracer.recording.sink:JsonlSink._open": "the live JSONL sink writes what the Recorder built, and the Recorder "
    "redacts every string (task, messages, tool args and results, responses) before it stores anything",
    "agentracer.recording.export:BoundedBatchProcessor._export": "the live span exporter: the Recorder sets span "
    "attributes from the same redacted values",
    "agentracer.training.embedded_fit:rebuild": "fitted feature weights (numbers)",
    "agentracer.evaluation.crosssys:write_calibration": "the confidence calibration: two Platt coefficients, a "
    "distance limit, error figures and the sources' names",
    "agentracer.annotation.cli:generate_cli": "summary.json: counts from generation and dataset building",
    "agentracer.training.grpo:train": "training config, loss logs and checkpoints (the rows were redacted by grpo_rows)",
    "agentracer.training.grpo:save_for_inference": "model weights and the training config",
    "agentracer.refinement.outputs:plot_results": "the accuracy plot (a PNG of numbers)",
    "agentracer.training.gguf:dequantize_gguf": "model weights and their config, dequantized from a GGUF file",
    "agentracer.data.who_and_when:write_who_and_when": "the public Who&When benchmark records, written as "
    "published (a data download, no trace of the user's); masking would change the benchmark's inputs and "
    "labels. Traces read from them are redacted on every output path like any other",
}
REDACTION_CALLS = {"redact", "redact_value", "redact_item", "redact_any"}
WRITE_ATTRS = {"write_text", "write_bytes", "save_to_disk", "to_parquet", "savefig"}


def _is_write(node: ast.Call) -> bool:
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
    if name in WRITE_ATTRS:
        return True
    if name == "dump" and isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in ("json", "yaml"):
        return True
    if name in ("to_json", "to_csv") and (node.args or node.keywords):  # pandas/datasets writing to a path
        return True
    if name == "export" and isinstance(f, ast.Attribute) and "exporter" in ast.unparse(f.value).lower():
        return True  # an OTLP exporter sending spans
    if name == "open":
        modes = [a for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        modes += [k.value for k in node.keywords if k.arg == "mode" and isinstance(k.value, ast.Constant)]
        return any(any(c in str(getattr(m, "value", m)) for c in "wax") for m in modes)
    return False


def _decorated(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for d in fn.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "redacts":
            return True
    return False


def _calls_redaction(fn: ast.AST) -> bool:
    for n in ast.walk(fn):
        if isinstance(n, ast.Call):
            f = n.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name in REDACTION_CALLS:
                return True
    return False


def writers() -> list[tuple[str, bool]]:
    """``("module:qualname", goes through redaction)`` for every function that writes, in every source file."""
    out = []
    for base in SOURCES:
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base.parent).with_suffix("")
            module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
            tree = ast.parse(path.read_text(encoding="utf-8"))

            def visit(node: ast.AST, prefix: str, covered: bool, module: str = module) -> None:
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.ClassDef):
                        visit(child, f"{prefix}{child.name}.", covered, module)
                    elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        qual = f"{prefix}{child.name}"
                        ok = covered or _decorated(child) or _calls_redaction(child)
                        own = [n for n in ast.walk(child) if isinstance(n, ast.Call) and _is_write(n)]
                        if own:
                            out.append((f"{module}:{qual}", ok))
                        visit(child, f"{qual}.<locals>.", ok, module)

            visit(tree, "", False)
    return out


def test_the_walk_finds_the_known_writers() -> None:
    found = {name for name, _ in writers()}
    for known in ("agentracer.formats:write", "agentracer.formats.jsonl:write_jsonl", "agentracer.formats.otlp:write_otlp_json",
                  "agentracer.formats.whowhen:write_whowhen", "agentracer.formats.otlp_live:send_otlp",
                  "agentracer.report:write_report", "agentracer.annotation.dataset:build_dataset"):
        assert known in found, f"the walk no longer sees {known}: update _is_write"


def test_every_writer_goes_through_redaction() -> None:
    bypass = [name for name, ok in writers() if not ok and name not in NO_CONTENT]
    assert not bypass, (
        "these functions write files or send data without the redaction step: decorate them with "
        f"@agentracer.recording.redact.redacts(...) (or list them in NO_CONTENT with the reason): {bypass}"
    )


def test_no_content_list_is_current() -> None:
    found = {name for name, _ in writers()}
    stale = [k for k in NO_CONTENT if k not in found]
    assert not stale, f"NO_CONTENT names functions that no longer write: {stale}"
