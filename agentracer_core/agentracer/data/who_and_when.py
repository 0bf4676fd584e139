"""The Who&When benchmark (Zhang et al., "Which Agent Causes Task Failures and When?", ICML 2025).

Source: the GitHub repository ag2ai/Agents_Failure_Attribution (folder ``Who&When``, MIT License) and its
Hugging Face mirror ``Kevin355/Who_and_When`` (configs ``Algorithm-Generated`` and ``Hand-Crafted``, split
``train``; the mirror carries no license tag of its own, the data is the GitHub repository's, MIT).

:func:`fetch_who_and_when` loads the mirror through Hugging Face ``datasets`` (imported lazily; the ``data``
extra installs it), or reads parquet/JSON files downloaded by hand, and :func:`write_who_and_when` writes
one JSON file per run, ``OUT/<subset>/<i>.json``, the layout of the GitHub repository that ``agentracer
eval OUT/Algorithm-Generated`` reads. Arrow stores a column of dicts as one struct with the union of all
keys, so the rows come back with ``None`` for keys a record never had; those are dropped again here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["HF_REPO", "SUBSETS", "DataError", "clean_row", "fetch_who_and_when", "write_who_and_when"]

HF_REPO = "Kevin355/Who_and_When"
GITHUB_REPO = "https://github.com/ag2ai/Agents_Failure_Attribution"
SUBSETS = ("Algorithm-Generated", "Hand-Crafted")

LICENSE_NOTE = (
    "MIT License. Copyright (c) the authors of ag2ai/Agents_Failure_Attribution.\n"
    "The full license text is in LICENSE at " + GITHUB_REPO + ".\n"
)


class DataError(RuntimeError):
    """A data set could not be fetched or read; the message says what to do instead (one line)."""


def manual_steps(out: Path) -> str:
    """The manual route, in one line: where to download the files and where to put them."""
    return (
        f"download the folder 'Who&When' of {GITHUB_REPO} (or the parquet files of "
        f"https://huggingface.co/datasets/{HF_REPO}) and either copy its Algorithm-Generated/ and Hand-Crafted/ "
        f"folders into {out}/, or run `agentracer data who-and-when --from DOWNLOADED --out {out}`"
    )


def _drop_none(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {k: _drop_none(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_drop_none(x) for x in v]
    return v


def clean_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """One Hugging Face row as the GitHub repository's JSON: ``None`` struct fields dropped (Arrow's union
    of keys), ``mistake_step`` as the string the original files hold, absent top-level fields left out."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if v is None:
            continue
        if k in ("history", "system_prompt"):
            v = _drop_none(v)
        if k == "history" and isinstance(v, str):  # some exports keep the history as a JSON string
            try:
                v = json.loads(v)
            except ValueError:
                raise DataError(f"row {row.get('question_ID', '?')}: 'history' is a string but not JSON") from None
        if k == "mistake_step" and isinstance(v, (int, float)) and not isinstance(v, bool):
            v = str(int(v))
        out[k] = v
    if not isinstance(out.get("history"), list):
        raise DataError(f"row {row.get('question_ID', '?')}: no 'history' list; is this the Who&When data set?")
    return out


def write_who_and_when(subsets: Mapping[str, Iterable[Mapping[str, Any]]], out: str | Path) -> dict[str, int]:
    """Write each subset's rows as ``OUT/<subset>/<i>.json`` (i from 1, as in the GitHub repository) with a
    SOURCE.md and LICENSE beside them; returns the number of files per subset. Existing files are replaced."""
    out = Path(out)
    counts: dict[str, int] = {}
    for name, rows in subsets.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        n = 0
        for n, row in enumerate(rows, start=1):
            rec = clean_row(row)
            tmp = folder / f".{n}.json.tmp"
            tmp.write_text(json.dumps(rec, ensure_ascii=False, indent=1), encoding="utf-8")
            tmp.replace(folder / f"{n}.json")
        counts[name] = n
    (out / "LICENSE").write_text(LICENSE_NOTE, encoding="utf-8")
    (out / "SOURCE.md").write_text(
        "# Who&When\n"
        f"Written by `agentracer data who-and-when` from {HF_REPO} (Hugging Face mirror of {GITHUB_REPO}, "
        "folder `Who&When`; MIT License, see LICENSE).\n"
        + "".join(f"- {k}: {v} runs, one JSON file each\n" for k, v in counts.items()),
        encoding="utf-8",
    )
    return counts


def _from_files(src: Path, subsets: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Rows from files downloaded by hand: ``<subset>.parquet`` files or ``<subset>/`` folders of JSON."""
    found: dict[str, list[dict[str, Any]]] = {}
    for name in subsets:
        folder = src / name if (src / name).is_dir() else src / "Who&When" / name
        parquet = next((p for p in (src / f"{name}.parquet", src / "Who&When" / f"{name}.parquet") if p.is_file()),
                       None)
        if folder.is_dir():
            files = sorted(folder.glob("*.json"), key=lambda p: (int(p.stem) if p.stem.isdigit() else 10**9, p.name))
            try:
                found[name] = [json.loads(p.read_text(encoding="utf-8")) for p in files]
            except ValueError as e:
                raise DataError(f"{folder}: not JSON ({e})") from None
        elif parquet is not None:
            ds = _load_dataset()("parquet", data_files=str(parquet), split="train")
            found[name] = list(ds)
    if not found:
        raise DataError(f"{src}: holds neither {'/ nor '.join(subsets)}/ folders nor <subset>.parquet files")
    return found


def _load_dataset() -> Callable[..., Any]:
    try:
        from datasets import load_dataset
    except ImportError:
        raise DataError("needs Hugging Face `datasets`: pip install 'agentracer[data]'") from None
    return load_dataset


def fetch_who_and_when(
    out: str | Path,
    *,
    subsets: Iterable[str] = SUBSETS,
    src: str | Path | None = None,
    revision: str | None = None,
    loader: Callable[..., Any] | None = None,
) -> dict[str, int]:
    """Fetch Who&When (from the Hugging Face mirror, or from ``src``: files downloaded by hand) and write it
    under ``out`` in the layout ``agentracer eval`` reads. Raises :class:`DataError` with a one-line message
    naming the manual steps when the mirror cannot be reached. ``loader`` stands in for
    ``datasets.load_dataset`` (tests)."""
    out = Path(out)
    subsets = tuple(subsets)
    bad = [s for s in subsets if s not in SUBSETS]
    if bad:
        raise DataError(f"unknown subset {bad[0]!r}; expected one of {', '.join(SUBSETS)}")
    if src is not None:
        src = Path(src)
        if not src.exists():
            raise DataError(f"{src}: no such file or folder")
        return write_who_and_when(_from_files(src, subsets), out)
    load = loader or _load_dataset()
    rows: dict[str, Any] = {}
    for name in subsets:
        try:
            rows[name] = load(HF_REPO, name, split="train", revision=revision)
        except Exception as e:  # offline, hub down, renamed: datasets raises many kinds; all mean the same here
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise DataError(
                f"could not fetch {HF_REPO} ({name}) from Hugging Face: {first}. To do it by hand: "
                + manual_steps(out)
            ) from None
    return write_who_and_when(rows, out)
