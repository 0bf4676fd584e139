"""Counterfactual forks of a recorded MaAS run: replay the architecture, replace operator call k's output.

:class:`MaasFork` is what the plugin's ``agentracer_fork`` hook returns; the replacement itself is put
into the recorded output's schema by :func:`agentracer_maas.output.override_output`.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from agentracer.recording import Recorder, ReplayLLM
from agentracer.trace import Trace, TraceError

from .state import _PLAN, FRAMEWORK, ForkPlan, instrumentation_of

__all__ = ["MaasFork"]


class MaasFork:
    """A zero-argument runnable that replays a recorded MaAS run with operator call k's output replaced.

    The recorded architecture is replayed (the controller is not sampled), LLM calls of the operator
    steps before k are served from the recording, step k's output is the replacement (same schema),
    and every later operator runs again, live. Calling it returns ``(result, new_trace)``; use
    :meth:`arun` inside a running event loop.
    """

    def __init__(self, workflow: Any, trace: Trace, step: int, replacement: Any) -> None:
        inst = instrumentation_of(workflow)
        if inst is None:
            raise ValueError("workflow is not instrumented")
        if not 0 <= step < len(trace.steps):
            raise TraceError(f"no step {step} (the trace has {len(trace.steps)} steps)", field="step", step=step)
        s = trace.steps[step]
        call = s.replay.get("operator_call")
        if s.parent is not None or call is None:
            raise TraceError("is not an operator step of a recorded MaAS run (fork at a top-level step)",
                             field="step", step=step)
        self.workflow = workflow
        self.trace = trace
        self.step = step
        meta = trace.metadata.get("maas") or {}
        self._base = inst.recorder
        self.recorder = self._new_recorder()
        self.plan = ForkPlan(
            recorder=self.recorder,
            parent=trace,
            step=step,
            operator_call=int(call),
            replacement=replacement,
            recorded_output=s.metadata.get("output"),
            architecture=meta.get("architecture"),
            log_probs=meta.get("log_probs"),
            log_probs_tensor=bool(meta.get("log_probs_tensor")),
        )
        c = meta.get("call") or {}
        self.args = list(c.get("args") or ([trace.task] if not c.get("kwargs") else []))
        self.kwargs = dict(c.get("kwargs") or {})

    def _new_recorder(self) -> Recorder:
        return Recorder(
            tracer_provider=getattr(self._base, "_tracer_provider", None),
            capture_content=getattr(self._base, "capture_content", None),
            framework=FRAMEWORK,
            replay=ReplayLLM.from_trace(self.trace, upto_step=self.step),
        )

    @property
    def replay(self) -> ReplayLLM:
        """The record/replay store of the latest call (its ``served``/``missed`` counters)."""
        return self.recorder.replay  # type: ignore[return-value]

    async def arun(self) -> tuple[Any, Trace | None]:
        """Run the fork in the current event loop; returns ``(workflow result, new trace)``.

        Each call replays afresh (a new recorder and replay store), so a fork can be run repeatedly.
        """
        if self.recorder.traces:
            self.recorder = self._new_recorder()
        self.plan.recorder = self.recorder
        token = _PLAN.set(self.plan)
        try:
            result = await self.workflow(*self.args, **self.kwargs)
        finally:
            _PLAN.reset(token)
        return result, self.recorder.last_trace()

    def __call__(self) -> tuple[Any, Trace | None]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.arun())
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["out"] = asyncio.run(self.arun())
            except BaseException as e:  # re-raised in the caller's thread
                box["err"] = e

        t = threading.Thread(target=target, name="agentracer-maas-fork")
        t.start()
        t.join()
        if "err" in box:
            raise box["err"]
        return box["out"]
