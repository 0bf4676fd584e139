"""AgenTracer plugin for AutoGen AgentChat 0.7: record teams and agents, fork runs, give agents feedback.

Use it through the core one-liners (``agentracer.instrument``, ``agentracer.fork``,
``agentracer.inject_feedback``); the plugin module registered under the ``agentracer`` entry-point group
is :mod:`agentracer_autogen.plugin`. Importing this package does not import AutoGen.

Modules: :mod:`.instrument` (the entry point; team and run wrapping), :mod:`.session` (the recording state
of a team), :mod:`.agents` (agent turns), :mod:`.client` (LLM calls, record/replay), :mod:`.tools` (tool
calls), :mod:`.messages` (message text, prompt forms), :mod:`.patching` (per-instance patching),
:mod:`.detect` (:func:`is_autogen`), :mod:`.fork` and :mod:`.feedback`.
"""

from .client import TracedChatCompletionClient
from .detect import is_autogen
from .feedback import inject_feedback
from .fork import AutogenFork, patch_team_state
from .instrument import instrument
from .session import Session, session_of

__all__ = [
    "AutogenFork",
    "Session",
    "TracedChatCompletionClient",
    "inject_feedback",
    "instrument",
    "is_autogen",
    "patch_team_state",
    "session_of",
]
