"""The names steps are recorded under: CAMEL agents and Workforce workers, resolved to readable names.

A registered agent keeps the name it was registered with (or its role name); a Workforce worker's agent
clones, which CAMEL creates per task, are named after their worker node (the user's ``names``, else a
specific role name, else the first clause of the worker's description), unique within the session.
Also here: :func:`text_of` and :func:`usage_of`, the readers of CAMEL messages and responses.
"""

from __future__ import annotations

import re
import weakref
from typing import Any

from agentracer.recording import Recorder
from agentracer.trace import normalize_agent

from .session import ACTIVE, AGENTS, SYSTEMS, WORKER, AgentInfo, Session

GENERIC_ROLE_NAMES = frozenset({"", "assistant", "user", "system", "agent"})
# a RolePlaying society's agents: (attribute, role)
SOCIETY_ROLES = (("user_agent", "user"), ("assistant_agent", "assistant"), ("critic", "critic"))


def text_of(value: Any) -> str:
    """The text of a message-like value (its ``content`` when that is a string), "" for None."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    content = getattr(value, "content", None)
    return content if isinstance(content, str) else str(value)


def usage_of(response: Any) -> dict[str, Any]:
    """The ``info["usage"]`` dict of a ``ChatAgentResponse`` (OpenAI-style token counts), {} when absent."""
    info = getattr(response, "info", None) or {}
    usage = info.get("usage") if isinstance(info, dict) else None
    return usage if isinstance(usage, dict) else {}


def short_description(desc: str, limit: int = 64) -> str:
    """A readable worker name from a Workforce worker description: all of it when short, else its first
    clause (up to ``limit + 16`` characters), else its first ``limit`` characters cut at a word."""
    d = " ".join(str(desc).split()).rstrip(".")
    if len(d) <= limit:
        return d
    first = re.split(r"[.;:,(]", d, maxsplit=1)[0].strip()
    if 0 < len(first) <= limit + 16:
        return first
    cut = d[:limit].rsplit(" ", 1)[0]
    return cut + "…"


def role_name(agent: Any) -> str:
    """The agent's CAMEL ``role_name`` ("" when it has none)."""
    return str(getattr(agent, "role_name", "") or "")


def _is_generic(name: str) -> bool:
    return normalize_agent(name) in GENERIC_ROLE_NAMES


def worker_name(session: Session, node: Any) -> str:
    """The readable name of a Workforce worker node (cached per node id, unique within the session)."""
    node_id = str(getattr(node, "node_id", "") or "")
    with session.lock:
        if node_id in session.worker_names:
            return session.worker_names[node_id]
        desc = str(getattr(node, "description", "") or "")
        base = getattr(node, "worker", None)
        name = session.override(node_id, desc, getattr(base, "agent_id", None))
        if not name:
            role = role_name(base) if base is not None else ""
            if role and not _is_generic(role):
                name = role
            elif desc:
                name = short_description(desc)
            else:
                name = node_id or "worker"
        taken = set(session.worker_names.values())
        unique, n = name, 2
        while unique in taken:
            unique, n = f"{name} ({n})", n + 1
        session.worker_names[node_id] = unique
        return unique


def workforce_agent_name(session: Session, wf: Any, agent: Any, prefix: str = "") -> tuple[str, str] | None:
    """``(name, role)`` if ``agent`` is the coordinator or task agent of ``wf`` or of a nested workforce."""
    try:
        from camel.societies.workforce import Workforce
    except Exception:  # pragma: no cover - camel missing
        return None
    if getattr(wf, "coordinator_agent", None) is agent:
        role, default = "coordinator", "Workforce Manager"
    elif getattr(wf, "task_agent", None) is agent:
        role, default = "planner", "Task Planner"
    else:
        for child in list(getattr(wf, "_children", []) or []):
            if isinstance(child, Workforce):
                sub = short_description(getattr(child, "description", "") or "workforce")
                hit = workforce_agent_name(session, child, agent, prefix=f"{prefix}{sub} / ")
                if hit:
                    return hit
        return None
    rn = role_name(agent)
    name = session.override(getattr(agent, "agent_id", None), role, rn)
    if not name:
        name = rn if rn and not _is_generic(rn) else default
    return prefix + name, role


def resolve(agent: Any) -> tuple[Session, str, str] | None:
    """``(session, name, role)`` for an agent that is recorded, else None (the call passes through)."""
    info: AgentInfo | None = AGENTS.get(agent)
    if info is not None:
        s = info.session
        rn = role_name(agent)
        name = info.name or s.override(getattr(agent, "agent_id", None), info.role, rn) or rn or info.role
        return s, name, info.role
    w = WORKER.get()
    if w is not None:
        session, node, _task = w
        name = worker_name(session, node)
        if getattr(node, "worker", None) is None:  # a RolePlayingWorker: its two agents under one node
            name = f"{name} / {role_name(agent) or 'agent'}"
        return session, name, "worker"
    active = ACTIVE.get()
    if active is not None:
        wf = active.system
        hit = workforce_agent_name(active, wf, agent) if wf is not None else None
        if hit:
            return active, hit[0], hit[1]
        rn = role_name(agent) or "agent"
        return active, active.override(getattr(agent, "agent_id", None), rn) or rn, "member"
    return None


def agents_by_name(system: Any) -> dict[str, list[Any]]:
    """Every ChatAgent of ``system`` under its recorded name (Workforce workers: base agent + pool clones)."""
    from camel.agents import ChatAgent
    from camel.societies import RolePlaying
    from camel.societies.workforce import Workforce

    session = SYSTEMS.get(system) or Session(recorder=Recorder(), kind="", system_ref=weakref.ref(system),
                                             system_class=type(system).__name__)
    out: dict[str, list[Any]] = {}

    def add(name: str, agent: Any) -> None:
        if agent is not None and not any(a is agent for a in out.setdefault(name, [])):
            out[name].append(agent)

    if isinstance(system, ChatAgent):
        hit = resolve(system)
        add(hit[1] if hit else (role_name(system) or "assistant"), system)
    elif isinstance(system, RolePlaying):
        for attr, role in SOCIETY_ROLES:
            agent = getattr(system, attr, None)
            if agent is not None and hasattr(agent, "append_to_system_message"):
                hit = resolve(agent)
                add(hit[1] if hit else (role_name(agent) or role), agent)
    elif isinstance(system, Workforce):

        def walk(wf: Any, prefix: str) -> None:
            for attr in ("coordinator_agent", "task_agent"):
                agent = getattr(wf, attr, None)
                hit = workforce_agent_name(session, wf, agent) if agent is not None else None
                if hit:
                    add(prefix + hit[0], agent)
            for child in list(getattr(wf, "_children", []) or []):
                if isinstance(child, Workforce):
                    walk(child, prefix + short_description(getattr(child, "description", "") or "workforce") + " / ")
                elif hasattr(child, "worker"):
                    name = worker_name(session, child)
                    add(name, child.worker)
                    pool = getattr(child, "agent_pool", None)
                    for agent in list(getattr(pool, "_available_agents", []) or []):
                        add(name, agent)

        walk(system, "")
    return out
