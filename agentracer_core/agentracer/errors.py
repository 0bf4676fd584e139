"""The error a command's body raises for a user's mistake or an unusable input.

The feature modules' CLI bodies (``annotation.cli``, ``evaluation.cli``, ``training.cli``,
``refinement.cli``, ``data``) raise :class:`CommandError`; ``agentracer.cli`` prints it in the one error
style of every command (``agentracer: error: MESSAGE``, one line on stderr) and exits with its ``code``.
Called from Python, they raise it like any exception.
"""

from __future__ import annotations

__all__ = ["CommandError"]


class CommandError(Exception):
    """A command cannot go on: ``str(e)`` says why in one line, ``code`` is the exit status (2: bad input)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code
