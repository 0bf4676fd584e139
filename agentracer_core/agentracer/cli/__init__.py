"""The ``agentracer`` command: import, export, show, attribute, eval, annotate, inject, train, report, refine,
plugins, demo, data.

Every verb is a thin shell over the library; heavy modules are imported only when their verb runs.
Errors in input files print one line (file, field, step) and exit with status 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ..trace import AnnotatedTrace, TraceError
from .common import (
    _OUTCOME_HELP,
    EXIT_SUCCESS_RUN,
    ErrorStyleGroup,
    _fail,
    _pick,
    _print_attribution,
    _read,
    _set_outcome,
    _trace_of,
    console,
    err_console,
)
from .data import data_app

app = typer.Typer(add_completion=False, no_args_is_help=True, cls=ErrorStyleGroup,
                  help="AgenTracer: who caused this multi-agent failure?")
annotate_app = typer.Typer(no_args_is_help=True, help="Build training data: counterfactual replay and generators.")
app.add_typer(annotate_app, name="annotate")
app.add_typer(data_app, name="data")


def _print_version(value: bool) -> None:
    if value:
        from .._version import __version__

        console.print(f"agentracer {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    pass



@app.command("import")
def import_(
    src: Path = typer.Argument(..., metavar="SRC", help="Who&When JSON, OTLP JSON or JSONL file, or a folder of them."),
    out: Path = typer.Option(..., "--out", "-o", help="Destination .jsonl file."),
    outcome: str | None = typer.Option(None, "--outcome", help=_OUTCOME_HELP),
    redact_pii: bool = typer.Option(False, "--redact-pii", help="Also mask e-mails, phone numbers, IBANs and card numbers."),
    redact_entropy: bool = typer.Option(False, "--redact-entropy", help="Also mask high-entropy strings (see docs/trust.md)."),
) -> None:
    """Import traces from any supported format into agentracer JSONL (secrets masked on the way out)."""
    from ..formats import write
    from ..recording.redact import configure

    configure(pii=redact_pii, entropy=redact_entropy)
    items = _read(src)
    _set_outcome(items, outcome)
    write(items, out, "jsonl")
    console.print(f"imported {len(items)} trace(s) from {src} -> {out}")


@app.command()
def export(
    src: Path = typer.Argument(..., metavar="SRC", help="A trace file (any supported format)."),
    out: Path = typer.Option(..., "--out", "-o", help="Destination file."),
    fmt: str = typer.Option("jsonl", "--format", "-f", help="jsonl | otlp | whowhen | json"),
    endpoint: str | None = typer.Option(
        None, "--endpoint", help="Also send the spans live over OTLP/HTTP to a running collector, e.g. Phoenix "
        "(`make phoenix`) at http://127.0.0.1:6006/v1/traces."
    ),
    attribute: bool = typer.Option(
        False, "--attribute", help="With --endpoint: attribute each failed trace and send the attribution as a "
        "span inside the run's own trace (child of its root span, linked to the decisive step)."
    ),
    method: str = typer.Option("embedded", "--method", "-m", help="The attribution method for --attribute."),
    project: str | None = typer.Option(
        None, "--project", help="With --endpoint: the project the spans land in (Phoenix's "
        "openinference.project.name; default: the collector's default project)."
    ),
    redact_pii: bool = typer.Option(False, "--redact-pii", help="Also mask e-mails, phone numbers, IBANs and card numbers."),
    redact_entropy: bool = typer.Option(False, "--redact-entropy", help="Also mask high-entropy strings (see docs/trust.md)."),
) -> None:
    """Export traces to JSONL, OTLP JSON, Who&When JSON or plain JSON (and optionally over OTLP/HTTP).

    Every output is redacted (secrets masked), imported content included."""
    from ..formats import write
    from ..recording.redact import configure

    configure(pii=redact_pii, entropy=redact_entropy)
    items = _read(src)
    if (attribute or project) and not endpoint:
        _fail("--attribute and --project go with --endpoint URL")
    try:
        write(items, out, fmt)
    except (TraceError, ValueError) as e:
        _fail(str(e))
    console.print(f"wrote {len(items)} trace(s) as {fmt} -> {out}", soft_wrap=True)
    if endpoint:
        from ..formats.otlp_live import send_otlp

        traces = [_trace_of(i) for i in items]
        atts = None
        if attribute:
            from ..attribution import get_attributor

            try:
                att_m = get_attributor(method)
            except (ValueError, ImportError, RuntimeError) as e:
                _fail(str(e))
            atts = [att_m.attribute(t) if t.outcome != "success" and t.steps else None for t in traces]
        try:
            n = send_otlp(traces, endpoint, attributions=atts, project=project)
        except (ConnectionError, ImportError) as e:
            _fail(f"{e}; nothing was sent ({out} is written). Start a collector first, e.g. `make phoenix`.", code=1)
        sent = sum(a is not None for a in atts or [])
        console.print(f"sent {n} span(s) to {endpoint}" + (f", {sent} attribution(s) inside their runs" if atts else ""),
                      soft_wrap=True)



@app.command()
def show(
    src: Path = typer.Argument(..., metavar="SRC", help="A trace file (any supported format)."),
    width: int = typer.Option(100, help="Characters of content shown per step."),
    index: int = typer.Option(0, "--index", "-i", help="Which trace of the file (0 = the first)."),
    steps: str | None = typer.Option(None, "--steps", help="Steps A:B to list (B excluded; 'A:' to the end)."),
    limit: int = typer.Option(50, "--limit", "-n", help="At most this many steps per page; 0 = no limit."),
    attribute_: bool = typer.Option(
        False, "--attribute", "-a", help="Also attribute it (embedded): mark the top-3 candidate steps."
    ),
) -> None:
    """Print a trace's summary (steps per agent and kind, its session) and one page of its steps as a table.

    A JSONL file is read in one pass that keeps no step text; only the page's steps are parsed."""
    from .show import show_cli

    show_cli(src, width=width, index=index, steps=steps, limit=limit, attribute=attribute_)



