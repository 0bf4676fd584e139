"""An offline, scripted CAMEL model for tests and examples: ``ScriptedModel``.

It subclasses CAMEL's own ``StubModel`` and overrides ``_run``/``_arun`` so that each call answers from
a script instead of "Lorem Ipsum", and keeps a call log (the prompt messages of every call), which
tests use to prove what was and was not sent to the model.

A reply is a string (the assistant's text), or a dict ``{"content": str, "tool_calls": [{"name": str,
"arguments": dict, "id": str?}]}`` to make the agent call tools. The script is a list of replies
(consumed in order) or a function ``(messages) -> reply``.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from camel.models import StubModel
from camel.types import ChatCompletion, ModelType

__all__ = ["Reply", "ScriptedModel", "completion"]

Reply = str | dict[str, Any]


def completion(reply: Reply, model: str = "stub", index: int = 0) -> ChatCompletion:
    """The ``ChatCompletion`` for one scripted reply (text, or text plus tool calls)."""
    if isinstance(reply, str):
        reply = {"content": reply}
    calls = []
    for i, tc in enumerate(reply.get("tool_calls") or []):
        calls.append({
            "id": tc.get("id") or f"call_{index}_{i}",
            "type": "function",
            "function": {"name": tc["name"], "arguments": json.dumps(tc.get("arguments") or {})},
        })
    message: dict[str, Any] = {"role": "assistant", "content": reply.get("content")}
    if calls:
        message["tool_calls"] = calls
    return ChatCompletion.model_validate({
        "id": f"scripted-{index}",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "finish_reason": "tool_calls" if calls else "stop", "message": message,
                     "logprobs": None}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    })


class ScriptedModel(StubModel):
    """CAMEL ``StubModel`` that answers from a script and logs every prompt it receives in ``calls``."""

    def __init__(self, script: Sequence[Reply] | Callable[[list[dict[str, Any]]], Reply], *, name: str = "stub") -> None:
        super().__init__(ModelType.STUB)
        self.name = name
        self._fn = script if callable(script) else None
        self._replies = list(script) if not callable(script) else []
        self._lock = threading.Lock()
        self.calls: list[list[dict[str, Any]]] = []

    def _answer(self, messages: list[dict[str, Any]]) -> ChatCompletion:
        with self._lock:
            self.calls.append(copy.deepcopy(list(messages)))
            n = len(self.calls) - 1
            if self._fn is None:
                if n >= len(self._replies):
                    raise RuntimeError(f"ScriptedModel {self.name!r}: script exhausted after {len(self._replies)} replies")
                reply = self._replies[n]
        if self._fn is not None:
            reply = self._fn(list(messages))
        return completion(reply, self.name, n)

    def _run(self, messages: list[dict[str, Any]], response_format: Any = None, tools: Any = None) -> ChatCompletion:
        return self._answer(messages)

    async def _arun(self, messages: list[dict[str, Any]], response_format: Any = None, tools: Any = None) -> ChatCompletion:
        return self._answer(messages)

    def prompts(self) -> list[str]:
        """Each call's prompt flattened to one string (system message included)."""
        return ["\n".join(str(m.get("content") or "") for m in call) for call in self.calls]


# --------------------------------------------------------------------------- toy systems for tests
# Small, deterministic systems on ScriptedModel. Each scripted agent answers as a function of its own
# conversation (how many times it has spoken, what it said), so a fork that restores memory mid-run gets
# the same answers a real model would be asked for.


def _turn(messages: list[dict[str, Any]]) -> int:
    return sum(1 for m in messages if m.get("role") == "assistant" and m.get("content"))


def _last_number(messages: list[dict[str, Any]], role: str) -> str | None:
    import re

    for m in reversed(messages):
        if m.get("role") == role and m.get("content"):
            nums = re.findall(r"-?\d+(?:\.\d+)?", str(m["content"]))
            if nums:
                return nums[-1]
    return None


def planner_script(messages: list[dict[str, Any]]) -> str:
    """A RolePlaying user agent: two instructions, then TASK_DONE."""
    return ["Instruction: compute 6 * 7.", "Instruction: double-check the product.", "TASK_DONE"][min(_turn(messages), 2)]


def solver_script(messages: list[dict[str, Any]]) -> str:
    """A RolePlaying assistant that gets 6*7 wrong at first and then keeps its own number."""
    t = _turn(messages)
    if t == 0:
        return "Solution: 6 * 7 = 41"
    num = _last_number(messages, "assistant")
    return f"Solution: checked, the product is {num}" if t == 1 else f"Final answer: {num}"


