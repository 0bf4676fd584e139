"""The ``openai`` backend: any OpenAI-compatible ``/v1/chat/completions`` server, over plain HTTP.

``openai:MODEL@URL``: ``URL`` may be the server root (``http://127.0.0.1:8000``), the API base
(``.../v1``) or the full endpoint (``.../v1/chat/completions``). A key, if the server wants one, comes
from ``AGENTRACER_API_KEY`` or ``OPENAI_API_KEY`` (or the ``api_key`` option). No SDK is needed: the
standard library's ``urllib`` sends the requests. 5xx answers, 429 and connection errors are retried
with exponential backoff; other errors raise ``RuntimeError`` naming the URL, the status and the
server's message.

Thinking is switched with ``chat_template_kwargs: {"enable_thinking": ...}`` (vLLM and SGLang read it);
a server that rejects that field with a 400 is asked again without it. A separate
``reasoning_content`` in the answer (vLLM's reasoning parser) is put back as a ``<think>`` block.

Constrained output (``?constrain=1``): the answer's JSON schema goes out as OpenAI's
``response_format: {"type": "json_schema", ...}`` (OpenAI, vLLM, llama.cpp's ``llama-server``); a server
that rejects it (a 400/422, or llama-cpp-python's server's 500 naming ``response_format``) is asked again with
``{"type": "json_object", "schema": ...}``, and that form is kept for the next requests.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .text import chat_sampling

__all__ = ["OpenAIGenerator", "endpoint_of"]


def endpoint_of(url: str) -> str:
    """The chat-completions endpoint for a server root, an API base or the endpoint itself."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        url = "http://" + url
    if url.endswith("/chat/completions"):
        return url
    if url.endswith("/v1"):
        return url + "/chat/completions"
    return url + "/v1/chat/completions"


