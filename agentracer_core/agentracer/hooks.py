"""The adapter contract: the pluggy hooks that every framework plugin implements, and the plugin manager.

A plugin is a module or object with ``@hookimpl``-decorated functions, registered under the
entry-point group ``agentracer``. Each hook answers ``None`` when the system is not the plugin's, so
the first plugin that recognises a system handles it (``firstresult``).
"""

from __future__ import annotations

import importlib.metadata
import logging
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .recording import Recorder
    from .trace import Trace

__all__ = ["PluginInfo", "get_plugin_manager", "get_sample", "hookimpl", "hookspec", "list_plugins", "run_system"]

PROJECT = "agentracer"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
log = logging.getLogger(__name__)


class AgentracerSpec:
    """Hook specifications (the only contract an adapter implements)."""

    @hookspec(firstresult=True)
    def agentracer_wrap(self, system: Any, recorder: Recorder) -> Any:
        """Instrument ``system`` so that its runs report to ``recorder``; return it, or None if not yours."""

    @hookspec(firstresult=True)
    def agentracer_fork(self, system: Any, trace: Trace, step: int, replacement: str) -> Any:
        """Return a runnable (zero-argument callable) resuming ``trace`` at ``step`` with its output replaced."""

    @hookspec(firstresult=True)
    def agentracer_inject_feedback(self, system: Any, agent: str, text: str) -> Any:
        """Tell ``agent`` of ``system`` the feedback ``text`` for its next runs; return the system, or None."""

    @hookspec(firstresult=True)
    def agentracer_run(self, system: Any, task: str) -> Any:
        """Run ``system`` (instrumented or not) on the question ``task``; return its answer text, or None if not yours."""

    @hookspec(firstresult=True)
    def agentracer_sample(self, framework: str, kind: str) -> Any:
        """Your builder of sample systems of ``kind`` (``demo``, ``generated``, ``simulated``) on ``framework``, or None."""

    @hookspec
    def agentracer_plugin_info(self) -> dict[str, Any]:
        """Describe the plugin: ``{"name", "framework", "distribution"}`` (used by ``agentracer plugins``)."""


class PluginInfo(dict):
    """One installed plugin: name, framework, framework distribution, its version, whether installed, and
    ``install``: what to install to use it (None when nothing is missing). A plugin without a distribution
    (MaAS) recognises systems by their shape: ``by_shape`` is True and ``install`` says so."""


_PM: pluggy.PluginManager | None = None


def get_plugin_manager(*, reload: bool = False) -> pluggy.PluginManager:
    """The process-wide plugin manager, with every ``agentracer`` entry-point plugin loaded.

    A plugin that fails to import is logged and skipped, never fatal.
    """
    global _PM
    if _PM is not None and not reload:
        return _PM
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(AgentracerSpec)
    for ep in importlib.metadata.entry_points(group=PROJECT):
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
        except Exception as e:  # a broken plugin must not break instrumentation of others
            log.warning("agentracer: plugin %r failed to load: %s", ep.name, e)
            continue
        try:
            pm.register(plugin, name=ep.name)
        except ValueError as e:
            log.warning("agentracer: plugin %r not registered: %s", ep.name, e)
    _PM = pm
    return pm


def list_plugins() -> list[PluginInfo]:
    """Installed plugins, each with its framework's distribution, version and whether it is installed."""
    pm = get_plugin_manager()
    extras = _agentracer_extras()
    out: list[PluginInfo] = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda kv: kv[0]):
        info: dict[str, Any] = {"name": name, "framework": name, "distribution": None}
        impl = getattr(plugin, "agentracer_plugin_info", None)
        if callable(impl):
            try:
                info.update(impl() or {})
            except Exception as e:
                log.warning("agentracer: plugin %r info failed: %s", name, e)
        dist = info.get("distribution")
        version = None
        if dist:
            try:
                version = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                version = None
        info["version"] = version
        info["installed"] = version is not None if dist else bool(info.get("installed", False))
        info["by_shape"] = not dist
        info.setdefault("install", None if info["installed"] else _install_hint(name, dist, extras))
        out.append(PluginInfo(info))
    return out


def _agentracer_extras() -> set[str]:
    """The extras that the installed ``agentracer`` distribution declares (empty when it is not installed)."""
    try:
        return set(importlib.metadata.metadata("agentracer").get_all("Provides-Extra") or [])
    except importlib.metadata.PackageNotFoundError:
        return set()


def _install_hint(name: str, dist: str | None, extras: set[str]) -> str:
    """What a user installs to use plugin ``name`` whose framework is the distribution ``dist``."""
    if not dist:
        return "nothing: not a package, recognised by the shape of the system object"
    if name in extras:
        return f"pip install 'agentracer[{name}]'"
    return f"pip install {dist}"


def run_system(system: Any, task: str) -> str:
    """Run ``system`` on the question ``task`` through its plugin's ``agentracer_run``; its answer text.

    Raises ``TypeError`` when no installed plugin knows how to run it (pass your own runner instead).
    """
    answer = get_plugin_manager().hook.agentracer_run(system=system, task=task)
    if answer is None:
        raise TypeError(
            f"no installed plugin knows how to run a {type(system).__qualname__}; pass run=(system, task) -> answer"
        )
    return str(answer)


def get_sample(framework: str, kind: str) -> Any:
    """The builder of sample systems of ``kind`` on ``framework`` that its plugin offers, or None."""
    return get_plugin_manager().hook.agentracer_sample(framework=framework, kind=kind)
