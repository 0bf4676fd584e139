"""Counterfactual forks of AutoGen AgentChat teams (:class:`AutogenFork`).

For RoundRobinGroupChat, SelectorGroupChat and Swarm — AutoGen's own
``save_state`` → patch → ``load_state``:

1. a fresh team (from the factory, or a ``dump_component``/``load_component`` clone) is built with
   ``max_turns`` = the participant turns up to and including step k (set before the team is
   initialised: ``load_state`` initialises the manager, after which ``max_turns`` cannot change);
2. it runs the original task with the record/replay LLM layer serving every recorded response up to
   step k, so no model is called before the fork point;
3. ``save_state()``; step k's message is replaced in the three places that hold it: the manager's
   ``message_thread``, the other participants' ``message_buffer`` and the speaker's own ``llm_context``;
4. a second fresh team (``max_turns`` = what the original run had left) ``load_state``s the patched
   state and ``run()``s without a task: only the suffix is generated, live.

MagenticOneGroupChat cannot resume a loaded state without a new task (its orchestrator asserts that
the start message holds one and re-plans), so for it — and for steps of a group chat manager — the
fork re-runs the task on a fresh team with the prefix served from the recording and overrides step
k's output as it is produced (the speaker's response, its own model context, or the orchestrator's
message object, which is both its thread entry and what it broadcasts); the suffix then runs live.

Feedback to an agent is :mod:`.feedback`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import logging
from collections.abc import Callable
from typing import Any

from agentracer.recording import Recorder, ReplayLLM, Run
from agentracer.trace import Trace, TraceError

from .detect import FRAMEWORK, is_autogen
from .instrument import instrument
from .messages import replace_last_assistant

log = logging.getLogger("agentracer.autogen")

__all__ = ["AutogenFork", "patch_team_state"]


def _team_factory(system: Any) -> Callable[[], Any]:
    from autogen_agentchat.teams import BaseGroupChat

    if isinstance(system, BaseGroupChat):
        try:
            config = system.dump_component()
        except Exception as e:
            raise TypeError(
                f"agentracer.fork: cannot clone {type(system).__name__} with dump_component() ({e}); "
                "pass a zero-argument factory that builds a fresh team instead"
            ) from None

        def clone() -> Any:
            return BaseGroupChat.load_component(config)

        return clone
    if callable(system) and not is_autogen(system):
        return system
    raise TypeError(
        f"agentracer.fork: expected an AutoGen team or a zero-argument factory of teams, got {type(system).__qualname__}"
    )


def patch_team_state(
    state: dict[str, Any], message_id: str | None, speaker: str, original: str, replacement: str, manager: str
) -> tuple[dict[str, Any], dict[str, int]]:
    """Replace one message of a saved ``TeamState`` everywhere it is held; return the copy and the counts.

    The manager's ``message_thread`` and the participants' ``message_buffer`` entries are matched by
    message id; in the speaker's ``llm_context`` the last ``AssistantMessage`` with the original text is
    replaced (a tool-call summary or a handoff has no such copy, and nothing is changed there).
    """
    st = copy.deepcopy(state)
    agents = st.get("agent_states", {})
    counts = {"message_thread": 0, "message_buffer": 0, "llm_context": 0}
    if message_id:
        counts["message_thread"] += _replace_by_id(agents.get(manager, {}).get("message_thread", []), message_id, replacement)
        for name, a in agents.items():
            if name != manager:
                counts["message_buffer"] += _replace_by_id(a.get("message_buffer", []) or [], message_id, replacement)
    ctx = ((agents.get(speaker) or {}).get("agent_state") or {}).get("llm_context") or {}
    counts["llm_context"] += replace_last_assistant(ctx.get("messages", []), original, replacement)
    return st, counts


def _replace_by_id(messages: list[dict[str, Any]], message_id: str, replacement: str) -> int:
    """Set the content of the dumped messages with id ``message_id`` to ``replacement``; how many there were."""
    n = 0
    for m in messages:
        if m.get("id") == message_id:
            m["content"] = replacement
            n += 1
    return n


class AutogenFork:
    """A runnable that resumes a recorded AutoGen team run at agent step ``step`` with its output replaced.

    ``system``: the team (cloned with ``dump_component``) or a zero-argument factory of fresh, identical
    teams (needed when tools are closures or the model clients are not serialisable). Calling the fork
    returns ``(TaskResult, Trace)``: the result of the resumed run and the new trace, whose steps up to
    ``step`` reproduce the recording (step ``step`` holding ``replacement``) and whose later steps ran
    again. ``await fork.arun()`` inside an event loop. ``trace.metadata["fork"]`` says how many LLM calls
    the prefix served from the recording (``prefix_replayed``) and how many it had to make live
    (``prefix_live``, 0 when the prefix reproduced exactly).
    """

    def __init__(
        self, system: Any, trace: Trace, step: int, replacement: str, *, recorder: Recorder | None = None
    ) -> None:
        trace.fork_target(step)  # an agent step in range, else TraceError
        if not isinstance(replacement, str):
            raise TypeError("agentracer.fork: replacement must be a string")
        self.factory = _team_factory(system)
        self.trace = trace
        self.step = step
        self.replacement = replacement
        src = recorder
        if src is None:
            import agentracer

            src = agentracer.recorder_of(system)
        self._tracer_provider = getattr(src, "_tracer_provider", None)
        self._capture = getattr(src, "capture_content", None)
        self.mode: str | None = None  # "state" (save/patch/load) or "override" (re-run, replace live), once run

    # ------------------------------------------------------------------ running
    def __call__(self) -> tuple[Any, Trace]:
        """Run the fork to completion (in a worker thread when an event loop is already running)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.arun())
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            return ex.submit(asyncio.run, self.arun()).result()

    async def arun(self) -> tuple[Any, Trace]:
        """Run the fork in the current event loop; returns ``(TaskResult, Trace)``."""
        from autogen_agentchat.teams import BaseGroupChat, MagenticOneGroupChat

        team = self.factory()
        if not isinstance(team, BaseGroupChat):
            raise TypeError(f"agentracer.fork: the factory returned {type(team).__qualname__}, not an AutoGen team")
        if getattr(team, "_initialized", False):
            raise TypeError("agentracer.fork: the factory must return a fresh team (this one already ran)")
        participants = list(team._participant_names)
        target = self.trace.steps[self.step]
        if target.agent not in participants and target.agent != team._group_chat_manager_name:
            raise TraceError(
                f"agent {target.agent!r} is not in this team (participants: {', '.join(participants)})",
                field="agent",
                step=self.step,
            )
        live = isinstance(team, MagenticOneGroupChat) or target.agent not in participants
        self.mode = "override" if live else "state"
        replay = ReplayLLM.from_trace(self.trace, upto_step=self.step + 1)
        rec = Recorder(
            tracer_provider=self._tracer_provider, capture_content=self._capture, framework=FRAMEWORK, replay=replay
        )
        run = rec.start_run(
            self.trace.task,
            framework=FRAMEWORK,
            agents=participants,
            metadata={"autogen.team": type(team).__name__, "autogen.participants": participants},
        )
        if not isinstance(run, Run):
            raise RuntimeError("agentracer.fork: the recorder could not open a run")
        info: dict[str, Any] = {
            "parent_run_id": self.trace.run_id,
            "step": self.step,
            "agent": target.agent,
            "replacement": self.replacement,
            "mode": self.mode,
        }
        run.trace.metadata["fork"] = info
        try:
            if live:
                result = await self._run_override(team, rec, run, replay, info)
            else:
                result = await self._run_state(team, rec, run, replay, info)
        except BaseException as e:
            rec.end_run(run, error=e)
            raise
        final = run.trace.metadata.get("autogen.last_message")
        tr = rec.end_run(run, final_answer=final)
        return result, tr if tr is not None else run.trace

    def _position(self) -> int:
        return [s.index for s in self.trace.agent_steps()].index(self.step)

    def _new_step(self, run: Run, pos: int) -> Any:
        steps = run.trace.agent_steps()
        target = self.trace.steps[self.step]
        if len(steps) <= pos or steps[pos].agent != target.agent:
            got = steps[pos].agent if len(steps) > pos else "nothing"
            raise RuntimeError(
                f"agentracer.fork: the replayed prefix diverged from the recording at step {self.step} "
                f"(expected {target.agent!r}, got {got!r}); is the team built the same way?"
            )
        return steps[pos]

    async def _run_state(self, team: Any, rec: Recorder, run: Run, replay: ReplayLLM, info: dict[str, Any]) -> Any:
        from autogen_agentchat.base import TaskResult

        pos = self._position()
        participants = list(team._participant_names)
        agent_steps = self.trace.agent_steps()
        n_turns = sum(1 for s in agent_steps[: pos + 1] if s.agent in participants)
        orig_max = team._max_turns
        team._max_turns = n_turns  # before the team is initialised (see the module docstring)
        instrument(team, rec, external_run=run)
        await team.run(task=self.trace.task)
        state = await team.save_state()
        new = self._new_step(run, pos)
        original = new.content
        patched, counts = patch_team_state(
            state, new.metadata.get("message_id"), new.agent, original, self.replacement, team._group_chat_manager_name
        )
        if counts["message_thread"] == 0:
            raise RuntimeError(f"agentracer.fork: step {self.step}'s message was not found in the saved team state")
        self._mark(new, original)
        info.update(prefix_replayed=replay.served, prefix_live=replay.missed, patched=counts, prefix_turns=n_turns)
        rec.replay = None  # from here on, the run is live
        remaining = None if orig_max is None else orig_max - n_turns
        info["suffix_max_turns"] = remaining
        suffix = self.factory()
        result = TaskResult(messages=[], stop_reason="the fork point was the last turn of the original run")
        if remaining is not None and remaining <= 0:
            return result
        if remaining is not None:
            suffix._max_turns = remaining
        instrument(suffix, rec, external_run=run)
        await suffix.load_state(patched)
        if await self._terminates(suffix, patched, new.metadata.get("message_id")):
            return TaskResult(messages=[], stop_reason="the replaced message meets the termination condition")
        return await suffix.run()

    @staticmethod
    async def _terminates(team: Any, state: dict[str, Any], message_id: str | None) -> bool:
        """Bring the suffix team's termination condition to where the original run's was after step k: feed it
        the loaded thread up to and including the replaced message (the manager fed the original run's
        condition the same messages). True when that stops the run. Otherwise the condition keeps its state,
        so that a counting condition (``MaxMessageTermination``) stops the suffix where the original run would
        have stopped, not that many messages later."""
        cond = team._termination_condition
        if cond is None or not message_id:
            return False
        thread = state["agent_states"][team._group_chat_manager_name].get("message_thread", [])
        end = next((i for i, m in enumerate(thread) if m.get("id") == message_id), None)
        if end is None:
            return False
        try:
            prefix = [team._message_factory.create(m) for m in thread[: end + 1]]
        except Exception:  # an item the factory cannot rebuild: the replaced message alone, as the manager saw it last
            log.warning("agentracer.fork: the termination condition sees only the replaced message", exc_info=True)
            prefix = [team._message_factory.create(thread[end])]
        stop = await cond(prefix)
        if stop is not None:
            await cond.reset()
        return stop is not None

    async def _run_override(self, team: Any, rec: Recorder, run: Run, replay: ReplayLLM, info: dict[str, Any]) -> Any:
        pos = self._position()
        session = instrument(team, rec, external_run=run)
        session.override = (pos, self.replacement)

        def fired() -> None:
            info.update(prefix_replayed=replay.served, prefix_live=replay.missed)
            rec.replay = None

        session.on_override = fired
        result = await team.run(task=self.trace.task)
        if session.overridden is None:
            raise RuntimeError(f"agentracer.fork: the re-run ended before step {self.step}")
        new = self._new_step(run, pos)
        original = session.overridden["original"]
        self._mark(new, original if original is not None else self.trace.steps[self.step].content)
        return result

    def _mark(self, step: Any, original: str) -> None:
        step.content = self.replacement
        step.replay["overridden"] = True
        step.replay["parent_run_id"] = self.trace.run_id
        step.metadata["original_content"] = original
