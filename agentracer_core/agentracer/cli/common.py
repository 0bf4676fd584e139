"""What the ``agentracer`` commands share: the consoles, one-line errors (and the command group that turns
every error into one), reading trace files, paging, and printing an attribution."""

from __future__ import annotations

import errno
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from ..errors import CommandError
from ..trace import AnnotatedTrace, Trace, TraceError

console = Console()
err_console = Console(stderr=True)


ERROR_PREFIX = "agentracer: error:"


def error_line(msg: str) -> None:
    """Print ``agentracer: error: MSG`` on stderr: the one error style of every command. One logical line
    (soft-wrapped, so a terminal folds it and a pipe or log gets it whole), and MSG is not read as markup."""
    from rich.markup import escape

    err_console.print(f"[bold red]{ERROR_PREFIX}[/] {escape(' '.join(str(msg).split()))}", highlight=False,
                      soft_wrap=True)


def _fail(msg: str, code: int = 2) -> None:
    error_line(msg)
    raise typer.Exit(code)


class ErrorStyleGroup(TyperGroup):
    """The ``agentracer`` command group: every error of every command ends as one ``agentracer: error:``
    line and an exit status. Usage errors (missing option, bad value; status 2) say which ``--help`` to
    read; a :class:`~agentracer.errors.CommandError` from a command's body keeps its own status; a file that
    cannot be read or written (``OSError``) gives status 1 instead of a traceback."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        code: Any = 0
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except CommandError as e:
            error_line(str(e))
            code = e.code
        except typer.TyperException as e:  # click's ClickException / UsageError (vendored by Typer)
            if type(e).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as click prints it
                e.show()  # type: ignore[attr-defined]
                code = e.exit_code
            else:
                ctx = getattr(e, "ctx", None)
                hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
                error_line(e.format_message().rstrip() + hint)
                code = e.exit_code
        except typer.Abort:
            error_line("aborted")
            code = 1
        except OSError as e:
            if e.errno == errno.EPIPE:  # the reader of a pipe went away (| head): quiet, as click does
                code = 1
            else:
                error_line(f"{e.filename or ''}{': ' if e.filename else ''}{e.strerror or e}")
                code = 1
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


def _read(path: Path) -> list[Trace | AnnotatedTrace]:
    from ..formats import read

    try:
        items = read(path)
    except TraceError as e:
        _fail(str(e))
    if not items:
        _fail(f"{path}: holds no trace")
    return items


def _trace_of(item: Trace | AnnotatedTrace) -> Trace:
    return item.trace if isinstance(item, AnnotatedTrace) else item


_OUTCOME_HELP = "Set the outcome of every trace read (failure | success | unknown); imported traces are unknown."


def _set_outcome(items: list[Trace | AnnotatedTrace], outcome: str | None) -> None:
    if outcome is None:
        return
    if outcome not in ("failure", "success", "unknown"):
        _fail(f"--outcome {outcome!r}: expected failure, success or unknown")
    for item in items:
        _trace_of(item).outcome = outcome



def _pick(items: list[Trace | AnnotatedTrace], src: Path, index: int) -> Trace | AnnotatedTrace:
    if not 0 <= index < len(items):
        _fail(f"{src}: has {len(items)} trace(s); --index {index} is out of range (0..{len(items) - 1})")
    return items[index]


def _step_range(spec: str | None, limit: int, total: int) -> range:
    if spec is None:
        return range(0, min(total, limit) if limit > 0 else total)
    a, sep, b = spec.partition(":")
    try:
        lo = int(a) if a.strip() else 0
        hi = int(b) if b.strip() else total
    except ValueError:
        _fail(f"--steps {spec!r}: expected A:B (e.g. 0:50, 100:, :20)")
    if not sep:
        hi = lo + 1
    lo, hi = max(0, lo), min(total, hi)
    if limit > 0:
        hi = min(hi, lo + limit)
    return range(lo, max(lo, hi))



EXIT_SUCCESS_RUN = 3  # `attribute`: a trace's run succeeded, so nothing was blamed (unless --force)


def _print_attribution(att: Any, src: str) -> None:
    if att.metadata.get("abstained"):
        console.print(f"[bold]{src}[/]: [green]no blame[/] — {att.reason} (use --force to attribute it anyway)")
        return
    if not att.parsed:
        console.print(f"[yellow]{src}: the tracer's answer could not be parsed[/] ({(att.raw or '')[:200]!r})")
        return
    conf = f" (confidence {att.confidence:.2f})" if att.confidence is not None else ""
    console.print(f"[bold]{src}[/]: agent [bold cyan]{att.agent}[/], step [bold cyan]{att.step}[/]{conf}")
    if att.reason:
        console.print(f"  reason: {att.reason}")
    if att.candidates:
        from ..attribution.confidence import candidates_text

        console.print(f"  top-{len(att.candidates)}: {candidates_text(att.candidates)}", highlight=False)
    if att.metadata.get("note"):
        console.print(f"  [yellow]{att.metadata['note']}[/]", highlight=False, soft_wrap=True)