def arithmetic_society(*, step_timeout: float | None = 30.0) -> tuple[Any, ScriptedModel, ScriptedModel]:
    """A two-agent RolePlaying society (Planner instructs, Solver answers) that fails on 6*7.

    Returns ``(society, planner_model, solver_model)``. ``step_timeout`` is set by default so that every
    agent step runs in CAMEL's worker thread (the path that drops contextvars).
    """
    from camel.societies import RolePlaying

    user_m, asst_m = ScriptedModel(planner_script, name="planner-model"), ScriptedModel(solver_script, name="solver-model")
    society = RolePlaying(
        "Solver", "Planner", task_prompt="What is 6 * 7?", with_task_specify=False,
        assistant_agent_kwargs={"model": asst_m, "step_timeout": step_timeout},
        user_agent_kwargs={"model": user_m, "step_timeout": step_timeout},
    )
    return society, user_m, asst_m


def multiply(a: float, b: float) -> float:
    """Multiply two numbers.

    Args:
        a (float): The first factor.
        b (float): The second factor.

    Returns:
        float: The product.
    """
    return a * b


def owl_user_script(messages: list[dict[str, Any]]) -> str:
    """The user agent of the OWL-style toy: two instructions, then TASK_DONE."""
    return ["Instruction: multiply 12 by 7 with the multiply tool.", "Instruction: now add 5 to the product.",
            "TASK_DONE"][min(_turn(messages), 2)]


def owl_assistant_script(messages: list[dict[str, Any]]) -> Reply:
    """The assistant of the OWL-style toy: uses the tool, then adds 5 wrongly (84 + 5 = 88)."""
    last = messages[-1]
    if last.get("role") == "tool":
        return f"Solution: the multiply tool returned {last.get('content')}."
    t = _turn(messages)
    if t == 0:
        return {"content": "", "tool_calls": [{"name": "multiply", "arguments": {"a": 12, "b": 7}, "id": "call_mul"}]}
    num = _last_number(messages, "assistant") or "0"
    if t == 1:
        return f"Solution: {int(float(num))} + 5 = 88"
    return f"Final answer: {num}"


def owl_style_society_class() -> type:
    """``OwlStyleRolePlaying``: a RolePlaying subclass shaped like OWL's ``OwlRolePlaying`` (our own code).

    Like OWL it builds its own user/assistant system prompts from the task and re-creates both agents,
    appends the overall task to every user instruction as auxiliary information, asks the assistant for
    the final answer once the user says ``TASK_DONE``, and overrides ``step``.
    """
    from camel.messages import BaseMessage
    from camel.responses import ChatAgentResponse
    from camel.societies import RolePlaying

    class OwlStyleRolePlaying(RolePlaying):
        """An OWL-shaped society: a user agent instructs, a tool-using assistant solves, TASK_DONE ends."""

        def __init__(self, **kwargs: Any) -> None:
            self.user_role_name = kwargs.get("user_role_name", "user")
            self.assistant_role_name = kwargs.get("assistant_role_name", "assistant")
            self.user_agent_kwargs = dict(kwargs.get("user_agent_kwargs") or {})
            self.assistant_agent_kwargs = dict(kwargs.get("assistant_agent_kwargs") or {})
            kwargs.setdefault("with_task_specify", False)
            super().__init__(**kwargs)
            user_sys = BaseMessage.make_user_message(
                role_name=self.user_role_name,
                content=f"You are the user. Instruct me step by step to solve: {self.task_prompt}. "
                "Give one instruction at a time. Reply TASK_DONE once the task is solved.")
            assistant_sys = BaseMessage.make_assistant_message(
                role_name=self.assistant_role_name,
                content=f"You are the assistant. Solve each instruction with your tools. Overall task: {self.task_prompt}. "
                "Start every reply with 'Solution:'.")
            self._init_agents(assistant_sys, user_sys, assistant_agent_kwargs=self.assistant_agent_kwargs,
                              user_agent_kwargs=self.user_agent_kwargs)

        def step(self, assistant_msg: Any) -> tuple[Any, Any]:
            user_response = self.user_agent.step(assistant_msg)
            if user_response.terminated or user_response.msgs is None:
                return (ChatAgentResponse(msgs=[], terminated=False, info={}),
                        ChatAgentResponse(msgs=[], terminated=user_response.terminated, info=user_response.info))
            user_msg = self._reduce_message_options(user_response.msgs)
            if "TASK_DONE" in user_msg.content:
                extra = f"\n\nNow give the final answer to the original task: <task>{self.task_prompt}</task>"
            else:
                extra = f"\n\nAuxiliary information about the overall task: <task>{self.task_prompt}</task>"
            assistant_response = self.assistant_agent.step(user_msg.create_new_instance(user_msg.content + extra))
            if assistant_response.terminated or assistant_response.msgs is None:
                return (ChatAgentResponse(msgs=[], terminated=assistant_response.terminated, info=assistant_response.info),
                        ChatAgentResponse(msgs=[user_msg], terminated=False, info=user_response.info))
            assistant_msg = self._reduce_message_options(assistant_response.msgs)
            return (ChatAgentResponse(msgs=[assistant_msg], terminated=assistant_response.terminated,
                                      info=assistant_response.info),
                    ChatAgentResponse(msgs=[user_msg], terminated=user_response.terminated, info=user_response.info))

    return OwlStyleRolePlaying


