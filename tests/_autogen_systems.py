"""Small AutoGen AgentChat systems on ReplayChatCompletionClient, shared by the AutoGen tests (offline, fast).

Each builder takes the scripted answers of its agents, so that a fork can be given a fresh team whose
clients hold the answers of the suffix (a scripted client does not read its prompt).
"""

from __future__ import annotations

import json
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import TextMentionTermination
from autogen_agentchat.teams import MagenticOneGroupChat, RoundRobinGroupChat, SelectorGroupChat, Swarm
from autogen_core import FunctionCall
from autogen_core.models import CreateResult, ModelInfo, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient

MODEL_INFO = ModelInfo(
    vision=False, function_calling=True, json_output=False, family="unknown", structured_output=False
)
TASK = "What is 17 * 3? Answer with the number."


def client(*responses: Any) -> ReplayChatCompletionClient:
    """A scripted model client (strings or CreateResult objects)."""
    return ReplayChatCompletionClient(list(responses), model_info=MODEL_INFO)


def call(name: str, call_id: str = "call-1", **arguments: Any) -> CreateResult:
    """A scripted tool call answer."""
    return CreateResult(
        finish_reason="function_calls",
        content=[FunctionCall(id=call_id, name=name, arguments=json.dumps(arguments))],
        usage=RequestUsage(prompt_tokens=3, completion_tokens=2),
        cached=False,
    )


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def round_robin(
    planner: tuple[Any, ...] = ("PLAN: use the multiply tool on 17 and 3.",),
    coder: tuple[Any, ...] = (call("add", a=17, b=3), "The result is 20."),
    reviewer: tuple[Any, ...] = ("Looks right. FINAL ANSWER: 20",),
    max_turns: int = 3,
) -> RoundRobinGroupChat:
    """planner → coder (a tool call, reflected on) → reviewer. By default the coder calls the wrong tool."""
    return RoundRobinGroupChat(
        [
            AssistantAgent("planner", model_client=client(*planner), description="Plans."),
            AssistantAgent(
                "coder",
                model_client=client(*coder),
                tools=[multiply, add],
                reflect_on_tool_use=True,
                description="Computes with tools.",
            ),
            AssistantAgent("reviewer", model_client=client(*reviewer), description="Reviews."),
        ],
        max_turns=max_turns,
    )


def selector(
    picks: tuple[str, ...] = ("planner", "coder", "reviewer"),
    planner: tuple[Any, ...] = ("PLAN: multiply.",),
    coder: tuple[Any, ...] = ("17 * 3 = 41",),
    reviewer: tuple[Any, ...] = ("FINAL ANSWER: 41",),
) -> SelectorGroupChat:
    """A model-based selector picks the next speaker each turn (one LLM call per pick)."""
    return SelectorGroupChat(
        [
            AssistantAgent("planner", model_client=client(*planner), description="Plans."),
            AssistantAgent("coder", model_client=client(*coder), description="Computes."),
            AssistantAgent("reviewer", model_client=client(*reviewer), description="Reviews."),
        ],
        model_client=client(*picks),
        max_turns=3,
    )


def swarm(
    triage: tuple[Any, ...] = (call("transfer_to_solver", "h1"),),
    solver: tuple[Any, ...] = ("17 * 3 = 41.", "FINAL ANSWER: 41. TERMINATE"),
) -> Swarm:
    """triage hands off to solver (a handoff tool call); solver answers, then concludes with TERMINATE."""
    return Swarm(
        [
            AssistantAgent("triage", model_client=client(*triage), handoffs=["solver"], description="Routes."),
            AssistantAgent("solver", model_client=client(*solver), handoffs=["triage"], description="Solves."),
        ],
        termination_condition=TextMentionTermination("TERMINATE"),
        max_turns=5,
    )