@app.command()
def attribute(
    src: Path = typer.Argument(..., metavar="SRC", help="A failed trace (any supported format)."),
    method: str = typer.Option("embedded", "--method", "-m", help="embedded | transformers:PATH | vllm:PATH | ..."),
    with_gt: bool = typer.Option(False, "--with-gt", help="Give the tracer the ground-truth answer (w/ G)."),
    verify: bool = typer.Option(False, "--verify", help="Confirm or refute the prediction by replay (runnable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the attribution as JSON."),
    outcome: str | None = typer.Option(None, "--outcome", help=_OUTCOME_HELP),
    force: bool = typer.Option(False, "--force", help="Attribute traces whose outcome is 'success' too."),
) -> None:
    """Name the responsible agent, the decisive step and a reason for a failed trace.

    A trace whose outcome is 'success' is not blamed (exit status 3) unless --force; an 'unknown'
    outcome gets a one-line warning. Low-confidence answers say so, with the top-3 candidates.
    """
    from ..attribution import get_attributor
    from ..attribution.confidence import outcome_guard

    items = _read(src)
    _set_outcome(items, outcome)
    try:
        att_m = get_attributor(method)
    except (ValueError, ImportError, RuntimeError) as e:
        _fail(str(e))
    results = []
    n_success = 0
    for item in items:
        tr = _trace_of(item)
        if tr.outcome == "unknown" and not as_json:
            err_console.print(f"[yellow]warning:[/] {tr.run_id}: outcome unknown; attributing it as if it failed",
                              highlight=False)
        if tr.outcome == "success" and not force:
            att = outcome_guard(tr, method=getattr(att_m, "name", method))
            n_success += 1
        else:
            att = att_m.attribute(tr, ground_truth=tr.ground_truth if with_gt else None)
            if verify:
                from ..annotation.verify import verify_attribution

                att = verify_attribution(tr, att)
        results.append((tr, att, item.gold if isinstance(item, AnnotatedTrace) else None))
    if as_json:
        console.print_json(json.dumps([{"run_id": t.run_id, **a.to_dict()} for t, a, _ in results]))
    else:
        for tr, att, gold in results:
            _print_attribution(att, tr.run_id)
            if att.metadata.get("abstained"):
                continue
            if verify:
                v = att.metadata.get("verification") or {}
                color = {"confirmed": "green", "refuted": "red"}.get(v.get("status", ""), "yellow")
                console.print(f"  replay check: [{color}]{v.get('status', 'unverifiable')}[/] — {v.get('reason', '')}")
            if gold is not None:
                ok_a, ok_s = att.matches(gold)
                console.print(
                    f"  gold: agent {gold.agent} ({'✓' if ok_a else '✗'}), step {gold.step} ({'✓' if ok_s else '✗'})"
                )
    if n_success:
        raise typer.Exit(EXIT_SUCCESS_RUN)


