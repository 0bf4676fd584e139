"""One unit of the dataset pipeline: generate a run, record it, and label it (by replay or by injection)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from ...trace import AnnotatedTrace
from ..domains.team_styles import injection_order
from ..inject import FAULTS, InjectionError, inject
from ..replay import find_decisive
from .system import GeneratedSystem

__all__ = ["ItemResult", "annotate_item"]


@dataclass
class ItemResult:
    """What :func:`annotate_item` produced for one generated run."""

    item_id: str
    status: str  # replay | injection | skipped
    annotated: AnnotatedTrace | None = None
    replays: int = 0
    executions: int = 0
    reason: str = ""
    stats: dict[str, Any] = field(default_factory=dict)


def annotate_item(
    framework: str,
    domain: str,
    seed: int,
    *,
    size: int | None = None,
    strategy: str = "bisect",
    fallback_linear: bool = True,
    faults_per_run: float | None = None,
    base_url: str | None = None,
    model: str | None = None,
    inject_attempts: int | None = None,
    item_id: str | None = None,
    system: str | None = None,
) -> ItemResult:
    """Generate one run and label it: by replay (``strategy``) if it failed, by injection if it succeeded.

    With ``fallback_linear``, a bisection or prior-guided search that answers *unsure* is redone
    linearly (the paper's definition), so labels always follow the linear scan's semantics. ``system``
    names a system shape of ``framework`` (``supervisor``, ``workforce``); it joins the ids and metadata.
    ``faults_per_run``: the scripted agents' expected faults per run (default 0.8; 1.2 for a named system).
    ``inject_attempts``: how many applicable faults to try on a successful run (default 4; 10 for a named
    system, whose long team runs recover from most single slips).
    """
    if inject_attempts is None:
        inject_attempts = 10 if system else 4
    if faults_per_run is None:  # named systems slip more often, so more of their runs fail on their own
        faults_per_run = 1.2 if system else 0.8
    fw = f"{framework}-{system}" if system else framework
    iid = item_id or (f"{framework}/{system}:{domain}:{seed}" if system else f"{framework}:{domain}:{seed}")
    gen = GeneratedSystem.create(framework, domain, seed, size=size, faults_per_run=faults_per_run,
                                 base_url=base_url, model=model, system=system)
    trace = gen.record()
    trace.run_id = f"gen-{fw}-{domain}-{seed}"
    base = {"domain": domain, "framework": framework, "task_id": gen.spec.task.task_id, "item_id": iid}
    if system:
        base["system"] = system
    if trace.outcome == "failure":
        oracle = gen.oracle()
        res = find_decisive(trace, gen, oracle, strategy=strategy)
        replays = res.replays
        if not res.found and fallback_linear and strategy != "linear":
            res2 = find_decisive(trace, gen, oracle, strategy="linear")
            replays += res2.replays
            res = res2
        if res.found:
            ann = res.annotated(trace)
            assert ann is not None
            ann.metadata.update(base, replays_total=replays)
            return ItemResult(iid, "replay", ann, replays, gen.executions)
        return ItemResult(iid, "skipped", None, replays, gen.executions, reason=res.reason)
    rng = random.Random(f"inject:{iid}")
    pairs = [(s, f) for s in trace.agent_steps() for f in gen.domain.faults.get(s.agent, ()) if f in FAULTS]
    rng.shuffle(pairs)
    if system:  # a named system: places (plan, handoff, check, action, reading, code) drawn by per-run weights
        kids = {s.parent for s in trace.steps if s.kind == "tool_call"}
        by_index = {s.index: s for s in trace.agent_steps()}
        order = injection_order(gen.spec.task, [(s.index, s.agent, s.content or "", s.index in kids)
                                                for s in trace.agent_steps()], rng)
        pairs = [(by_index[i], f) for i, f in order if f in FAULTS]
    tried = 0
    for s, fault in pairs:
        if tried >= inject_attempts:
            break
        try:
            ann = inject(trace, s.index, fault, system=gen, seed=rng)
        except InjectionError:
            continue  # the fault does not apply to this step's text: not an attempt
        tried += 1
        if ann is not None:
            ann.trace.run_id = f"gen-{fw}-{domain}-{seed}-inj"
            ann.metadata.update(base)
            return ItemResult(iid, "injection", ann, 1, gen.executions)
    return ItemResult(iid, "skipped", None, 0, gen.executions, reason="no injected fault made the run fail")