class OpenAIGenerator:
    """An OpenAI-compatible chat server as a :class:`Generator`."""

    tokenizer: Any = None
    supports_schema = True
    constrain_default = False

    def __init__(
        self,
        model: str,
        url: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 3,
        concurrency: int = 4,
        context: int | None = None,
        tokenizer: Any = None,
        backoff: float = 0.5,
    ) -> None:
        if not model:
            raise ValueError("openai backend: the model name is empty (use openai:MODEL@URL)")
        self.model = model
        self.url = endpoint_of(url)
        self.name = f"openai:{model}@{url}"
        self.api_key = api_key or os.environ.get("AGENTRACER_API_KEY") or os.environ.get("OPENAI_API_KEY")
        self.timeout = float(timeout)
        self.retries = max(int(retries), 0)
        self.concurrency = max(int(concurrency), 1)
        self.context_tokens = int(context) if context else None
        self.tokenizer = tokenizer
        self.backoff = float(backoff)
        self._send_template_kwargs = True
        self._schema_style = "json_schema"

    @classmethod
    def from_spec(cls, spec: str, **options: Any) -> OpenAIGenerator:
        """Build from ``MODEL@URL`` (the part of ``openai:MODEL@URL`` after the colon)."""
        model, sep, url = spec.rpartition("@")
        if not sep or not model or not url:
            raise ValueError(
                f"openai backend: expected MODEL@URL such as 'qwen3-8b@http://127.0.0.1:8000/v1', got {spec!r}"
            )
        return cls(model, url, **options)

    # ------------------------------------------------------------------ HTTP
    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self._schema_style == "json_object":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "attribution", "schema": schema}}

    def _body(
        self, messages: list[dict[str, str]], sampling: dict[str, Any], schema: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, **chat_sampling(sampling)}
        if self._send_template_kwargs and "enable_thinking" in sampling:
            body["chat_template_kwargs"] = {"enable_thinking": bool(sampling["enable_thinking"])}
        if schema is not None:
            body["response_format"] = self._response_format(schema)
        return body

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last = ""
        attempt = 0
        while attempt <= self.retries:
            req = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    payload = resp.read().decode("utf-8", errors="replace")
                try:
                    return json.loads(payload)
                except ValueError:
                    raise RuntimeError(
                        f"openai backend: {self.url} answered with something that is not JSON: {payload[:200]!r}"
                    ) from None
            except urllib.error.HTTPError as e:
                detail = _error_text(e)
                refused = e.code in (400, 422) or (e.code == 500 and "response_format" in detail)
                if refused and self._schema_style == "json_schema" and "response_format" in body:
                    # llama-cpp-python's server knows only {"type": "json_object", "schema": ...} (and says so
                    # with a 500 carrying the validation error)
                    self._schema_style = "json_object"
                    schema = body["response_format"]["json_schema"]["schema"]
                    body = {**body, "response_format": self._response_format(schema)}
                    data = json.dumps(body).encode("utf-8")
                    continue
                if e.code >= 500 or e.code == 429:
                    last = f"HTTP {e.code}: {detail}"
                elif e.code == 400 and "chat_template_kwargs" in body and self._send_template_kwargs:
                    # a strict server: ask again without the thinking switch, and stop sending it
                    self._send_template_kwargs = False
                    body = {k: v for k, v in body.items() if k != "chat_template_kwargs"}
                    data = json.dumps(body).encode("utf-8")
                    continue
                else:
                    hint = " (check the API key: AGENTRACER_API_KEY / OPENAI_API_KEY)" if e.code in (401, 403) else ""
                    hint = hint or (" (check the model name and the URL)" if e.code == 404 else "")
                    raise RuntimeError(f"openai backend: {self.url} answered HTTP {e.code}: {detail}{hint}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                last = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
            if attempt < self.retries:
                time.sleep(self.backoff * (2**attempt))
            attempt += 1
        raise RuntimeError(
            f"openai backend: {self.url} failed after {self.retries + 1} attempt(s): {last}. "
            "Is the server running, and is the URL right (e.g. http://127.0.0.1:8000/v1)?"
        )

    def complete(
        self, messages: list[dict[str, str]], schema: dict[str, Any] | None = None, **sampling: Any
    ) -> str:
        """One chat completion: the assistant's text (with ``<think>`` around any separate reasoning).

        ``schema``: a JSON schema the answer must follow (sent as ``response_format``).
        """
        reply = self._post(self._body(messages, sampling, schema))
        try:
            msg = reply["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise RuntimeError(f"openai backend: {self.url} returned no choices: {json.dumps(reply)[:300]}") from None
        content = msg.get("content") or ""
        reasoning = msg.get("reasoning_content") or msg.get("reasoning") or ""
        if reasoning and "<think>" not in content:
            content = f"<think>{reasoning}</think>\n{content}"
        return content if isinstance(content, str) else json.dumps(content)

    def generate(self, messages_batch: list[list[dict[str, str]]], **sampling: Any) -> list[str]:
        """One completion per conversation, up to ``concurrency`` requests at a time, in order.

        ``schemas`` (optional): one JSON schema (or None) per conversation.
        """
        schemas = sampling.pop("schemas", None) or [None] * len(messages_batch)
        pairs = list(zip(messages_batch, schemas, strict=True))
        if len(pairs) <= 1 or self.concurrency == 1:
            return [self.complete(m, schema=s, **sampling) for m, s in pairs]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(pairs))) as pool:
            return list(pool.map(lambda p: self.complete(p[0], schema=p[1], **sampling), pairs))


def _error_text(e: urllib.error.HTTPError) -> str:
    try:
        raw = e.read().decode("utf-8", errors="replace")
    except Exception:
        raw = ""
    try:
        d = json.loads(raw)
        err = d.get("error", d) if isinstance(d, dict) else d
        if isinstance(err, dict):
            return str(err.get("message") or err)[:300]
        return str(err)[:300]
    except ValueError:
        return (raw or str(e.reason))[:300]
