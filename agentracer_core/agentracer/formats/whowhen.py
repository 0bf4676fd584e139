"""Who&When JSON (ag2ai/Agents_Failure_Attribution), both ways.

``history[i]`` maps to ``Step(index=i)`` and ``mistake_agent``/``mistake_step``/``mistake_reason`` to the
gold :class:`Attribution`. Both subsets are accepted: Algorithm-Generated (agent in ``name``) and
Hand-Crafted (agent in ``role``, e.g. ``"Orchestrator (thought)"``; ``is_corrected``). Every field the
source has is kept, so :func:`to_whowhen` gives back a dict equal to the input.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from ..recording.redact import redacts
from ..trace import AnnotatedTrace, Attribution, Step, Trace, TraceError

__all__ = ["as_transcript", "from_whowhen", "is_whowhen", "read_whowhen", "to_whowhen", "write_whowhen"]

_TOP = ("question", "ground_truth", "history", "mistake_agent", "mistake_step", "mistake_reason")


def is_whowhen(d: Any) -> bool:
    """Whether ``d`` looks like a Who&When record."""
    return isinstance(d, dict) and isinstance(d.get("history"), list) and "run_id" not in d


def _agent_of(entry: dict[str, Any]) -> str:
    name = entry.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    role = entry.get("role")
    if isinstance(role, str) and role.strip():
        r = role.strip()
        # Hand-Crafted: "Orchestrator (thought)" -> "Orchestrator"
        if r.endswith(")") and " (" in r:
            r = r[: r.rindex(" (")]
        return r
    return "unknown"


def _role_of(entry: dict[str, Any]) -> str:
    role = entry.get("role")
    if role in ("assistant", "user", "tool", "system"):
        return role
    return "assistant"


def from_whowhen(d: Any, *, name: str = "<who&when>") -> AnnotatedTrace | Trace:
    """Convert one Who&When record. Returns an AnnotatedTrace when it has gold labels, else a Trace."""
    if not isinstance(d, dict):
        raise TraceError(f"expected a Who&When object, got {type(d).__name__}", file=name)
    hist = d.get("history")
    if not isinstance(hist, list):
        raise TraceError("missing or not a list", file=name, field="history")
    steps = []
    for i, h in enumerate(hist):
        if not isinstance(h, dict):
            raise TraceError(f"expected an object, got {type(h).__name__}", file=name, field="history", step=i)
        content = h.get("content", "")
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise TraceError(f"expected a string, got {type(content).__name__}", file=name, field="content", step=i)
        steps.append(
            Step(index=i, agent=_agent_of(h), role=_role_of(h), content=content, metadata={"whowhen": copy.deepcopy(h)})
        )
    for k in ("question", "ground_truth"):
        if d.get(k) is not None and not isinstance(d.get(k), (str, int, float)):
            raise TraceError(f"expected a string, got {type(d[k]).__name__}", file=name, field=k)
    correct = d.get("is_correct", d.get("is_corrected"))
    outcome = "success" if correct is True else ("failure" if correct is False or "mistake_step" in d else "unknown")
    extra = {k: copy.deepcopy(v) for k, v in d.items() if k != "history"}
    qid = d.get("question_ID")
    trace = Trace(
        run_id=str(qid) if qid else Path(name).stem or "whowhen",
        task=str(d.get("question") or ""),
        framework="whowhen",
        steps=steps,
        outcome=outcome,
        ground_truth=None if d.get("ground_truth") is None else str(d.get("ground_truth")),
        metadata={"whowhen": extra, "source_file": name},
    )
    for s in steps:
        if s.agent not in trace.agents:
            trace.agents.append(s.agent)
    if "mistake_step" not in d and "mistake_agent" not in d:
        return trace
    raw_step = d.get("mistake_step")
    try:
        step = int(str(raw_step).strip())
    except (TypeError, ValueError):
        raise TraceError(f"not an integer: {raw_step!r}", file=name, field="mistake_step") from None
    if not 0 <= step < len(steps):
        raise TraceError(f"{step} is outside the history (0..{len(steps) - 1})", file=name, field="mistake_step")
    agent = d.get("mistake_agent")
    if not isinstance(agent, str):
        raise TraceError("missing or not a string", file=name, field="mistake_agent")
    reason = d.get("mistake_reason")
    gold = Attribution(agent=agent, step=step, reason=str(reason or ""), method="human")
    return AnnotatedTrace(trace=trace, gold=gold, source="human")


def to_whowhen(item: Trace | AnnotatedTrace) -> dict[str, Any]:
    """Convert back to a Who&When dict. A trace imported from Who&When comes back equal to its source."""
    trace = item.trace if isinstance(item, AnnotatedTrace) else item
    gold = item.gold if isinstance(item, AnnotatedTrace) else None
    src = trace.metadata.get("whowhen")
    if isinstance(src, dict):
        out = copy.deepcopy(src)
    else:
        # an unknown outcome stays unknown (null), a missing ground truth stays missing (null): neither
        # becomes a claim (false / "") that would re-import as a failure with an empty answer
        out = {
            "is_correct": {"success": True, "failure": False}.get(trace.outcome),
            "question": trace.task,
            "question_ID": trace.run_id,
            "ground_truth": trace.ground_truth,
        }
    hist = []
    top = trace.agent_steps()
    position = {s.index: i for i, s in enumerate(top)}  # history[i] is the i-th agent step
    for s in top:
        h = s.metadata.get("whowhen")
        if isinstance(h, dict) and h.get("content", "") == s.content:
            hist.append(copy.deepcopy(h))
        else:
            hist.append({"content": s.content, "role": s.role, "name": s.agent})
    out["history"] = hist
    if gold is not None:
        out["mistake_agent"] = gold.agent or ""
        step = position.get(gold.step, gold.step) if gold.step is not None else None
        old = out.get("mistake_step")
        same = old is not None and str(old).strip() == str(step)
        out["mistake_step"] = old if same else str(step if step is not None else "")
        if not (isinstance(src, dict) and src.get("mistake_reason") == gold.reason):
            out["mistake_reason"] = gold.reason
    return out


def as_transcript(item: Trace | AnnotatedTrace) -> Trace | AnnotatedTrace:
    """``item`` as an imported chat transcript shows such a run: one message per agent step, each with the
    results of the tool calls nested under it appended (an agent's message in a transcript carries what it
    saw), read back through :func:`from_whowhen`. The gold step is moved to its message; the labels' source,
    fault type and the trace's ``agentracer.source`` tag are kept.

    The embedded attributor's default profile answers imported transcripts; it learns from generated runs in
    this view so that it reads them as it will read a user's transcript
    (:mod:`agentracer.training.embedded_fit`, ``agentracer eval --leave-one-out``)."""
    trace = item.trace if isinstance(item, AnnotatedTrace) else item
    if profile_is_transcript(trace):
        return item
    root: dict[int, int] = {}
    for s in trace.steps:  # each nested call belongs to its top-level agent step
        root[s.index] = s.index if s.parent is None else root.get(s.parent, s.parent)
    seen: dict[int, list[str]] = {}
    for s in trace.steps:
        if s.parent is not None and s.kind in ("tool_call", "tool_result"):
            out = s.tool_result if s.tool_result is not None else s.content
            if out is not None and str(out).strip():
                seen.setdefault(root[s.index], []).append(str(out))
    hist, position = [], {}
    for s in trace.agent_steps():
        position[s.index] = len(hist)
        text = "\n".join([s.content or "", *seen.get(s.index, [])]).strip("\n")
        hist.append({"content": text, "role": s.role if s.role in ("assistant", "user") else "assistant",
                     "name": s.agent})
    d: dict[str, Any] = {"question": trace.task, "question_ID": trace.run_id, "ground_truth": trace.ground_truth,
                         "history": hist, "is_correct": {"success": True, "failure": False}.get(trace.outcome)}
    gold = item.gold if isinstance(item, AnnotatedTrace) else None
    if gold is not None and gold.step is not None and gold.step in position:
        d.update(mistake_agent=gold.agent or "", mistake_step=str(position[gold.step]), mistake_reason=gold.reason)
    out = from_whowhen(d, name=trace.run_id)
    t = out.trace if isinstance(out, AnnotatedTrace) else out
    t.outcome = trace.outcome
    t.final_answer = trace.final_answer
    for key in ("agentracer.source", "agentracer.generated"):
        if key in trace.metadata:
            t.metadata[key] = copy.deepcopy(trace.metadata[key])
    t.metadata["transcript_of"] = trace.framework  # the source it was labelled in stays its own (listwise.source_of)
    if isinstance(out, AnnotatedTrace) and isinstance(item, AnnotatedTrace):
        out.source, out.fault_type, out.counterfactual = item.source, item.fault_type, item.counterfactual
        out.gold.method = item.gold.method if item.gold else out.gold.method
        out.metadata = copy.deepcopy(item.metadata)
    return out


def profile_is_transcript(trace: Trace) -> bool:
    """Whether ``trace`` is an imported chat transcript (Who&When, or no known framework) rather than a run
    recorded from an instrumented framework."""
    return (trace.framework or "").lower() in ("whowhen", "unknown", "")


def read_whowhen(path: str | Path) -> AnnotatedTrace | Trace:
    """Read one Who&When JSON file."""
    path = Path(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise TraceError(f"malformed JSON: {e}", file=str(path)) from None
    return from_whowhen(d, name=str(path))


@redacts("item")
def write_whowhen(item: Trace | AnnotatedTrace, path: str | Path) -> Path:
    """Write one record as Who&When JSON (atomically), redacted."""
    import os

    path = Path(path)
    text = json.dumps(to_whowhen(item), ensure_ascii=False, indent=4)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
