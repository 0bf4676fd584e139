"""The bodies of ``agentracer inject``, ``agentracer annotate replay`` and ``agentracer annotate generate``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ..errors import CommandError
from ..trace import AnnotatedTrace, Trace, TraceError

__all__ = ["generate_cli", "inject_cli", "replay_cli"]


def _fail(console: Console, msg: str, code: int = 2) -> None:
    raise CommandError(msg, code)  # agentracer.cli prints it as `agentracer: error: ...`


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), TextColumn("{task.fields[info]}"), console=console, transient=False)


def _traces(src: Path, console: Console) -> list[Trace]:
    from ..formats import read

    try:
        items = read(src)
    except TraceError as e:
        _fail(console, str(e))
    if not items:
        _fail(console, f"{src}: holds no trace")
    return [x.trace if isinstance(x, AnnotatedTrace) else x for x in items]


def _split_list(value: str, known: tuple[str, ...], what: str, console: Console) -> list[str]:
    vals = list(known) if value.strip().lower() == "all" else [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in vals if v not in known]
    if bad or not vals:
        _fail(console, f"unknown {what} {', '.join(bad) or value!r}; expected one of {', '.join(known)} or 'all'")
    return vals


# ------------------------------------------------------------------------------------------- inject
def inject_cli(src: Path, *, fault: str, step: int, out: Path | None, seed: int, console: Console) -> None:
    """Inject ``fault`` into step ``step`` of the (first) trace of ``src``; verify by replay when runnable."""
    from ..formats import write
    from .generate import GeneratedSystem
    from .inject import FAULTS, InjectionError, inject

    if fault not in FAULTS:
        _fail(console, f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
    trace = _traces(src, console)[0]
    if trace.outcome != "success":
        _fail(console, f"{src}: run {trace.run_id} has outcome {trace.outcome}; inject needs a successful run "
                       "(a fault injected into a run that did not succeed gives a wrongly labelled sample)")
    try:
        system = GeneratedSystem.from_trace(trace)
    except TraceError:
        system = None
    with _progress(console) as prog:
        task = prog.add_task("injecting", total=1, info=f"{fault} @ step {step}")
        try:
            ann = inject(trace, step, fault, system=system, seed=seed)
        except (InjectionError, TraceError) as e:
            _fail(console, str(e))
        prog.update(task, advance=1, info="re-ran the suffix" if system is not None else "not runnable: unverified")
    if ann is None:
        console.print(f"[yellow]the injected fault did not make the run fail[/] (step {step}, {fault}): no sample kept")
        raise typer.Exit(1)
    verified = ann.metadata.get("verified")
    console.print(f"[bold]{fault}[/] injected into step {step} ({ann.gold.agent}); "
                  + ("the re-run [red]fails[/]: sample kept" if verified else
                     "[yellow]the system is not runnable from this trace: the suffix was not re-run (unverified)[/]"))
    before, after = ann.metadata["original"], ann.metadata["mutated"]
    i = next((j for j, (a, b) in enumerate(zip(before, after, strict=False)) if a != b), min(len(before), len(after)))
    lo = max(0, i - 60)
    console.print(f"  before: {'…' if lo else ''}{before[lo:i + 80]!r}\n  after:  {'…' if lo else ''}{after[lo:i + 80]!r}")
    if out is not None:
        write([ann], out, "jsonl" if out.suffix == ".jsonl" else "json")
        console.print(f"-> {out}")


# ------------------------------------------------------------------------------------------- replay
def replay_cli(src: Path, *, strategy: str, out: Path | None, console: Console, method: str = "embedded") -> None:
    """Find the decisive step of each failed, runnable trace of ``src`` by counterfactual replay."""
    from ..formats import write
    from .generate import GeneratedSystem
    from .replay import STRATEGIES, ReplayError, find_decisive, replay_budget

    if strategy not in STRATEGIES:
        _fail(console, f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    traces = _traces(src, console)
    attributor = None
    if strategy == "prior":
        from ..attribution import get_attributor

        attributor = get_attributor(method)
    table = Table(title=f"counterfactual replay ({strategy})")
    for col in ("run", "steps", "status", "agent", "step", "replays", "budget", "live calls before fork"):
        named = col in ("run", "agent")  # names stay whole (folded only if nothing else fits); the rest wraps
        table.add_column(col, no_wrap=named, overflow="fold")
    labelled: list[AnnotatedTrace] = []
    with _progress(console) as prog:
        task = prog.add_task("replaying", total=len(traces), info="")
        for tr in traces:
            if tr.outcome != "failure":
                table.add_row(tr.run_id, str(len(tr.agent_steps())), f"skipped ({tr.outcome})", "", "", "0", "", "")
                prog.advance(task)
                continue
            try:
                system = GeneratedSystem.from_trace(tr)
            except TraceError as e:
                _fail(console, f"{tr.run_id}: {e}. `annotate replay` needs a trace recorded by a generator (it "
                               "carries its system's spec); for your own system use agentracer.annotation.find_decisive "
                               "with a ForkReplayable")
            try:
                res = find_decisive(tr, system, system.oracle(), strategy=strategy, attributor=attributor)
            except ReplayError as e:
                _fail(console, str(e))
            n = len(tr.agent_steps())
            table.add_row(tr.run_id, str(n), res.status, res.agent or "", str(res.step if res.step is not None else ""),
                          str(res.replays), str(replay_budget(n, strategy)) if strategy != "prior" else "-",
                          str(res.live_calls_before_fork))
            ann = res.annotated(tr)
            if ann is not None:
                labelled.append(ann)
            prog.update(task, advance=1, info=f"{tr.run_id}: {res.status}")
    console.print(table)
    if out is not None:
        write(labelled, out, "jsonl")
        console.print(f"{len(labelled)} labelled trace(s) -> {out}")


# ----------------------------------------------------------------------------------------- generate
def generate_cli(
    *,
    framework: str,
    domain: str,
    n: int,
    out: Path,
    seed: int,
    base_url: str | None,
    model: str | None,
    ray: bool,
    ray_address: str | None,
    console: Console,
    strategy: str = "bisect",
    size: int | None = None,
    build: bool = True,
    system: str | None = None,
) -> None:
    """Generate ``n`` runs per (framework, domain), label them, append to ``out``, then build the dataset.

    ``system`` picks a named system shape of the framework(s) (``supervisor`` on langgraph, ``workforce`` on
    camel) on orchestrator-led domains.
    """
    from .dataset import build_dataset
    from .domains import DOMAINS
    from .generate import FRAMEWORKS, available_frameworks
    from .generate.spec import SYSTEMS
    from .generate.system import check_system
    from .scale import Ledger, plan_items, run_items

    fws = _split_list(framework, FRAMEWORKS if framework != "all" else tuple(f for f in FRAMEWORKS if f != "python"),
                      "framework", console)
    doms = _split_list(domain, tuple(DOMAINS), "domain", console)
    avail = available_frameworks()
    missing = [f for f in fws if not avail.get(f)]
    if missing:
        _fail(console, f"framework(s) not installed: {', '.join(missing)} (pip install 'agentracer[{missing[0]}]')")
    if n < 1:
        _fail(console, "--n must be at least 1")
    if system:
        for f in fws:
            for d in doms:
                try:
                    check_system(f, d, system)
                except ValueError as e:
                    _fail(console, f"{e} (--system needs --framework {' or '.join(k for k, v in SYSTEMS.items() if system in v) or 'langgraph'})")
    items = plan_items(fws, doms, n, seed=seed, size=size, system=system)
    options: dict[str, Any] = {"strategy": strategy}
    if base_url:
        options.update(base_url=base_url, model=model or "default")
    done_before = len(Ledger(out).done() & {i.item_id for i in items})
    console.print(f"{len(items)} item(s) ({', '.join(fws)} x {', '.join(doms)} x {n}); {done_before} already done in {out}"
                  + (" [dim](resuming)[/]" if done_before else ""))
    with _progress(console) as prog:
        task = prog.add_task("generating", total=len(items), completed=done_before, info="")
        stats = {"replay": 0, "injection": 0, "skipped": 0, "error": 0}

        def tick(res: dict[str, Any]) -> None:
            stats[res["status"]] = stats.get(res["status"], 0) + 1
            info = " ".join(f"{k}={v}" for k, v in stats.items() if v)
            prog.update(task, advance=1, info=info)

        summary = run_items(items, out, ray=ray, ray_address=ray_address, progress=tick, **options)
    rate = summary["per_minute"]
    console.print(f"ran {summary['ran']} item(s) in {summary['seconds']:.1f}s: {summary['counts']}; "
                  f"{summary['labelled']} labelled ({rate:.0f}/min)" if math.isfinite(rate) else "")
    errors = [e for e in Ledger(out).entries() if e.get("status") == "error"]
    if errors:
        console.print(f"[yellow]{len(errors)} item(s) failed[/], e.g. {errors[0]['item_id']}: {errors[0]['reason']}")
    if build:
        anns = Ledger(out).read_annotations()
        if anns:
            info = build_dataset(anns, out / "dataset", notes=(
                f"`agentracer annotate generate --framework {framework}" + (f" --system {system}" if system else "")
                + f" --domain {domain} --n {n} --seed {seed}`"
                f" (strategy {strategy}; scripted agents unless --base-url)."))
            console.print(f"dataset: {info['rows']} row(s) {info['splits']} -> {info['path']} "
                          f"(card: {Path(info['path']) / 'README.md'})")
            (out / "summary.json").write_text(json.dumps({"generate": summary, "dataset": info}, indent=2), encoding="utf-8")
        else:
            console.print("[yellow]no labelled trace yet: no dataset built[/]")
