"""The chat template :func:`agentracer.attribution.prompt.render_prompt` falls back to when a tokenizer has none
(a bare tokenizer, a tiny test model): Qwen3's, reduced to what the tracer needs."""

from __future__ import annotations

__all__ = ["QWEN3_CHAT_TEMPLATE"]

# The Qwen3 chat template, reduced to what the tracer needs: roles, generation prompt and the
# ``enable_thinking`` switch (an empty think block when thinking is off, as Qwen3 does).
QWEN3_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% if enable_thinking is defined and enable_thinking is false %}{{ '<think>\n\n</think>\n\n' }}{% endif %}"
    "{% endif %}"
)
