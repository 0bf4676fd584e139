"""Merge a freshly rendered results page into the committed one, section by section.

A benchmark with parts (``bench_annotation.py replays|agreement|throughput|dataset``) renders only the parts
whose raw results it has; the raw results (``bench/out/``) are not committed, so on a fresh clone running one
part would otherwise rewrite the page with that part alone. :func:`merge_sections` keeps every ``## `` section
of the old page that the new rendering does not contain, in its old place, and takes the rest from the new.
"""

from __future__ import annotations

__all__ = ["merge_sections", "split_sections"]


def split_sections(text: str) -> tuple[str, list[tuple[str, str]]]:
    """``text`` as (preamble, [(heading line, whole section text)]) split at lines starting with ``## ``."""
    preamble: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            sections.append((line.strip(), [line]))
        elif sections:
            sections[-1][1].append(line)
        else:
            preamble.append(line)
    return "".join(preamble), [(h, "".join(body)) for h, body in sections]


def merge_sections(old: str, new: str) -> str:
    """The new page, plus each section of ``old`` whose heading ``new`` lacks, placed after the section that
    preceded it in ``old`` (or first when it was first). The preamble is the new one."""
    _, old_secs = split_sections(old)
    pre, new_secs = split_sections(new)
    merged = list(new_secs)
    have = {h for h, _ in merged}
    prev: str | None = None
    for heading, body in old_secs:
        if heading not in have:
            at = next((i + 1 for i, (h, _) in enumerate(merged) if h == prev), 0) if prev else 0
            merged.insert(at, (heading, body if body.endswith("\n") else body + "\n"))
            have.add(heading)
        prev = heading
    return pre + "".join(body for _, body in merged)