def owl_style_society(*, step_timeout: float | None = 30.0) -> tuple[Any, ScriptedModel, ScriptedModel]:
    """An ``OwlStyleRolePlaying`` society with a multiply tool that fails on 12*7+5; ``(society, user_m, asst_m)``."""
    from camel.toolkits import FunctionTool

    user_m = ScriptedModel(owl_user_script, name="owl-user-model")
    asst_m = ScriptedModel(owl_assistant_script, name="owl-assistant-model")
    cls = owl_style_society_class()
    society = cls(
        assistant_role_name="assistant", user_role_name="user", task_prompt="What is 12 * 7 + 5?",
        assistant_agent_kwargs={"model": asst_m, "tools": [FunctionTool(multiply)], "step_timeout": step_timeout},
        user_agent_kwargs={"model": user_m, "step_timeout": step_timeout},
    )
    return society, user_m, asst_m


WEB_DESCRIPTION = ("A helpful assistant that can search the web, extract webpage content, "
                   "simulate browser actions, and retrieve relevant information.")
CALC_DESCRIPTION = "A helpful assistant that specializes in reasoning and arithmetic."


def wf_planner_script(messages: list[dict[str, Any]]) -> str:
    """The Workforce task agent: decomposes into two subtasks; rates every result as good enough."""
    import json

    last = str(messages[-1].get("content") or "")
    if "EVALUATE TASK QUALITY" in last or "analyzing a task" in last:
        return json.dumps({"reasoning": "the result answers the subtask", "quality_score": 90, "issues": []})
    return ("<tasks><task>Find the population of Paris in millions.</task>"
            "<task>Compute half of the population of Paris found before.</task></tasks>")


def wf_coordinator_script(messages: list[dict[str, Any]]) -> str:
    """The Workforce coordinator: first task to the first worker, the rest in turn, each after the first."""
    import json
    import re

    last = str(messages[-1].get("content") or "")
    ids = re.findall(r"Task ID: (\S+)", last)
    workers = re.findall(r"^<([^>]+)>:<", last, re.M)
    return json.dumps({"assignments": [
        {"task_id": t, "assignee_id": workers[i % len(workers)], "dependencies": [] if i == 0 else [ids[0]]}
        for i, t in enumerate(ids)]})


def wf_web_script(messages: list[dict[str, Any]]) -> str:
    """The web worker: reports the wrong population (3.1 million instead of 2.1)."""
    import json

    return json.dumps({"content": "Paris has 3.1 million inhabitants.", "failed": False})


def wf_calc_script(messages: list[dict[str, Any]]) -> str:
    """The calculator worker: halves the population reported by the dependency."""
    import json
    import re

    found = re.findall(r"Paris has ([\d.]+) million", str(messages[-1].get("content") or ""))
    half = float(found[-1]) / 2 if found else 0.0
    return json.dumps({"content": f"Half of the population is {half:g} million.", "failed": False})


def research_workforce(*, step_timeout: float | None = 30.0) -> tuple[Any, dict[str, ScriptedModel]]:
    """An OWL-style Workforce (planner, coordinator, a web worker and a calculator) that fails on Paris.

    Built the way OWL's ``examples/run.py`` does: ``add_single_agent_worker(description, worker=ChatAgent)``,
    then ``process_task(Task(content=...))``. Returns ``(workforce, models)``, models keyed by role.
    """
    from camel.agents import ChatAgent
    from camel.societies.workforce import Workforce

    models = {
        "planner": ScriptedModel(wf_planner_script, name="planner-model"),
        "coordinator": ScriptedModel(wf_coordinator_script, name="coordinator-model"),
        "web": ScriptedModel(wf_web_script, name="web-model"),
        "calc": ScriptedModel(wf_calc_script, name="calc-model"),
    }
    wf = Workforce(
        "Paris research team",
        coordinator_agent=ChatAgent("You assign tasks to workers.", model=models["coordinator"], step_timeout=step_timeout),
        task_agent=ChatAgent("You plan tasks.", model=models["planner"], step_timeout=step_timeout),
        graceful_shutdown_timeout=0,
    )
    wf.add_single_agent_worker(WEB_DESCRIPTION, worker=ChatAgent("You search the web.", model=models["web"],
                                                                  step_timeout=step_timeout))
    wf.add_single_agent_worker(CALC_DESCRIPTION, worker=ChatAgent("You compute.", model=models["calc"],
                                                                   step_timeout=step_timeout))
    return wf, models