@app.command("eval")
def eval_(
    src: list[Path] = typer.Argument(
        None, metavar="SRC", help="A folder or file of annotated traces (e.g. Who&When); with --leave-one-out, 2+ sources."
    ),
    method: str = typer.Option("embedded", "--method", "-m", help="The attribution method to score (see `attribute`)."),
    with_gt: bool = typer.Option(False, "--with-gt", help="w/ G: give the ground truth to the tracer."),
    folds: int = typer.Option(
        5, "--folds", "-k", help="K for cross-validation of methods that learn; 0 = use the shipped parameters."
    ),
    seeds: int = typer.Option(1, "--seeds", help="Repeat cross-validation with this many seeds."),
    out: Path | None = typer.Option(None, "--json", help="Write per-file predictions and accuracies here."),
    train: list[Path] = typer.Option([], "--train", help="Train on these sets instead of cross-validating."),
    test: Path | None = typer.Option(None, "--test", help="The set to score (same as the SRC argument)."),
    leave_one_out: bool = typer.Option(
        False, "--leave-one-out", help="Each SRC is one system: train on all others, score it; print the matrix."
    ),
    calibrate_out: Path | None = typer.Option(
        None, "--calibrate-out", help="With --leave-one-out: write the confidence calibration fitted on it here."
    ),
    views: str = typer.Option(
        "matched", "--views",
        help="With --leave-one-out: 'matched' trains a cell that scores imported transcripts on the other sources "
        "seen as transcripts (as the shipped default profile learns); 'as-is' trains on every source as loaded.",
    ),
) -> None:
    """Agent- and step-level accuracy with the trivial floors beside them (cross-validated when learning).

    The cross-system protocol: `eval --train A --train B --test C` (train on other systems, score one), and
    `eval --leave-one-out A B C ...` (the matrix: each source scored by a model trained on all the others).
    """
    from ..evaluation import run_eval_cli, run_loo_cli

    srcs = list(src or []) + ([test] if test is not None else [])
    if leave_one_out:
        if train:
            _fail("--leave-one-out trains on the other sources; do not give --train")
        run_loo_cli(srcs, method=method, with_gt=with_gt, out=out, calibrate_out=calibrate_out, console=console,
                    views=views)
        return
    if len(srcs) != 1:
        _fail("give one set to score (SRC or --test SRC), or several with --leave-one-out")
    run_eval_cli(srcs[0], method=method, with_gt=with_gt, folds=folds, seeds=seeds, out=out, train=train,
                 console=console)


# agentracer.annotation.inject.FAULTS, spelled out so that `--help` imports nothing heavy (a test keeps them equal)
_FAULT_NAMES = ("wrong_return_value", "inverted_condition", "off_by_one", "wrong_tool_argument", "dropped_constraint",
                "fabricated_fact", "wrong_handoff")


