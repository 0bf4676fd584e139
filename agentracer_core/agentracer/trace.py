"""The AgenTracer data model: ``Trace``, ``Step``, ``Attribution`` and ``AnnotatedTrace``.

Everything the project reads, records, attributes, annotates or trains on passes through these four
plain dataclasses. They serialise to JSON-compatible dicts (``to_dict``/``from_dict``) losslessly, and
validation errors are :class:`TraceError`, whose message names the file, the field and the step.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field, fields
from typing import Any, Literal

__all__ = [
    "OUTCOMES",
    "ROLES",
    "STEP_KINDS",
    "AnnotatedTrace",
    "Attribution",
    "Step",
    "Trace",
    "TraceError",
    "normalize_agent",
]

STEP_KINDS = ("agent_message", "llm_call", "tool_call", "tool_result", "handoff")
ROLES = ("assistant", "user", "tool", "system")
OUTCOMES = ("success", "failure", "unknown")
SOURCES = ("replay", "injection", "human", "unknown")

StepKind = Literal["agent_message", "llm_call", "tool_call", "tool_result", "handoff"]
Outcome = Literal["success", "failure", "unknown"]


class TraceError(ValueError):
    """A trace, step or attribution failed validation or could not be parsed.

    The message is one line that names where the problem is: ``file``, ``field`` and ``step``
    (each only when known), then what is wrong. The attributes carry the same parts.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        field: str | None = None,
        step: int | None = None,
    ) -> None:
        self.file = file
        self.field = field
        self.step = step
        self.reason = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"file {self.file}")
        if self.step is not None:
            where.append(f"step {self.step}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.reason}" if prefix else self.reason

    def with_file(self, file: str) -> TraceError:
        """Return a copy of this error that also names ``file``."""
        return TraceError(self.reason, file=file, field=self.field, step=self.step)


def normalize_agent(name: str | None) -> str:
    """Canonical form of an agent name for comparisons: lower case, no spaces, ``-`` or ``_``."""
    if name is None:
        return ""
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def _check_type(value: Any, types: type | tuple[type, ...], fld: str, step: int | None = None) -> None:
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
        want = " or ".join(t.__name__ for t in _as_tuple(types))
        raise TraceError(f"expected {want}, got {type(value).__name__}", field=fld, step=step)


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _copied(value: Any) -> Any:
    """A deep copy of ``value``; None, scalars and empty containers (most step fields) skip ``copy.deepcopy``."""
    if value is None or type(value) in (str, int, float, bool) or (type(value) in (dict, list) and not value):
        return value if type(value) not in (dict, list) else type(value)()
    return copy.deepcopy(value)


def _opt(d: dict[str, Any], key: str, types: type | tuple[type, ...], step: int | None, prefix: str = "") -> Any:
    value = d.get(key)
    if value is not None:
        _check_type(value, types, prefix + key, step)
    return value


@dataclass
class Step:
    """One agent step of a run: an agent message, an LLM call, a tool call/result, or a handoff.

    ``index`` is 0-based, dense and in execution order. ``parent`` is the index of the enclosing step
    (an LLM or tool call nested under an agent step), or ``None`` for a top-level agent step.
    ``replay`` holds the handles a fork needs: framework checkpoint ids, recorded LLM call keys.
    """

    index: int
    agent: str
    content: str = ""
    role: str = "assistant"
    kind: str = "agent_message"
    tool_name: str | None = None
    tool_args: Any = None
    tool_result: Any = None
    started: float | None = None
    ended: float | None = None
    parent: int | None = None
    span_id: str | None = None
    replay: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict of every field (defaults included, so readers need no schema)."""
        return {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: Any, *, position: int | None = None) -> Step:
        """Build a Step from ``to_dict`` output, raising :class:`TraceError` on bad input."""
        if not isinstance(d, dict):
            raise TraceError(f"expected an object, got {type(d).__name__}", field="steps", step=position)
        idx = d.get("index", position)
        if idx is None:
            raise TraceError("missing", field="index", step=position)
        if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0:
            raise TraceError(f"must be a non-negative integer, got {idx!r}", field="index", step=position)
        if "agent" not in d:
            raise TraceError("missing", field="agent", step=idx)
        _check_type(d["agent"], str, "agent", idx)
        content = d.get("content", "")
        if content is None:
            content = ""
        _check_type(content, str, "content", idx)
        role = d.get("role", "assistant")
        _check_type(role, str, "role", idx)
        kind = d.get("kind", "agent_message")
        if kind not in STEP_KINDS:
            raise TraceError(f"unknown kind {kind!r}; expected one of {', '.join(STEP_KINDS)}", field="kind", step=idx)
        parent = _opt(d, "parent", int, idx)
        if parent is not None and not 0 <= parent < idx:
            raise TraceError(f"parent {parent} must be an earlier step", field="parent", step=idx)
        for key in ("started", "ended"):
            v = _opt(d, key, (int, float), idx)
            if v is not None and not math.isfinite(v):
                raise TraceError("must be a finite number", field=key, step=idx)
        for key in ("replay", "usage", "metadata"):
            _opt(d, key, dict, idx)
        return cls(
            index=idx,
            agent=d["agent"],
            content=content,
            role=role,
            kind=kind,
            tool_name=_opt(d, "tool_name", str, idx),
            tool_args=_copied(d.get("tool_args")),
            tool_result=_copied(d.get("tool_result")),
            started=d.get("started"),
            ended=d.get("ended"),
            parent=parent,
            span_id=_opt(d, "span_id", str, idx),
            replay=_copied(d.get("replay")) or {},
            usage=_copied(d.get("usage")) or {},
            metadata=_copied(d.get("metadata")) or {},
        )


@dataclass
class Attribution:
    """Who caused the failure: the responsible ``agent``, the decisive ``step`` and a ``reason``.

    ``parsed`` is False when a model's answer could not be read; ``agent``/``step`` are then ``None``
    and ``raw`` keeps the answer. ``evidence`` lists step indices that support the decision.

    ``candidates`` lists the most probable decisive steps, best first (the embedded attributor gives the
    top 3), each ``{"step": int, "agent": str, "probability": float}``; empty when the method gives no
    ranking. A run that is not blamed (a successful run, see :func:`agentracer.attribute`) has
    ``agent = step = None``, ``confidence = 0.0`` and ``metadata["abstained"]`` saying why;
    ``metadata["low_confidence"]`` is True when the answer should be confirmed (``metadata["note"]`` says
    so in plain words). Older JSON without ``candidates`` still reads (as an empty list).
    """

    agent: str | None
    step: int | None
    reason: str = ""
    confidence: float | None = None
    method: str = ""
    evidence: list[int] = field(default_factory=list)
    parsed: bool = True
    raw: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict of every field."""
        return {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self)}

    @property
    def low_confidence(self) -> bool:
        """Whether the attributor flagged this answer as one to confirm (or abstained)."""
        return bool(self.metadata.get("low_confidence") or self.metadata.get("abstained"))

    @classmethod
    def from_dict(cls, d: Any, *, prefix: str = "") -> Attribution:
        """Build an Attribution from ``to_dict`` output, raising :class:`TraceError` on bad input."""
        if not isinstance(d, dict):
            raise TraceError(f"expected an object, got {type(d).__name__}", field=prefix.rstrip(".") or None)
        agent = _opt(d, "agent", str, None, prefix)
        step = _opt(d, "step", int, None, prefix)
        if step is not None and step < 0:
            raise TraceError(f"must be >= 0, got {step}", field=prefix + "step")
        conf = _opt(d, "confidence", (int, float), None, prefix)
        evidence = d.get("evidence") or []
        _check_type(evidence, list, prefix + "evidence")
        return cls(
            agent=agent,
            step=step,
            reason=_opt(d, "reason", str, None, prefix) or "",
            confidence=None if conf is None else float(conf),
            method=_opt(d, "method", str, None, prefix) or "",
            evidence=[int(e) for e in evidence if isinstance(e, int) and not isinstance(e, bool)],
            parsed=bool(d.get("parsed", True)),
            raw=_opt(d, "raw", str, None, prefix),
            metadata=copy.deepcopy(d.get("metadata") or {}),
            candidates=_candidates(d.get("candidates"), prefix),
        )

    def matches(self, gold: Attribution) -> tuple[bool, bool]:
        """``(agent_correct, step_correct)`` against ``gold``, by normalised name and exact step."""
        agent_ok = self.agent is not None and normalize_agent(self.agent) == normalize_agent(gold.agent)
        step_ok = self.step is not None and self.step == gold.step
        return agent_ok, step_ok


