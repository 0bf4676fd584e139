"""The ``agentracer`` command: import, export, show, attribute, eval, annotate, inject, train, report, refine,
plugins, demo.

Every verb is a thin shell over the library; heavy modules are imported only when their verb runs.
Errors in input files print one line (file, field, step) and exit with status 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from .trace import AnnotatedTrace, Trace, TraceError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="AgenTracer: who caused this multi-agent failure?")
annotate_app = typer.Typer(no_args_is_help=True, help="Build training data: counterfactual replay and generators.")
app.add_typer(annotate_app, name="annotate")
console = Console()
err_console = Console(stderr=True)


def _fail(msg: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {msg}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _read(path: Path) -> list[Trace | AnnotatedTrace]:
    from .formats import read

    try:
        items = read(path)
    except TraceError as e:
        _fail(str(e))
    if not items:
        _fail(f"{path}: holds no trace")
    return items


def _trace_of(item: Trace | AnnotatedTrace) -> Trace:
    return item.trace if isinstance(item, AnnotatedTrace) else item


@app.command("import")
def import_(
    src: Path = typer.Argument(..., help="Who&When JSON, OTLP JSON or JSONL file, or a folder of them."),
    out: Path = typer.Option(..., "--out", "-o", help="Destination .jsonl file."),
) -> None:
    """Import traces from any supported format into agentracer JSONL."""
    from .formats import write

    items = _read(src)
    write(items, out, "jsonl")
    console.print(f"imported {len(items)} trace(s) from {src} -> {out}")


@app.command()
def export(
    src: Path = typer.Argument(..., help="A trace file (any supported format)."),
    out: Path = typer.Option(..., "--out", "-o", help="Destination file."),
    fmt: str = typer.Option("jsonl", "--format", "-f", help="jsonl | otlp | whowhen | json"),
    endpoint: str | None = typer.Option(
        None, "--endpoint", help="Also send the spans live over OTLP/HTTP, e.g. http://127.0.0.1:4318/v1/traces."
    ),
) -> None:
    """Export traces to JSONL, OTLP JSON, Who&When JSON or plain JSON (and optionally over OTLP/HTTP)."""
    from .formats import write

    items = _read(src)
    try:
        write(items, out, fmt)
    except (TraceError, ValueError) as e:
        _fail(str(e))
    console.print(f"wrote {len(items)} trace(s) as {fmt} -> {out}")
    if endpoint:
        from .formats.otlp_live import send_otlp

        n = send_otlp([_trace_of(i) for i in items], endpoint)
        console.print(f"sent {n} span(s) to {endpoint}")


@app.command()
def show(
    src: Path = typer.Argument(..., help="A trace file."),
    width: int = typer.Option(100, help="Characters of content shown per step."),
    index: int = typer.Option(0, help="Which trace of the file."),
) -> None:
    """Print the steps of a trace as a table."""
    import warnings

    from .formats.jsonl import SkippedLineWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedLineWarning)
        items = _read(src)
    skipped = [w for w in caught if issubclass(w.category, SkippedLineWarning)]
    if skipped:
        console.print(f"[yellow]{src}: skipped {len(skipped)} malformed line(s)[/] (first: {skipped[0].message})")
    if not 0 <= index < len(items):
        _fail(f"{src}: has {len(items)} trace(s); --index {index} is out of range")
    item = items[index]
    tr = _trace_of(item)
    gold = item.gold if isinstance(item, AnnotatedTrace) else None
    t = Table(title=f"{tr.run_id} · {tr.framework} · {tr.outcome} · {len(tr.steps)} steps")
    for col in ("step", "agent", "kind", "content"):
        t.add_column(col, overflow="fold" if col == "content" else "ellipsis")
    for s in tr.steps:
        mark = " ★" if gold is not None and gold.step == s.index else ""
        text = (s.content or (json.dumps(s.tool_args) if s.tool_args is not None else "")).replace("\n", " ")
        indent = "  " if s.parent is not None else ""
        t.add_row(f"{s.index}{mark}", indent + s.agent, s.kind, text[:width])
    console.print(t)
    if tr.task:
        console.print(f"[bold]task:[/] {tr.task[:300]}")
    if gold is not None:
        console.print(f"[bold]gold:[/] agent={gold.agent} step={gold.step} — {gold.reason[:300]}")


def _print_attribution(att: Any, src: str) -> None:
    if not att.parsed:
        console.print(f"[yellow]{src}: the tracer's answer could not be parsed[/] ({(att.raw or '')[:200]!r})")
        return
    conf = f" (confidence {att.confidence:.2f})" if att.confidence is not None else ""
    console.print(f"[bold]{src}[/]: agent [bold cyan]{att.agent}[/], step [bold cyan]{att.step}[/]{conf}")
    if att.reason:
        console.print(f"  reason: {att.reason}")


@app.command()
def attribute(
    src: Path = typer.Argument(..., help="A failed trace (any supported format)."),
    method: str = typer.Option("embedded", "--method", "-m", help="embedded | transformers:PATH | vllm:PATH | ..."),
    with_gt: bool = typer.Option(False, "--with-gt", help="Give the tracer the ground-truth answer (w/ G)."),
    verify: bool = typer.Option(False, "--verify", help="Confirm or refute the prediction by replay (runnable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the attribution as JSON."),
) -> None:
    """Name the responsible agent, the decisive step and a reason for a failed trace."""
    from .attribution import get_attributor

    items = _read(src)
    try:
        att_m = get_attributor(method)
    except (ValueError, ImportError, RuntimeError) as e:
        _fail(str(e))
    results = []
    for item in items:
        tr = _trace_of(item)
        att = att_m.attribute(tr, ground_truth=tr.ground_truth if with_gt else None)
        if verify:
            from .annotation.verify import verify_attribution

            att = verify_attribution(tr, att)
        results.append((tr, att, item.gold if isinstance(item, AnnotatedTrace) else None))
    if as_json:
        console.print_json(json.dumps([{"run_id": t.run_id, **a.to_dict()} for t, a, _ in results]))
        return
    for tr, att, gold in results:
        _print_attribution(att, tr.run_id)
        if verify:
            v = att.metadata.get("verification") or {}
            color = {"confirmed": "green", "refuted": "red"}.get(v.get("status", ""), "yellow")
            console.print(f"  replay check: [{color}]{v.get('status', 'unverifiable')}[/] — {v.get('reason', '')}")
        if gold is not None:
            ok_a, ok_s = att.matches(gold)
            console.print(f"  gold: agent {gold.agent} ({'✓' if ok_a else '✗'}), step {gold.step} ({'✓' if ok_s else '✗'})")


@app.command("eval")
def eval_(
    src: Path = typer.Argument(..., help="A folder or file of annotated traces (e.g. Who&When)."),
    method: str = typer.Option("embedded", "--method", "-m"),
    with_gt: bool = typer.Option(False, "--with-gt", help="w/ G: give the ground truth to the tracer."),
    folds: int = typer.Option(
        5, "--folds", "-k", help="K for cross-validation of methods that learn; 0 = use the shipped parameters."
    ),
    seeds: int = typer.Option(1, "--seeds", help="Repeat cross-validation with this many seeds."),
    out: Path | None = typer.Option(None, "--json", help="Write per-file predictions and accuracies here."),
    train: list[Path] = typer.Option([], "--train", help="Train on these sets instead of cross-validating."),
) -> None:
    """Agent- and step-level accuracy with the trivial floors beside them (cross-validated when learning)."""
    from .evaluation import run_eval_cli

    run_eval_cli(src, method=method, with_gt=with_gt, folds=folds, seeds=seeds, out=out, train=train, console=console)


@app.command()
def inject(
    src: Path = typer.Argument(..., help="A successful trace."),
    fault: str = typer.Option(..., "--fault", help="Fault type (see `agentracer inject --help`)."),
    step: int = typer.Option(..., "--step", help="Step to corrupt."),
    out: Path | None = typer.Option(None, "--out", "-o"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Corrupt one step of a trace with a programmatic fault; the step becomes the label."""
    from .annotation.cli import inject_cli

    inject_cli(src, fault=fault, step=step, out=out, seed=seed, console=console)


