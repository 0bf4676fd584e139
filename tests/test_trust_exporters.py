"""Every plugin, with faulty exporters: raising, hanging past any timeout, slow, and a full queue.

The host's result must be identical to the uninstrumented run, and the host must finish while the
exporter is still hung (so the time added is bounded by our own work, not by the collector).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path

import agentracer
import pytest
from agentracer.recording.export import tracer_provider

sys.path.insert(0, str(Path(__file__).parent))


class Raising:
    def export(self, spans):
        raise TimeoutError("collector timed out")

    def shutdown(self):
        return None


class Hanging:
    def __init__(self) -> None:
        self.release = threading.Event()

    def export(self, spans):
        self.release.wait(60)

    def shutdown(self):
        self.release.set()


class Slow:
    def export(self, spans):
        time.sleep(0.05)

    def shutdown(self):
        return None


FAULTS = {
    "raising": lambda: (Raising(), {}),
    "hanging": lambda: (Hanging(), {"max_queue": 4, "batch": 2, "interval": 0.001, "shutdown_timeout": 0.1}),
    "slow": lambda: (Slow(), {"max_queue": 8, "batch": 1, "interval": 0.001}),
    "full-queue": lambda: (Slow(), {"max_queue": 1, "batch": 1, "interval": 0.5}),
}


def _langgraph(instrument):
    pytest.importorskip("langgraph")
    from agentracer_langgraph.demo import build_demo_graph, demo_input

    graph, models = build_demo_graph()
    if instrument:
        instrument(graph)
    res = graph.invoke(demo_input())
    return [(m.type, m.content) for m in res["messages"]], {k: m.prompts for k, m in models.items()}


def _autogen(instrument):
    pytest.importorskip("autogen_agentchat")
    import _autogen_systems as S

    team = S.round_robin()
    if instrument:
        instrument(team)
    return S.signature(asyncio.run(team.run(task=S.TASK)))


def _camel(instrument):
    pytest.importorskip("camel")
    import agentracer_camel
    from agentracer_camel.testing import owl_style_society

    society, user_m, asst_m = owl_style_society()
    if instrument:
        instrument(society)
    answer = agentracer_camel.run_society(society, round_limit=6)
    return answer, [m.prompts() for m in (user_m, asst_m)]


def _maas(instrument):
    from maas_shaped.trust import trust_system

    return trust_system(instrument)


SYSTEMS = {"langgraph": _langgraph, "autogen": _autogen, "camel": _camel, "maas": _maas}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("framework", list(SYSTEMS))
def test_host_identical_with_faulty_exporter(framework: str, fault: str) -> None:
    run = SYSTEMS[framework]
    plain = run(None)
    exporter, opts = FAULTS[fault]()
    tp = tracer_provider(exporter, **opts)
    traced = run(lambda system: agentracer.instrument(system, tracer_provider=tp))
    assert traced == plain
    stats = tp.agentracer_processor.stats
    if fault == "hanging":
        assert not exporter.release.is_set()  # the host finished while the collector was still hung
    if fault == "raising":
        tp.agentracer_processor.force_flush(5000)
        assert stats.failed > 0 and stats.exported == 0
    if fault in ("hanging", "full-queue"):
        assert stats.dropped > 0
    tp.shutdown()
    assert agentracer.last_trace() is not None and agentracer.last_trace().agent_steps()
