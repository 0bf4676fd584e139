"""Checkable task domains for the generators: the registry (:data:`DOMAINS`, :func:`get_domain`).

A :class:`Domain` knows, for its tasks: the agents and their roles, who speaks next (read from what was
said, so a wrong handoff really reroutes the run), what a *correct* agent says given the same inputs
(:meth:`Domain.act` — the scripted agents and the scripted oracle), which faults each agent can make,
the tools, the final answer and the checker. Agents read their inputs from the transcript (the plan,
the last value, the last tool result), so a corrupted step propagates the way it would in a real run.

Modules: :mod:`.base` (tasks, turns, the :class:`Domain` base), :mod:`.math_domain`, :mod:`.code_domain`,
:mod:`.tools_domain` (one domain each).
"""

from __future__ import annotations

from .base import Domain, Task, Turn, parse_tool_calls, task_id_of
from .code_domain import CodeDomain, code_of, run_code_tests
from .math_domain import MathDomain
from .team_domain import TeamDomain
from .team_tasks import FilesDomain, MultiHopDomain, WebDomain
from .tools_domain import ToolsDomain

__all__ = [
    "DOMAINS",
    "CodeDomain",
    "Domain",
    "MathDomain",
    "Task",
    "TeamDomain",
    "ToolsDomain",
    "WebDomain",
    "FilesDomain",
    "MultiHopDomain",
    "Turn",
    "code_of",
    "get_domain",
    "parse_tool_calls",
    "run_code_tests",
    "task_id_of",
]




DOMAINS: dict[str, Domain] = {d.name: d for d in (MathDomain(), CodeDomain(), ToolsDomain(), WebDomain(), FilesDomain(), MultiHopDomain())}


def get_domain(name: str) -> Domain:
    """The domain called ``name`` (``math``, ``code``, ``tools``, ``web``, ``files``, ``multihop``)."""
    try:
        return DOMAINS[name]
    except KeyError:
        raise ValueError(f"unknown domain {name!r}; expected one of {', '.join(DOMAINS)}") from None
