"""A scripted fake chat model for tests, examples and the demo (no network, no weights).

:class:`ScriptedChatModel` is LangChain's own ``GenericFakeChatModel`` plus three things a multi-agent test
needs: it records every prompt it is sent (``calls``), it accepts ``bind_tools`` (so prebuilt agents such
as ``create_react_agent`` take it), and it can answer through a function of the prompt (``respond``)
instead of a fixed script.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

__all__ = ["ScriptedChatModel", "scripted"]


class ScriptedChatModel(GenericFakeChatModel):
    """A fake chat model that answers from a script (or ``respond(messages)``) and records its prompts."""

    messages: Iterator[AIMessage | str] = Field(default_factory=lambda: iter(()))
    respond: Callable[[list[BaseMessage]], AIMessage | str] | None = None
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    model: str = "scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:
        """Tools are accepted and ignored: tool calls come from the script."""
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append(list(messages))
        if self.respond is not None:
            out = self.respond(list(messages))
        else:
            try:
                out = next(self.messages)
            except StopIteration:
                raise RuntimeError(f"ScriptedChatModel {self.model!r}: script exhausted after {len(self.calls) - 1} call(s)") from None
        msg = AIMessage(content=out) if isinstance(out, str) else out
        return ChatResult(generations=[ChatGeneration(message=msg)])

    @property
    def _llm_type(self) -> str:
        return "scripted-fake-chat-model"

    @property
    def prompts(self) -> list[str]:
        """Each call's prompt as one string (``role: content`` lines), for easy assertions."""
        return ["\n".join(f"{m.type}: {m.content}" for m in call) for call in self.calls]


def scripted(responses: Iterable[AIMessage | str] = (), *, model: str = "scripted",
             respond: Callable[[list[BaseMessage]], AIMessage | str] | None = None) -> ScriptedChatModel:
    """A :class:`ScriptedChatModel` answering ``responses`` in order (or through ``respond``)."""
    return ScriptedChatModel(messages=iter(list(responses)), model=model, respond=respond)
