"""AgenTracer plugin for AutoGen AgentChat 0.7: record teams and agents, fork runs, give agents feedback.

Use it through the core one-liners (``agentracer.instrument``, ``agentracer.fork``,
``agentracer.inject_feedback``); the plugin module registered under the ``agentracer`` entry-point group
is :mod:`agentracer_autogen.plugin`. Importing this package does not import AutoGen.
"""

from .fork import AutogenFork, inject_feedback, patch_team_state
from .instrument import TracedChatCompletionClient, instrument, session_of

__all__ = ["AutogenFork", "TracedChatCompletionClient", "inject_feedback", "instrument", "patch_team_state", "session_of"]