@app.command()
def inject(
    src: Path = typer.Argument(..., metavar="SRC", help="A successful trace (outcome success); others are refused."),
    fault: str = typer.Option(..., "--fault", help="Fault type: " + ", ".join(_FAULT_NAMES) + "."),
    step: int = typer.Option(..., "--step", help="Step to corrupt."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the labelled sample here (JSONL)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the mutation."),
) -> None:
    """Corrupt one step of a trace with a programmatic fault; the step becomes the label."""
    from ..annotation.cli import inject_cli

    inject_cli(src, fault=fault, step=step, out=out, seed=seed, console=console)


@annotate_app.command("replay")
def annotate_replay(
    src: Path = typer.Argument(..., metavar="SRC", help="A failed trace recorded from a runnable system."),
    strategy: str = typer.Option("bisect", "--strategy", help="linear | bisect | prior"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the labelled trace here (JSONL)."),
    method: str = typer.Option("embedded", "--method", "-m", help="The attributor whose ranking guides 'prior'."),
) -> None:
    """Find the decisive step by counterfactual replay."""
    from ..annotation.cli import replay_cli

    replay_cli(src, strategy=strategy, out=out, console=console, method=method)


@annotate_app.command("generate")
def annotate_generate(
    framework: str = typer.Option("langgraph", "--framework", "-f", help="Framework(s): a comma list or 'all'."),
    domain: str = typer.Option("math", "--domain", "-d", help="Task domain(s): a comma list or 'all'."),
    n: int = typer.Option(100, "--n", help="Runs per (framework, domain)."),
    out: Path = typer.Option(Path("runs/generated"), "--out", "-o", help="Output folder (appended to; resumable)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of tasks, faults and simulated agents."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint for real LLM agents."),
    model: str | None = typer.Option(None, "--model", help="Model name at --base-url."),
    ray: bool = typer.Option(False, "--ray", help="Run replays on a local Ray."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="Address of a running Ray cluster."),
    strategy: str = typer.Option("bisect", "--strategy", help="Replay strategy for failed runs: linear | bisect | prior."),
    size: int | None = typer.Option(None, "--size", help="Agent steps per run (default: a domain-specific mix)."),
    system: str | None = typer.Option(None, "--system", help="A named system shape: supervisor (langgraph: a "
                                      "supervisor with ReAct workers) or workforce (camel). Domains web, files, multihop."),
) -> None:
    """Generate, record and label multi-agent runs (by replay and by injection).

    FRAMEWORK and DOMAIN take a comma list or 'all'; N runs per (framework, domain). Output is appended
    to OUT (resumable: rerun the same command after a crash), then OUT/dataset is built.
    """
    from ..annotation.cli import generate_cli

    generate_cli(
        framework=framework, domain=domain, n=n, out=out, seed=seed, base_url=base_url, model=model,
        ray=ray, ray_address=ray_address, console=console, strategy=strategy, size=size, system=system,
    )


@app.command()
def train(config: Path = typer.Option(..., "--config", "-c", help="A recipe YAML, or a shipped recipe by name (cpu-smoke, qwen3-8b-lora-1gpu, ...).")) -> None:
    """Train a tracer with GRPO (TRL) from a recipe config."""
    from ..training.cli import train_cli

    train_cli(config, console=console)


@app.command()
def report(
    src: Path = typer.Argument(..., metavar="SRC", help="A trace file (any supported format)."),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="Destination HTML file (with --all: the index page)."),
    method: str = typer.Option("embedded", "--method", "-m", help="The attribution method whose verdict it shows."),
    index: int = typer.Option(0, "--index", "-i", help="Which trace of the file (0 = the first)."),
    all_: bool = typer.Option(
        False, "--all", help="Every trace of the file: an index page at OUT (grouped by session) and one page per "
        "trace beside it (OUT's name + -K.html)."
    ),
) -> None:
    """Write a self-contained HTML report: timeline per agent, decisive step highlighted.

    A long run (over 2,000 records) gets a bounded page: the decisive step and the candidates in full first,
    every other step collapsed and rendered on demand."""
    from ..report import write_report
    from ..report.pages import group_by_session, session_of, write_all

    items = _read(src)
    if all_:
        path = write_all(items, out, method=method, src=str(src))
        console.print(f"report index -> {path} ({len(items)} trace(s), one page each beside it)", soft_wrap=True)
        return
    item = _pick(items, src, index)
    ctx: dict[str, Any] = {"trace_index": index, "src": str(src)}
    sid = session_of(_trace_of(item))
    if sid:
        runs = next(idx for s, idx in group_by_session([session_of(_trace_of(i)) for i in items]) if s == sid)
        ctx.update(session=sid, run=runs.index(index) + 1, runs=len(runs))
    path = write_report(item, out, method=method, context=ctx)
    console.print(f"report -> {path} (trace {index + 1} of {len(items)})", soft_wrap=True)


@app.command()
def refine(
    demo: bool = typer.Option(False, "--demo", help="Offline demo with simulated agents."),
    rounds: int = typer.Option(3, "--rounds", help="Refinement rounds."),
    out: Path = typer.Option(Path("runs/refine"), "--out", "-o", help="Output folder for runs and the results table."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint for real LLM agents."),
    model: str | None = typer.Option(None, "--model", help="Model name at --base-url."),
    framework: str = typer.Option("auto", "--framework", help="maas | langgraph | maas,langgraph | auto (both)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of tasks and simulated agents."),
    tasks: Path | None = typer.Option(None, "--tasks", help="JSONL of {question, answer} (default: generated)."),
    n_tasks: int = typer.Option(40, "--n-tasks", help="Generated tasks (and as many held-out ones)."),
    tracer: list[str] = typer.Option([], "--tracer", help="Extra attribution backends, e.g. openai:MODEL@URL."),
    methods: str | None = typer.Option(None, "--methods", help="Comma list replacing the default methods, e.g. "
                                       "none,generic,tracer:embedded."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="Bound on each real agent's and the critic's reply."),
    guard: str = typer.Option("both", "--guard", help="Regression guard: both (with and without), on, off."),
) -> None:
    """Self-refinement rounds: attribution fed back to the responsible agent, vs generic reflection."""
    from ..refinement import refine_cli

    refine_cli(demo=demo, rounds=rounds, out=out, base_url=base_url, model=model, framework=framework, seed=seed,
               console=console, tasks=tasks, n_tasks=n_tasks, tracers=tracer,
               methods=methods.split(",") if methods else None, max_tokens=max_tokens, guard=guard)


@app.command()
def plugins() -> None:
    """List the framework plugins: each framework's version if installed, else what to install for it."""
    from rich.markup import escape

    from ..hooks import list_plugins

    t = Table(title="agentracer plugins")
    for col in ("plugin", "framework", "package", "version", "status"):
        # names stay whole (folded only if nothing else fits); the status wraps
        t.add_column(col, no_wrap=col != "status", overflow="fold")
    hints = []
    for p in list_plugins():
        if p.get("by_shape"):
            package = "- (not a package)"
            status = "recognised by shape" + ("; checkout found" if p.get("installed") else "")
        else:
            package = str(p.get("distribution"))
            status = "installed" if p.get("installed") else "not installed"
        t.add_row(p["name"], str(p.get("framework")), package, str(p.get("version") or "-"), status)
        if p.get("install"):
            hints.append(f"to use {p['name']}: {escape(str(p['install']))}")  # escape: [langgraph] is not markup
    console.print(t)
    for h in hints:
        console.print(h, highlight=False)  # wrapped at words by the console, never cut


@app.command()
def demo(out: Path = typer.Option(Path("demo-out"), "--out", "-o", help="Where the trace files go.")) -> None:
    """Run a LangGraph planner → solver → verifier system that fails, record it, attribute it."""
    from ..samples.demo import run_demo

    run_demo(out, console=console)


def _format_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                    line: str | None = None) -> str:
    """A library warning as the command prints its own (``warning: …``), without the source path and line."""
    return f"warning: {message}\n"


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``agentracer`` script."""
    import warnings

    warnings.formatwarning = _format_warning
    return app(args=argv if argv is not None else sys.argv[1:], prog_name="agentracer")


if __name__ == "__main__":
    main()