def ledger(next_speaker: str, instruction: str, done: bool = False) -> str:
    """A MagenticOne progress ledger (the orchestrator's JSON answer)."""

    def ans(a: Any) -> dict[str, Any]:
        return {"reason": "because", "answer": a}

    return json.dumps(
        {
            "is_request_satisfied": ans(done),
            "is_in_loop": ans(False),
            "is_progress_being_made": ans(True),
            "next_speaker": ans(next_speaker),
            "instruction_or_question": ans(instruction),
        }
    )


ORCHESTRATOR = (
    "FACTS: 17 and 3 are given.",
    "PLAN: ask the coder to multiply.",
    ledger("coder", "Multiply 17 by 3."),
    ledger("coder", "", done=True),
    "FINAL ANSWER: 41",
)


def magentic_one(
    orchestrator: tuple[Any, ...] = ORCHESTRATOR,
    coder: tuple[Any, ...] = ("17 * 3 = 41",),
) -> MagenticOneGroupChat:
    """The orchestrator gathers facts, plans, instructs the coder, then writes the final answer."""
    return MagenticOneGroupChat(
        [
            AssistantAgent("coder", model_client=client(*coder), description="Computes."),
            AssistantAgent("checker", model_client=client("Checked."), description="Checks."),
        ],
        model_client=client(*orchestrator),
        max_turns=5,
    )


def agent_clients(team: Any) -> dict[str, Any]:
    """The scripted client of each participant (through agentracer's wrapper, if instrumented)."""
    out = {}
    for p in team._participants:
        c = p._model_client
        out[p.name] = getattr(c, "_agentracer_inner", c)
    return out


def prompt_text(create_call: dict[str, Any]) -> str:
    """Everything a model client was sent in one call, as one string."""
    return "\n".join(str(getattr(m, "content", m)) for m in create_call["messages"])


def signature(result: Any) -> list[tuple[str, str, str]]:
    """What the host sees of a run: (type, source, content) of each message, without ids or timestamps."""
    return [(type(m).__name__, m.source, str(m.content)) for m in result.messages] + [
        ("stop", "", str(result.stop_reason))
    ]


def openai_client(*answers: Any) -> Any:
    """AutoGen's ``OpenAIChatCompletionClient`` answered in process by a scripted OpenAI endpoint
    (``httpx.MockTransport``: no server, no network). Each answer is a string or a ``(tool, arguments)`` call.
    ``client.requests`` collects the JSON bodies the client sent."""
    import httpx
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    requests: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(json.loads(request.content))
        a = answers[(len(requests) - 1) % len(answers)]
        if isinstance(a, str):
            msg: dict[str, Any] = {"role": "assistant", "content": a}
            finish = "stop"
        else:
            fn = {"name": a[0], "arguments": json.dumps(a[1])}
            msg = {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call-1", "type": "function", "function": fn}],
            }
            finish = "tool_calls"
        body = {
            "id": f"chatcmpl-{len(requests)}",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "finish_reason": finish, "message": msg}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
        }
        return httpx.Response(200, json=body)

    c = OpenAIChatCompletionClient(
        model="gpt-4o-mini",
        api_key="sk-test-not-a-key",
        base_url="http://llm.invalid/v1",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    c.requests = requests  # type: ignore[attr-defined]
    return c


def round_robin_openai() -> RoundRobinGroupChat:
    """:func:`round_robin` on OpenAI clients (see :func:`openai_client`)."""
    return RoundRobinGroupChat(
        [
            AssistantAgent(
                "planner", model_client=openai_client("PLAN: use the multiply tool on 17 and 3."), description="Plans."
            ),
            AssistantAgent(
                "coder",
                model_client=openai_client(("add", {"a": 17, "b": 3}), "The result is 20."),
                tools=[multiply, add],
                reflect_on_tool_use=True,
                description="Computes with tools.",
            ),
            AssistantAgent(
                "reviewer", model_client=openai_client("Looks right. FINAL ANSWER: 20"), description="Reviews."
            ),
        ],
        max_turns=3,
    )