def _candidates(value: Any, prefix: str) -> list[dict[str, Any]]:
    """The ``candidates`` list of an Attribution dict, checked (absent or null: none)."""
    if value is None:
        return []
    _check_type(value, list, prefix + "candidates")
    out = []
    for k, c in enumerate(value):
        where = f"{prefix}candidates[{k}]"
        if not isinstance(c, dict):
            raise TraceError(f"expected an object, got {type(c).__name__}", field=where)
        step = _opt(c, "step", int, None, where + ".")
        prob = _opt(c, "probability", (int, float), None, where + ".")
        out.append({"step": step, "agent": _opt(c, "agent", str, None, where + "."),
                    "probability": None if prob is None else float(prob)})
    return out


@dataclass
class Trace:
    """A recorded (or imported) multi-agent run.

    ``steps`` are dense and in execution order (``steps[i].index == i``). ``outcome`` is
    ``success``, ``failure`` or ``unknown``. ``metadata`` keeps whatever the source format had that the
    model has no field for, so importers can export back losslessly.
    """

    run_id: str
    task: str = ""
    framework: str = "unknown"
    agents: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    outcome: str = "unknown"
    ground_truth: str | None = None
    final_answer: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- helpers
    def agent_steps(self) -> list[Step]:
        """Top-level steps (no parent): the steps an attribution points at."""
        return [s for s in self.steps if s.parent is None]

    def fork_target(self, step: Any) -> Step:
        """The agent step at index ``step``, where a fork may resume the run; :class:`TraceError` when the
        index is out of range or names a call nested in an agent step (an LLM or tool call)."""
        n = len(self.steps)
        if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step < n:
            raise TraceError(f"step {step!r} is out of range: the trace has {n} steps", field="step")
        s = self.steps[step]
        if s.parent is not None:
            raise TraceError(
                f"step {step} is a {s.kind} inside agent step {s.parent}; fork at an agent step (e.g. {s.parent})",
                field="step",
                step=step,
            )
        return s

    def add_step(self, step: Step) -> Step:
        """Append ``step`` (its index is set to the next dense index) and register its agent."""
        step.index = len(self.steps)
        self.steps.append(step)
        if step.agent and step.agent not in self.agents:
            self.agents.append(step.agent)
        return step

    def validate(self) -> Trace:
        """Check the invariants (dense indices, known outcome, parents earlier); return self."""
        if not isinstance(self.run_id, str) or not self.run_id:
            raise TraceError("must be a non-empty string", field="run_id")
        if self.outcome not in OUTCOMES:
            raise TraceError(f"unknown outcome {self.outcome!r}; expected one of {', '.join(OUTCOMES)}", field="outcome")
        for i, s in enumerate(self.steps):
            if s.index != i:
                raise TraceError(
                    f"steps out of order: position {i} holds index {s.index} (indices must be 0..n-1 in order)",
                    field="index",
                    step=s.index,
                )
            if s.parent is not None and not 0 <= s.parent < i:
                raise TraceError(f"parent {s.parent} must be an earlier step", field="parent", step=i)
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict; ``Trace.from_dict(t.to_dict()) == t``."""
        return {
            "run_id": self.run_id,
            "task": self.task,
            "framework": self.framework,
            "agents": list(self.agents),
            "steps": [s.to_dict() for s in self.steps],
            "outcome": self.outcome,
            "ground_truth": self.ground_truth,
            "final_answer": self.final_answer,
            "metadata": copy.deepcopy(self.metadata),
        }

    def to_json(self, **kwargs: Any) -> str:
        """The trace as one JSON document."""
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    @classmethod
    def from_dict(cls, d: Any) -> Trace:
        """Build and validate a Trace from ``to_dict`` output; bad input raises :class:`TraceError`."""
        if not isinstance(d, dict):
            raise TraceError(f"expected a trace object, got {type(d).__name__}")
        if "run_id" not in d:
            raise TraceError("missing", field="run_id")
        _check_type(d["run_id"], str, "run_id")
        raw_steps = d.get("steps", [])
        _check_type(raw_steps, list, "steps")
        steps = [Step.from_dict(s, position=i) for i, s in enumerate(raw_steps)]
        agents = d.get("agents") or []
        _check_type(agents, list, "agents")
        for a in agents:
            _check_type(a, str, "agents")
        meta = d.get("metadata") or {}
        _check_type(meta, dict, "metadata")
        t = cls(
            run_id=d["run_id"],
            task=_opt(d, "task", str, None) or "",
            framework=_opt(d, "framework", str, None) or "unknown",
            agents=list(agents),
            steps=steps,
            outcome=_opt(d, "outcome", str, None) or "unknown",
            ground_truth=_opt(d, "ground_truth", str, None),
            final_answer=_opt(d, "final_answer", str, None),
            metadata=copy.deepcopy(meta),
        )
        for s in steps:
            if s.agent and s.agent not in t.agents:
                t.agents.append(s.agent)
        return t.validate()

    @classmethod
    def from_json(cls, text: str) -> Trace:
        """Parse one JSON document written by :meth:`to_json`."""
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as e:
            raise TraceError(f"malformed JSON: {e}") from None
        return cls.from_dict(d)


@dataclass
class AnnotatedTrace:
    """A failed trace with its gold attribution and how the label was obtained.

    ``source`` is ``replay`` (counterfactual replay), ``injection`` (programmatic fault injection),
    ``human`` (e.g. Who&When) or ``unknown``. ``counterfactual`` is the replacement text that flipped
    the run; ``fault_type`` names the injected fault.
    """

    trace: Trace
    gold: Attribution
    source: str = "unknown"
    counterfactual: str | None = None
    fault_type: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict: the trace plus an ``annotation`` object."""
        d = self.trace.to_dict()
        d["annotation"] = {
            "gold": self.gold.to_dict(),
            "source": self.source,
            "counterfactual": self.counterfactual,
            "fault_type": self.fault_type,
            "metadata": copy.deepcopy(self.metadata),
        }
        return d

    @classmethod
    def from_dict(cls, d: Any) -> AnnotatedTrace:
        """Inverse of :meth:`to_dict`; bad input raises :class:`TraceError`."""
        if not isinstance(d, dict) or not isinstance(d.get("annotation"), dict):
            raise TraceError("missing or not an object", field="annotation")
        ann = d["annotation"]
        body = {k: v for k, v in d.items() if k != "annotation"}
        trace = Trace.from_dict(body)
        gold = Attribution.from_dict(ann.get("gold"), prefix="annotation.gold.")
        if gold.step is not None and gold.step >= len(trace.steps):
            raise TraceError(
                f"gold step {gold.step} is past the last step ({len(trace.steps) - 1})", field="annotation.gold.step"
            )
        source = ann.get("source", "unknown")
        if source not in SOURCES:
            raise TraceError(f"unknown source {source!r}", field="annotation.source")
        return cls(
            trace=trace,
            gold=gold,
            source=source,
            counterfactual=_opt(ann, "counterfactual", str, None, "annotation."),
            fault_type=_opt(ann, "fault_type", str, None, "annotation."),
            metadata=copy.deepcopy(ann.get("metadata") or {}),
        )
