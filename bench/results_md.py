"""Merge a freshly rendered results page into the committed one, section by section.

A benchmark with parts (``bench_annotation.py replays|agreement|throughput|dataset``) renders only the parts
whose raw results it has; the raw results (``bench/out/``) are not committed, so on a fresh clone running one
part would otherwise rewrite the page with that part alone. :func:`merge_sections` keeps every ``## `` section
of the old page that the new rendering does not contain, in its old place, and takes the rest from the new.
A page with optional parts inside one section (``bench_attribution.py --skip-accuracy``) marks each part with
``<!-- part:NAME -->`` ... ``<!-- end:NAME -->`` and renders a skipped part as an empty pair;
:func:`merge_blocks` fills an empty pair from the old page.
"""

from __future__ import annotations

import re

__all__ = ["merge_blocks", "merge_sections", "split_sections"]

_BLOCK = re.compile(r"<!-- part:([\w-]+) -->\n(.*?)<!-- end:\1 -->\n?", re.S)


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


def _block(name: str, body: str) -> str:
    return f"<!-- part:{name} -->\n{body}<!-- end:{name} -->\n"


def merge_blocks(old: str, new: str) -> str:
    """``new`` with each empty ``<!-- part:NAME -->`` block replaced by that block of ``old`` (when it has one)."""
    kept = {m.group(1): m.group(2) for m in _BLOCK.finditer(old)}

    def fill(m: re.Match[str]) -> str:
        name, body = m.group(1), m.group(2)
        return _block(name, body if body.strip() else kept.get(name, body))

    return _BLOCK.sub(fill, new)