@annotate_app.command("replay")
def annotate_replay(
    src: Path = typer.Argument(..., help="A failed trace recorded from a runnable system."),
    strategy: str = typer.Option("bisect", "--strategy", help="linear | bisect | prior"),
    out: Path | None = typer.Option(None, "--out", "-o"),
    method: str = typer.Option("embedded", "--method", "-m", help="The attributor whose ranking guides 'prior'."),
) -> None:
    """Find the decisive step by counterfactual replay."""
    from .annotation.cli import replay_cli

    replay_cli(src, strategy=strategy, out=out, console=console, method=method)


@annotate_app.command("generate")
def annotate_generate(
    framework: str = typer.Option("langgraph", "--framework", "-f"),
    domain: str = typer.Option("math", "--domain", "-d"),
    n: int = typer.Option(100, "--n"),
    out: Path = typer.Option(Path("runs/generated"), "--out", "-o"),
    seed: int = typer.Option(0, "--seed"),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint for real LLM agents."),
    model: str | None = typer.Option(None, "--model"),
    ray: bool = typer.Option(False, "--ray", help="Run replays on a local Ray."),
    ray_address: str | None = typer.Option(None, "--ray-address"),
    strategy: str = typer.Option("bisect", "--strategy", help="Replay strategy for failed runs: linear | bisect | prior."),
    size: int | None = typer.Option(None, "--size", help="Agent steps per run (default: a domain-specific mix)."),
) -> None:
    """Generate, record and label multi-agent runs (by replay and by injection).

    FRAMEWORK and DOMAIN take a comma list or 'all'; N runs per (framework, domain). Output is appended
    to OUT (resumable: rerun the same command after a crash), then OUT/dataset is built.
    """
    from .annotation.cli import generate_cli

    generate_cli(
        framework=framework, domain=domain, n=n, out=out, seed=seed, base_url=base_url, model=model,
        ray=ray, ray_address=ray_address, console=console, strategy=strategy, size=size,
    )


