"""Counterfactual forks of a recorded LangGraph run: replace step k's output, re-run only what follows.

Two modes:

- ``"checkpoint"`` (graphs compiled with a checkpointer, e.g. ``InMemorySaver`` or ``SqliteSaver``): the
  run resumes from the checkpoint step k started from (stored on the step as ``replay["checkpoint_id"]``),
  so nothing before step k runs again; the prefix of the new trace is the recorded prefix
  (``replay["source"] = "recorded"``). Step k itself is handled in one of two ways (``how``):

  - ``"rerun"`` (when step k made an LLM call): ``stream(None, checkpoint)`` re-executes step k's node
    (and its siblings of the same superstep) while a :class:`~agentracer.recording.ReplayLLM` serves their
    recorded LLM responses, except that step k's last LLM call is served the replacement. The node's own
    code turns it into its state update (derived fields, routing); every later step runs live.
  - ``"writes"`` (any node; also when ``replacement`` is a dict of state keys): the node's writes, kept by
    the checkpointer, are copied with the output replaced and applied with ``bulk_update_state(...,
    as_node=node)`` (sibling writes unchanged), then ``stream(None, config)`` runs the successors.

- ``"replay"`` (any graph, e.g. one without a checkpointer): the run is re-executed from its recorded
  input while the ReplayLLM serves every LLM call of the steps before k, and step k's last LLM call is
  served the replacement; the calls after k go to the models.

``"auto"`` uses the checkpointer when the graph has one and the step carries a thread id. How the
replacement is put into the node's writes or into the recorded LLM response: :mod:`agentracer_langgraph.replace`.
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections import defaultdict
from typing import Any, Literal, NamedTuple

from agentracer.formats.messages import final_answer_text, output_text
from agentracer.recording import Recorder, ReplayLLM, Run
from agentracer.trace import Step, Trace

from .detect import is_langgraph
from .handler import AgentracerCallbackHandler
from .instrument import handler_of
from .replace import _replace, _replaced_payload, _values
from .runs import _FORK_EXCLUSIVE

__all__ = ["ForkResult", "LangGraphFork", "fork_graph"]

log = logging.getLogger("agentracer.langgraph")
Mode = Literal["auto", "checkpoint", "replay"]
How = Literal["auto", "rerun", "writes"]


class ForkResult(NamedTuple):
    """What a fork returns: the graph's ``result`` (final state) and the new run's ``trace``."""

    result: Any
    trace: Trace


def _top_step(trace: Trace, step: int) -> Step:
    if not isinstance(step, int) or not 0 <= step < len(trace.steps):
        raise ValueError(f"step {step!r} is out of range (trace has {len(trace.steps)} steps)")
    s = trace.steps[step]
    while s.parent is not None:
        s = trace.steps[s.parent]
    return s


def _checkpoint_of(graph: Any, step: Step) -> dict[str, Any] | None:
    """The config of the checkpoint before ``step`` in ``graph``'s checkpointer (its recorded thread, and its
    recorded checkpoint id or else the checkpoint whose pending tasks hold the step's task); None when the
    checkpointer does not hold it (a trace read back in another process with an in-memory checkpointer)."""
    cp = _checkpointer(graph)
    thread, task = step.replay.get("thread_id"), step.replay.get("task_id")
    if cp is None or not thread or not task:
        return None
    try:
        cid = step.replay.get("checkpoint_id")
        if cid is None:
            history = graph.get_state_history({"configurable": {"thread_id": thread}})
            cid = next((snap.config["configurable"]["checkpoint_id"] for snap in history
                        if any(t.id == task for t in snap.tasks)), None)
        if cid is None:
            return None
        cfg = {"configurable": {"thread_id": thread, "checkpoint_ns": step.replay.get("checkpoint_ns") or "",
                                "checkpoint_id": cid}}
        return cfg if cp.get_tuple(cfg) is not None else None
    except Exception:  # a checkpointer that cannot answer: no checkpoint fork
        return None


def _checkpointer(graph: Any) -> Any:
    try:
        from langgraph.checkpoint.base import BaseCheckpointSaver
    except ImportError:  # pragma: no cover
        return None
    cp = getattr(graph, "checkpointer", None)
    return cp if isinstance(cp, BaseCheckpointSaver) else None


class LangGraphFork:
    """A prepared fork of ``trace`` at ``step``; calling it runs the fork and returns a :class:`ForkResult`."""

    def __init__(
        self, graph: Any, trace: Trace, step: int, replacement: str | dict[str, Any], mode: Mode = "auto",
        how: How = "auto",
    ) -> None:
        if not is_langgraph(graph):
            raise TypeError(f"not a compiled LangGraph graph: {type(graph).__qualname__}")
        self.graph = graph
        self.trace = trace
        self.target = _top_step(trace, step)
        self.step = self.target.index
        self.replacement = replacement
        # a checkpoint fork needs the recorded run's checkpoints in this graph's checkpointer: not so for a
        # trace read from a file in a new process with an in-memory checkpointer; then ``auto`` replays the trace
        self._cfg = _checkpoint_of(graph, self.target) if mode in ("auto", "checkpoint") else None
        if mode == "auto":
            mode = "checkpoint" if self._cfg is not None else "replay"
        if mode not in ("checkpoint", "replay"):
            raise ValueError(f"mode must be 'auto', 'checkpoint' or 'replay', not {mode!r}")
        if mode == "checkpoint" and _checkpointer(graph) is None:
            raise ValueError("a checkpoint fork needs a graph compiled with a checkpointer (e.g. InMemorySaver)")
        if mode == "checkpoint" and self._cfg is None:
            raise ValueError(
                f"step {self.step}: the graph's checkpointer holds no checkpoint of the recorded run (thread "
                f"{self.target.replay.get('thread_id')!r}; an in-memory checkpointer in another process?): "
                "fork with mode='replay'"
            )
        self.mode: str = mode
        if how not in ("auto", "rerun", "writes"):
            raise ValueError(f"how must be 'auto', 'rerun' or 'writes', not {how!r}")
        if how == "auto":
            how = "rerun" if isinstance(replacement, str) and self._last_llm_call() is not None else "writes"
        if how == "rerun" and (not isinstance(replacement, str) or self._last_llm_call() is None):
            raise ValueError(f"step {self.step} made no recorded LLM call (or the replacement is not text); use how='writes'")
        self.how: str = how if mode == "checkpoint" else "rerun"
        self.replay: ReplayLLM | None = None

    # ------------------------------------------------------------------ common
    def _recorder(self) -> tuple[Recorder, Recorder | None]:
        h = handler_of(self.graph)
        base = h.recorder if h is not None else None
        rec = Recorder(
            tracer_provider=getattr(base, "_tracer_provider", None),
            capture_content=getattr(base, "capture_content", None),
            sink=getattr(base, "sink", None),
            framework="langgraph",
            redactor=getattr(base, "redact", None),
        )
        return rec, base

    def _start(self, rec: Recorder) -> Run:
        tr = self.trace
        meta = {
            "fork": {
                "of": tr.run_id,
                "step": self.step,
                "agent": self.target.agent,
                "mode": self.mode,
                "how": self.how,
                "replacement": self.replacement if isinstance(self.replacement, str) else dict(self.replacement),
            },
            "langgraph": copy.deepcopy(tr.metadata.get("langgraph") or {}),
        }
        run = rec.start_run(tr.task, run_id=f"{tr.run_id}:fork@{self.step}", framework="langgraph", metadata=meta,
                            ground_truth=tr.ground_truth)
        if not isinstance(run, Run):
            raise RuntimeError("agentracer: could not start the fork's run (see the log)")
        return run

    def _run_graph(self, rec: Recorder, run: Run, inp: Any, config: dict[str, Any]) -> ForkResult:
        handler = AgentracerCallbackHandler(rec, self.graph)
        handler.adopt = run
        token = _FORK_EXCLUSIVE.set(handler)
        last: Any = None
        try:
            cfg = dict(config)
            cfg["callbacks"] = [handler]
            for chunk in self.graph.stream(inp, cfg, stream_mode="values"):
                last = chunk
        except BaseException as e:
            rec.end_run(run, error=e)
            raise
        finally:
            _FORK_EXCLUSIVE.reset(token)
        if handler.adopt is run:  # the graph never started (nothing to run after the fork point)
            handler.adopt = None
        out = handler.adopted_output[0] if handler.adopted_output is not None else last
        result = last if last is not None else out
        self._mark_override(run.trace)
        tr = rec.end_run(run, final_answer=final_answer_text(result))
        tr = tr or run.trace
        base = handler_of(self.graph)
        if base is not None and base.recorder is not rec:
            base.recorder.traces.append(tr)
        return ForkResult(result, tr)

    def _mark_override(self, tr: Trace) -> None:
        if self.how != "rerun" or self.replay is None:
            return
        last = self._last_llm_call()
        served = last is not None and last.index in self.replay.served_steps
        tr.metadata["fork"]["replaced"] = served
        tr.metadata["fork"]["served"] = self.replay.served
        tr.metadata["fork"]["missed"] = self.replay.missed
        if not served:
            log.warning(
                "agentracer: fork of step %s: the re-run's LLM prompt differed from the recording, so the "
                "replacement was not served (use how='writes' for this step)", self.step,
            )
        task = self.target.replay.get("task_id")
        live = [x for x in tr.steps if x.parent is None and x.replay.get("source") != "recorded"]
        hit = next((x for x in live if task and x.replay.get("task_id") == task), None)
        if hit is None:  # a replay re-runs the prefix deterministically: same index, same agent
            same = [x for x in live if x.agent == self.target.agent]
            hit = next((x for x in same if x.index == self.step), None)
        if hit is not None:
            hit.replay["overridden"] = True
            hit.metadata["replaced_output"] = self.target.content

    def __call__(self) -> ForkResult:
        if self.mode == "replay":
            return self._replay_fork()
        return self._rerun_fork() if self.how == "rerun" else self._checkpoint_fork()

    def _last_llm_call(self) -> Step | None:
        k = self.target.index
        return next(
            (x for x in reversed(self.trace.steps) if x.kind == "llm_call" and "llm_key" in x.replay and x.parent == k),
            None,
        )

    # ------------------------------------------------------------------ checkpoint mode
    def _checkpoint_config(self) -> dict[str, Any]:
        """The checkpoint before step k (found once, by :func:`_checkpoint_of`, when the fork was made)."""
        assert self._cfg is not None  # checkpoint mode is chosen only when it was found
        return self._cfg

    def _checkpoint_fork(self) -> ForkResult:
        from langgraph.types import StateUpdate

        graph, s = self.graph, self.target
        cfg = self._checkpoint_config()
        snap = graph.get_state(cfg)
        saved = _checkpointer(graph).get_tuple(cfg)
        writes: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        for tid, ch, val in (saved.pending_writes if saved else None) or []:
            writes[tid].append((ch, val))
        task = s.replay.get("task_id")
        updates = []
        sibling_ids = []
        for t in snap.tasks:
            ws = writes.get(t.id) or []
            if t.id == task:
                if not ws:
                    raise ValueError(f"step {self.step} ({s.agent}) wrote nothing to the state; nothing to replace")
                updates.append(StateUpdate(_values(graph, t.name, _replace(ws, s.content, self.replacement)), t.name, t.id))
            elif ws and not any(ch in ("__error__", "__interrupt__") for ch, _ in ws):
                updates.append(StateUpdate(_values(graph, t.name, ws), t.name, t.id))
                sibling_ids.append(t.id)
        if not any(u.task_id == task for u in updates):
            raise ValueError(f"step {self.step}: task {task!r} is not pending at checkpoint {cfg['configurable']['checkpoint_id']}")
        rec, _ = self._recorder()
        run = self._start(rec)
        self._copy_prefix(rec, run, sibling_ids, with_target=True)
        token = _FORK_EXCLUSIVE.set(AgentracerCallbackHandler(rec))  # keep the graph's own handler out
        try:
            new_cfg = graph.bulk_update_state(cfg, [updates])
        except BaseException as e:
            rec.end_run(run, error=e)
            raise
        finally:
            _FORK_EXCLUSIVE.reset(token)
        run.trace.metadata["fork"]["checkpoint_id"] = cfg["configurable"]["checkpoint_id"]
        run.trace.metadata["fork"]["fork_checkpoint_id"] = new_cfg["configurable"].get("checkpoint_id")
        return self._run_graph(rec, run, None, new_cfg)

    def _copy_prefix(self, rec: Recorder, run: Run, sibling_tasks: list[str], *, with_target: bool) -> None:
        """Copy recorded steps into the new trace: those before k (not re-run), then step k (replaced) and
        its reused siblings when ``with_target`` (the ``writes`` strategy)."""
        tr, k = self.trace, self.step
        tops = [x for x in tr.steps if x.parent is None]
        if with_target:
            keep = [x for x in tops if x.index < k]
            siblings = [x for x in tops if x.index > k and x.replay.get("task_id") in sibling_tasks]
        else:  # the tasks pending at the checkpoint run again
            keep = [x for x in tops if x.index < k and x.replay.get("task_id") not in sibling_tasks]
            siblings = []
        remap: dict[int, int] = {}

        def add(src: Step, *, replaced: bool = False) -> None:
            new = Step.from_dict(src.to_dict())
            new.parent = remap.get(src.parent) if src.parent is not None else None
            new.replay["source"] = "recorded"
            new.replay["recorded_index"] = src.index
            if replaced:
                new.content = self.replacement if isinstance(self.replacement, str) else output_text(self.replacement)
                new.replay["overridden"] = True
                new.metadata["replaced_output"] = src.content
            with run.lock:
                run.trace.add_step(new)
            remap[src.index] = new.index
            if rec.sink is not None:
                try:
                    rec.sink.on_step(run.trace, new)
                except Exception:
                    log.exception("agentracer: sink failed on a copied step (ignored)")

        def add_with_children(top: Step) -> None:
            add(top)
            for child in tr.steps:
                if child.parent == top.index:
                    add(child)

        for top in keep:
            add_with_children(top)
        if with_target:
            add(self.target, replaced=True)
        for top in siblings:
            add_with_children(top)

    def _rerun_fork(self) -> ForkResult:
        from . import llm_patch

        cfg = self._checkpoint_config()
        pending = [t.id for t in self.graph.get_state(cfg).tasks]
        owners = {x.index for x in self.trace.steps if x.parent is None and x.replay.get("task_id") in pending}
        owners.add(self.step)
        self.replay = self._replay_llm(owners)
        llm_patch.install()
        rec, _ = self._recorder()
        rec.replay = self.replay
        run = self._start(rec)
        run.trace.metadata["fork"]["checkpoint_id"] = cfg["configurable"]["checkpoint_id"]
        self._copy_prefix(rec, run, pending, with_target=False)
        return self._run_graph(rec, run, None, cfg)

    # ------------------------------------------------------------------ replay mode
    def _replay_llm(self, owners: set[int]) -> ReplayLLM:
        """Recorded responses of the LLM calls of the agent steps ``owners``; step k's last one replaced."""
        last_k = self._last_llm_call()
        if last_k is None:
            raise ValueError(
                f"step {self.step} ({self.target.agent}) made no recorded LLM call, so a replay fork cannot replace "
                "it; compile the graph with a checkpointer to fork through checkpoints"
            )
        text = self.replacement if isinstance(self.replacement, str) else output_text(self.replacement)
        rec: dict[str, list[dict[str, Any]]] = {}
        for x in self.trace.steps:
            if x.kind != "llm_call" or "llm_key" not in x.replay:
                continue
            o = x.parent if x.parent is not None else x.index
            if o not in owners:
                continue
            if x is last_k:
                entry = {"text": text, "response": _replaced_payload(x.replay.get("response"), text), "step": x.index, "owner": o}
            else:
                entry = {"text": x.content, "response": x.replay.get("response"), "step": x.index, "owner": o}
            rec.setdefault(x.replay["llm_key"], []).append(entry)
        return ReplayLLM(rec)

    def _replay_fork(self) -> ForkResult:
        from . import llm_patch

        lg = self.trace.metadata.get("langgraph") or {}
        if "input" not in lg:
            raise ValueError("the trace holds no recorded graph input (metadata.langgraph.input); cannot replay it")
        import warnings

        from langchain_core.load import load

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # langchain_core.load is marked beta
            inp = load(copy.deepcopy(lg["input"]), allowed_objects="messages")
        self.replay = self._replay_llm({x.index for x in self.trace.steps if x.parent is None and x.index <= self.step})
        llm_patch.install()
        rec, _ = self._recorder()
        rec.replay = self.replay
        run = self._start(rec)
        config: dict[str, Any] = {}
        if _checkpointer(self.graph) is not None:
            base = lg.get("thread_id") or self.trace.run_id
            config = {"configurable": {"thread_id": f"{base}:fork@{self.step}-{uuid.uuid4().hex[:8]}"}}
        return self._run_graph(rec, run, inp, config)


def fork_graph(
    graph: Any, trace: Trace, step: int, replacement: str | dict[str, Any], *, mode: Mode = "auto", how: How = "auto"
) -> LangGraphFork:
    """Prepare a fork of ``trace`` at ``step`` with its output replaced; call the result to run it.

    ``mode`` and ``how`` are described in the module docstring; ``replacement`` is the new output text
    of the step (or, with ``how="writes"``, a dict of state keys to write instead).
    """
    return LangGraphFork(graph, trace, step, replacement, mode, how)
