"""AgenTracer's own span conventions, both ways: a Trace as span dicts, and those span dicts back.

:func:`trace_to_spans` gives a run span (``invoke_workflow {framework}``) and one span per step
(``invoke_agent {agent}``, ``chat {model}``, ``execute_tool {tool}``) with ``gen_ai.*`` attributes, the
OpenInference mirror, and every Step field under ``agentracer.*``; :func:`spans_to_trace` reads those
``agentracer.*`` attributes back into an equal Trace (or AnnotatedTrace). The spans are normalised dicts
(see :func:`agentracer.formats.otlp_json.parse_otlp_spans`); the wire format lives in that module.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ..recording import run_span_attributes
from ..trace import AnnotatedTrace, Attribution, Trace, TraceError

__all__ = ["is_agentracer_spans", "spans_to_trace", "trace_to_spans"]

_STEP_SPAN = {"agent_message": "invoke_agent", "llm_call": "chat", "tool_call": "execute_tool"}


# ------------------------------------------------------------------------------------------ trace -> span dicts
def _hex(seed: str, n: int) -> str:
    h = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:n]
    return h if int(h, 16) else "1".rjust(n, "0")


def _is_hex(s: Any, n: int) -> bool:
    if not isinstance(s, str) or len(s) != n:
        return False
    try:
        return int(s, 16) != 0
    except ValueError:
        return False


def _dumps(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)


def _ns(t: float | None, fallback: int) -> int:
    return int(round(t * 1e9)) if isinstance(t, (int, float)) else fallback


def trace_to_spans(item: Trace | AnnotatedTrace, position: int = 0) -> list[dict[str, Any]]:
    """The spans of one trace as normalised dicts, root span first.

    The dicts have the keys :func:`~agentracer.formats.otlp_json.parse_otlp_spans` gives.

    Ids are derived from the run id and ``position`` (the trace's place in the file), so exporting the
    same traces twice gives the same ids; a Step's own ``span_id`` is kept when it is a valid span id.
    """
    ann = item if isinstance(item, AnnotatedTrace) else None
    tr = item.trace if isinstance(item, AnnotatedTrace) else item
    trace_id = _hex(f"{position}:{tr.run_id}", 32)
    root_id = _hex(f"{position}:{tr.run_id}:root", 16)
    t0 = tr.metadata.get("started") if isinstance(tr.metadata.get("started"), (int, float)) else None
    starts = [s.started for s in tr.steps if s.started is not None]
    ends = [s.ended for s in tr.steps if s.ended is not None] + starts
    base = _ns(t0 if t0 is not None else (min(starts) if starts else None), 0)
    t1 = tr.metadata.get("ended") if isinstance(tr.metadata.get("ended"), (int, float)) else None
    root_end = max(_ns(t1, base), _ns(max(ends) if ends else None, base))
    fw = tr.framework
    ra: dict[str, Any] = {
        **run_span_attributes(tr.run_id, fw, tr.metadata.get("session_id")),
        "input.value": tr.task,
        "agentracer.task": tr.task,
        "agentracer.outcome": tr.outcome,
        "agentracer.agents": _dumps(tr.agents),
        "agentracer.metadata": _dumps(tr.metadata),
        "agentracer.steps": len(tr.steps),
    }
    if tr.final_answer is not None:
        ra["agentracer.final_answer"] = tr.final_answer
        ra["output.value"] = tr.final_answer
    if tr.ground_truth is not None:
        ra["agentracer.ground_truth"] = tr.ground_truth
    if ann is not None:
        ra["agentracer.annotation"] = _dumps(
            {
                "gold": ann.gold.to_dict(),
                "source": ann.source,
                "counterfactual": ann.counterfactual,
                "fault_type": ann.fault_type,
                "metadata": ann.metadata,
            }
        )
        if ann.gold.agent is not None:
            ra["agentracer.attribution.agent"] = ann.gold.agent
        if ann.gold.step is not None:
            ra["agentracer.attribution.step"] = ann.gold.step
    spans = [
        {
            "trace_id": trace_id,
            "span_id": root_id,
            "parent_span_id": None,
            "name": f"invoke_workflow {fw}",
            "kind": "INTERNAL",
            "start": base,
            "end": root_end,
            "attributes": ra,
            "status": {"code": 2, "message": str(tr.metadata.get("error"))} if tr.metadata.get("error") else None,
        }
    ]
    ids: dict[int, str] = {}
    used = {root_id}
    prev_agent = None
    for s in tr.steps:
        sid = s.span_id if _is_hex(s.span_id, 16) and s.span_id not in used else _hex(f"{position}:{tr.run_id}:{s.index}", 16)
        used.add(sid)
        ids[s.index] = sid
        op = _STEP_SPAN.get(s.kind, s.kind)
        model = s.metadata.get("model") if isinstance(s.metadata.get("model"), str) else None
        if s.kind == "llm_call":
            name = f"chat {model or 'unknown'}"
        elif s.kind == "tool_call":
            name = f"execute_tool {s.tool_name or 'tool'}"
        else:
            name = f"{op} {s.agent}"
        a: dict[str, Any] = {
            "gen_ai.operation.name": op,
            "gen_ai.provider.name": fw,
            "gen_ai.agent.name": s.agent,
            "gen_ai.conversation.id": ra["session.id"],
            "session.id": ra["session.id"],
            "agentracer.run.id": tr.run_id,
            "agentracer.step.index": s.index,
            "agentracer.step.kind": s.kind,
            "agentracer.step.role": s.role,
            "agentracer.step.agent": s.agent,
            "agentracer.step.content": s.content,
            "output.value": s.content,
        }
        if s.kind == "llm_call":
            a["openinference.span.kind"] = "LLM"
            a["gen_ai.request.model"] = model or "unknown"
            a["llm.model_name"] = model or "unknown"
            a["gen_ai.output.messages"] = _dumps([{"role": "assistant", "parts": [{"type": "text", "content": s.content}]}])
            if s.metadata.get("messages") is not None:
                a["gen_ai.input.messages"] = _dumps(s.metadata["messages"])
                a["input.value"] = a["gen_ai.input.messages"]
        elif s.kind == "tool_call":
            a["openinference.span.kind"] = "TOOL"
            a["gen_ai.tool.name"] = s.tool_name or "tool"
            a["tool.name"] = s.tool_name or "tool"
            if isinstance(s.metadata.get("call_id"), str):
                a["gen_ai.tool.call.id"] = s.metadata["call_id"]
        else:
            a["openinference.span.kind"] = "AGENT"
            a["agent.name"] = s.agent
            a["graph.node.id"] = s.agent
            if s.parent is None:
                a["graph.node.parent_id"] = prev_agent or "start"
                prev_agent = s.agent
            if isinstance(s.metadata.get("input"), str):
                a["input.value"] = s.metadata["input"]
        if s.parent is not None:
            a["agentracer.step.parent"] = s.parent
        if s.tool_name is not None:
            a["agentracer.step.tool_name"] = s.tool_name
        if s.tool_args is not None:
            a["agentracer.step.tool_args"] = _dumps(s.tool_args)
            a.setdefault("gen_ai.tool.call.arguments", a["agentracer.step.tool_args"])
        if s.tool_result is not None:
            a["agentracer.step.tool_result"] = _dumps(s.tool_result)
        if s.started is not None:
            a["agentracer.step.started"] = float(s.started)
        if s.ended is not None:
            a["agentracer.step.ended"] = float(s.ended)
        if s.span_id is not None:
            a["agentracer.step.span_id"] = s.span_id
        if s.replay:
            a["agentracer.step.replay"] = _dumps(s.replay)
            for k, v in s.replay.items():
                if isinstance(v, (str, int, float, bool)) and k != "response":
                    a[f"agentracer.replay.{k}"] = v
        if s.usage:
            a["agentracer.step.usage"] = _dumps(s.usage)
            if isinstance(s.usage.get("input_tokens"), int):
                a["gen_ai.usage.input_tokens"] = s.usage["input_tokens"]
            if isinstance(s.usage.get("output_tokens"), int):
                a["gen_ai.usage.output_tokens"] = s.usage["output_tokens"]
        if s.metadata:
            a["agentracer.step.metadata"] = _dumps(s.metadata)
        start = _ns(s.started, base)
        end = max(_ns(s.ended, start), start)
        err = s.metadata.get("error")
        spans.append(
            {
                "trace_id": trace_id,
                "span_id": sid,
                "parent_span_id": ids.get(s.parent, root_id) if s.parent is not None else root_id,
                "name": name,
                "kind": "CLIENT" if s.kind == "llm_call" else "INTERNAL",
                "start": start,
                "end": end,
                "attributes": a,
                "status": {"code": 2, "message": str(err)[:200]} if err else None,
            }
        )
    return spans


# ------------------------------------------------------------------------------------------ span dicts -> trace
def _loads(v: Any, fld: str, step: int | None, name: str) -> Any:
    if v is None:
        return None
    if not isinstance(v, str):
        return v
    try:
        return json.loads(v)
    except (json.JSONDecodeError, RecursionError):
        raise TraceError("not valid JSON", file=name, field=fld, step=step) from None


def is_agentracer_spans(group: list[dict[str, Any]]) -> bool:
    """Whether the spans of one trace carry a run span and step spans in our conventions."""
    return any("agentracer.step.index" in s["attributes"] for s in group) and any(
        "agentracer.run.id" in s["attributes"] and "agentracer.step.index" not in s["attributes"] for s in group
    )


def spans_to_trace(spans: list[dict[str, Any]], name: str) -> Trace | AnnotatedTrace:
    """The Trace (an AnnotatedTrace when the run span carries a gold label) written by :func:`trace_to_spans`."""
    root = next((s for s in spans if "agentracer.run.id" in s["attributes"] and "agentracer.step.index" not in s["attributes"]), None)
    if root is None:
        raise TraceError("no run span (agentracer.run.id) for this trace", file=name)
    ra = root["attributes"]
    rows = []
    for s in spans:
        a = s["attributes"]
        if "agentracer.step.index" not in a:
            continue
        idx = a["agentracer.step.index"]
        if not isinstance(idx, int):
            raise TraceError(f"must be an integer, got {idx!r}", file=name, field="agentracer.step.index")
        rows.append(
            {
                "index": idx,
                "agent": a.get("agentracer.step.agent", a.get("gen_ai.agent.name")),
                "content": a.get("agentracer.step.content", ""),
                "role": a.get("agentracer.step.role", "assistant"),
                "kind": a.get("agentracer.step.kind", "agent_message"),
                "tool_name": a.get("agentracer.step.tool_name"),
                "tool_args": _loads(a.get("agentracer.step.tool_args"), "agentracer.step.tool_args", idx, name),
                "tool_result": _loads(a.get("agentracer.step.tool_result"), "agentracer.step.tool_result", idx, name),
                "started": a.get("agentracer.step.started"),
                "ended": a.get("agentracer.step.ended"),
                "parent": a.get("agentracer.step.parent"),
                "span_id": a.get("agentracer.step.span_id"),
                "replay": _loads(a.get("agentracer.step.replay"), "agentracer.step.replay", idx, name) or {},
                "usage": _loads(a.get("agentracer.step.usage"), "agentracer.step.usage", idx, name) or {},
                "metadata": _loads(a.get("agentracer.step.metadata"), "agentracer.step.metadata", idx, name) or {},
            }
        )
        if rows[-1]["agent"] is None:
            raise TraceError("missing", file=name, field="agentracer.step.agent", step=idx)
    rows.sort(key=lambda r: r["index"])
    d = {
        "run_id": ra["agentracer.run.id"],
        "task": ra.get("agentracer.task", ""),
        "framework": ra.get("agentracer.framework", "unknown"),
        "agents": _loads(ra.get("agentracer.agents"), "agentracer.agents", None, name) or [],
        "steps": rows,
        "outcome": ra.get("agentracer.outcome", "unknown"),
        "ground_truth": ra.get("agentracer.ground_truth"),
        "final_answer": ra.get("agentracer.final_answer"),
        "metadata": _loads(ra.get("agentracer.metadata"), "agentracer.metadata", None, name) or {},
    }
    try:
        tr = Trace.from_dict(d)
    except TraceError as e:
        raise e.with_file(name) from None
    ann = _loads(ra.get("agentracer.annotation"), "agentracer.annotation", None, name)
    if isinstance(ann, Mapping):
        return AnnotatedTrace(
            trace=tr,
            gold=Attribution.from_dict(ann.get("gold") or {}, prefix="annotation.gold."),
            source=ann.get("source") or "unknown",
            counterfactual=ann.get("counterfactual"),
            fault_type=ann.get("fault_type"),
            metadata=dict(ann.get("metadata") or {}),
        )
    return tr

