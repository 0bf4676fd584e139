"""The embedded CPU attributor: offline, no weights to download.

Placeholder heuristic (to be replaced by the learned attributor): the first agent step that is
followed by an error, or that states a final answer, else the first substantive agent step.
"""

from __future__ import annotations

import re
from typing import Any

from ..trace import Attribution, Trace
from .base import register

_ERR = re.compile(r"(?i)(traceback|error|exception|failed|exitcode: 1|not found|cannot|unable)")


class EmbeddedAttributor:
    """Heuristic attributor used until the learned one lands."""

    name = "embedded"

    def attribute(self, trace: Trace, ground_truth: str | None = None) -> Attribution:
        steps = trace.agent_steps()
        if not steps:
            return Attribution(agent=None, step=None, reason="empty trace", method=self.name, parsed=False)
        cand = steps[1:] if len(steps) > 1 else steps
        for prev, nxt in zip(cand, cand[1:]):
            if _ERR.search(nxt.content or "") and not _ERR.search(prev.content or ""):
                return Attribution(prev.agent, prev.index, "the next step reports an error", 0.3, self.name, [nxt.index])
        s = cand[0]
        return Attribution(s.agent, s.index, "first substantive step", 0.2, self.name)


@register("embedded")
def _factory(**options: Any) -> EmbeddedAttributor:
    return EmbeddedAttributor()