@app.command()
def train(config: Path = typer.Option(..., "--config", "-c", help="A recipe YAML (see trainer/configs).")) -> None:
    """Train a tracer with GRPO (TRL) from a recipe config."""
    from .training.cli import train_cli

    train_cli(config, console=console)


@app.command()
def report(
    src: Path = typer.Argument(..., help="A trace file."),
    out: Path = typer.Option(Path("report.html"), "--out", "-o"),
    method: str = typer.Option("embedded", "--method", "-m"),
) -> None:
    """Write a self-contained HTML report: timeline per agent, decisive step highlighted."""
    from .report import write_report

    items = _read(src)
    path = write_report(items[0], out, method=method)
    console.print(f"report -> {path}")


@app.command()
def refine(
    demo: bool = typer.Option(False, "--demo", help="Offline demo with simulated agents."),
    rounds: int = typer.Option(3, "--rounds"),
    out: Path = typer.Option(Path("runs/refine"), "--out", "-o"),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint for real LLM agents."),
    model: str | None = typer.Option(None, "--model"),
    framework: str = typer.Option("auto", "--framework", help="maas | langgraph | maas,langgraph | auto (both)."),
    seed: int = typer.Option(0, "--seed"),
    tasks: Path | None = typer.Option(None, "--tasks", help="JSONL of {question, answer} (default: generated)."),
    n_tasks: int = typer.Option(40, "--n-tasks", help="Generated tasks (and as many held-out ones)."),
    tracer: list[str] = typer.Option([], "--tracer", help="Extra attribution backends, e.g. openai:MODEL@URL."),
) -> None:
    """Self-refinement rounds: attribution fed back to the responsible agent, vs generic reflection."""
    from .refinement import refine_cli

    refine_cli(demo=demo, rounds=rounds, out=out, base_url=base_url, model=model, framework=framework, seed=seed,
               console=console, tasks=tasks, n_tasks=n_tasks, tracers=tracer)


@app.command()
def plugins() -> None:
    """List installed framework plugins, their framework version, and whether it is installed."""
    from .hooks import list_plugins

    t = Table(title="agentracer plugins")
    for col in ("plugin", "framework", "distribution", "version", "installed"):
        t.add_column(col)
    for p in list_plugins():
        t.add_row(p["name"], str(p.get("framework")), str(p.get("distribution")), str(p.get("version") or "-"),
                  "yes" if p.get("installed") else "no")
    console.print(t)


@app.command()
def demo(out: Path = typer.Option(Path("demo-out"), "--out", "-o", help="Where the trace files go.")) -> None:
    """Run a LangGraph planner → solver → verifier system that fails, record it, attribute it."""
    from .samples.demo import run_demo

    run_demo(out, console=console)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``agentracer`` script."""
    return app(args=argv if argv is not None else sys.argv[1:], prog_name="agentracer")


if __name__ == "__main__":
    main()
