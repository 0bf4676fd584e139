"""Real LLMs behind an OpenAI-compatible endpoint, on the standard library: one chat completion, a
MaAS-shaped ``aask`` LLM and a Self-Refine-style critic (for ``agentracer refine --base-url``)."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from ..trace import Trace
from .checks import question_of
from .notes import clip

__all__ = ["OpenAICompatLLM", "llm_critic", "openai_chat"]


def openai_chat(base_url: str, model: str, messages: list[dict[str, str]], *, api_key: str | None = None,
                temperature: float = 0.0, max_tokens: int = 512, timeout: float = 120.0) -> str:
    """One chat completion from an OpenAI-compatible endpoint (``POST {base_url}/chat/completions``)."""
    url = base_url.rstrip("/") + "/chat/completions"
    body = json.dumps({"model": model, "messages": messages, "temperature": temperature,
                       "max_tokens": max_tokens}).encode("utf-8")
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json",
                                                         "Authorization": f"Bearer {api_key or 'none'}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            data = json.loads(resp.read().decode("utf-8"))
    except urllib.error.URLError as e:
        raise ConnectionError(f"{url}: {e}") from e
    try:
        return str(data["choices"][0]["message"]["content"] or "")
    except (KeyError, IndexError, TypeError) as e:
        raise ConnectionError(f"{url}: unexpected response {str(data)[:200]}") from e


class OpenAICompatLLM:
    """A MaAS-shaped LLM (``async aask``) backed by an OpenAI-compatible endpoint."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, temperature: float = 0.0,
                 max_tokens: int = 512) -> None:
        self.base_url, self.model, self.api_key, self.temperature = base_url, model, api_key, temperature
        self.max_tokens = max_tokens

    async def aask(self, msg: Any, system_msgs: list[str] | None = None, *args: Any, **kwargs: Any) -> str:
        messages = [{"role": "system", "content": s} for s in system_msgs or []]
        messages += [{"role": "user", "content": msg}] if isinstance(msg, str) else list(msg)
        return await asyncio.to_thread(openai_chat, self.base_url, self.model, messages, api_key=self.api_key,
                                       temperature=self.temperature, max_tokens=self.max_tokens)


def llm_critic(base_url: str, model: str, api_key: str | None = None, max_tokens: int = 512) -> Callable[[Trace, Any], str]:
    """A Self-Refine-style critic: the LLM reads the whole trajectory and writes a critique for every agent
    (at most ``max_tokens`` tokens)."""

    def critic(trace: Trace, task: Any) -> str:
        steps = "\n".join(f"[{s.index}] {s.agent}: {clip(s.content, 400)}" for s in trace.agent_steps())
        prompt = (
            f"A multi-agent system answered the task below and its final answer was judged wrong.\n"
            f"Task: {question_of(task)}\nTrajectory:\n{steps}\nFinal answer: {trace.final_answer}\n\n"
            f"Write a short critique of the whole trajectory with concrete suggestions to improve it "
            f"(Self-Refine style). It will be shown to every agent."
        )
        return openai_chat(base_url, model, [{"role": "user", "content": prompt}], api_key=api_key,
                           max_tokens=max_tokens)

    return critic

