"""Opt-in: the CAMEL plugin against a real OWL checkout (``OWL_PATH=/path/to/owl pytest -m owl_real``).

OWL (github.com/camel-ai/owl) is not on the package registry. This test imports ``OwlRolePlaying`` and
``run_society`` from the checkout itself, drives OWL's own ``run_society`` loop with CAMEL ``StubModel``
subclasses as the LLMs (agentracer_camel.testing.ScriptedModel), and checks that the run is recorded,
attributed, forked at the decisive step and that feedback reaches only the blamed agent.

``owl/utils/__init__.py`` also imports OWL's document toolkit (``chunkr_ai``, ``crawl4ai``, ...), which
``camel-ai[owl]`` brings in a full OWL install. Where those are missing, ``owl.utils.enhanced_role_playing``
(the checkout's file that defines both names) is imported without running that ``__init__``.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.owl_real

OWL_PATH = os.environ.get("OWL_PATH")

pytest.importorskip("camel")


def _import_owl(root: Path, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The checkout's ``owl.utils.enhanced_role_playing`` (through ``owl.utils`` when its imports resolve)."""
    if not (root / "owl" / "utils" / "enhanced_role_playing.py").is_file():
        pytest.fail(f"OWL_PATH={root} holds no owl/utils/enhanced_role_playing.py; is it an OWL checkout?")
    monkeypatch.syspath_prepend(str(root))
    for name in [m for m in sys.modules if m == "owl" or m.startswith("owl.")]:
        monkeypatch.delitem(sys.modules, name)
    try:
        importlib.import_module("owl.utils")
    except ImportError:  # OWL's document toolkit deps are not installed: skip the package __init__
        for name in [m for m in sys.modules if m == "owl" or m.startswith("owl.")]:
            monkeypatch.delitem(sys.modules, name)
        for name, folder in (("owl", root / "owl"), ("owl.utils", root / "owl" / "utils")):
            pkg = types.ModuleType(name)
            pkg.__path__ = [str(folder)]
            monkeypatch.setitem(sys.modules, name, pkg)
    mod = importlib.import_module("owl.utils.enhanced_role_playing")
    assert Path(mod.__file__).resolve().is_relative_to(root.resolve())
    return mod


def _society(owl: types.ModuleType) -> tuple[Any, Any, Any]:
    from agentracer_camel.testing import ScriptedModel, multiply, owl_assistant_script, owl_user_script
    from camel.toolkits import FunctionTool

    user_m = ScriptedModel(owl_user_script, name="owl-user-model")
    asst_m = ScriptedModel(owl_assistant_script, name="owl-assistant-model")
    society = owl.OwlRolePlaying(  # as OWL's examples/run*.py build it
        task_prompt="What is 12 * 7 + 5?", with_task_specify=False,
        user_role_name="user", assistant_role_name="assistant",
        user_agent_kwargs={"model": user_m},
        assistant_agent_kwargs={"model": asst_m, "tools": [FunctionTool(multiply)]},
    )
    return society, user_m, asst_m


@pytest.mark.skipif(not OWL_PATH, reason="set OWL_PATH to an OWL checkout (github.com/camel-ai/owl)")
def test_real_owl_society_instrument_attribute_fork_feedback(monkeypatch: pytest.MonkeyPatch) -> None:
    import agentracer
    import agentracer_camel

    owl = _import_owl(Path(OWL_PATH), monkeypatch)
    society, user_m, asst_m = _society(owl)
    assert type(society).__name__ == "OwlRolePlaying" and type(society).__module__ == "owl.utils.enhanced_role_playing"
    assert agentracer.instrument(society) is society

    answer, history, tokens = owl.run_society(society, round_limit=6)  # OWL's own loop
    assert answer.startswith("Final answer: 88") and len(history) == 3
    assert history[0]["tool_calls"][0]["tool_name"] == "multiply"
    tr = agentracer_camel.end_run(society, outcome="failure")
    assert tr is not None and tr is agentracer.last_trace()
    assert tr.metadata["camel"]["system"] == "OwlRolePlaying"
    assert [s.agent for s in tr.agent_steps()] == ["user", "assistant"] * 3
    tool = next(s for s in tr.steps if s.kind == "tool_call")
    assert tool.tool_name == "multiply" and tool.tool_result == 84 and tool.agent == "assistant"
    # OWL appends the overall task to each instruction: the assistant's recorded input shows OWL's own text
    assert "<auxiliary_information>" in tr.steps[2].metadata["input"]
    assert tr.final_answer.startswith("Final answer: 88") and tr.task == "What is 12 * 7 + 5?"

    att = agentracer.attribute(tr)
    assert att.agent in ("user", "assistant") and att.step is not None and 0 <= att.step < len(tr.steps)

    k = next(s.index for s in tr.agent_steps() if s.content == "Solution: 84 + 5 = 88")
    n_user, n_asst = len(user_m.calls), len(asst_m.calls)
    (answer2, _, _), new = agentracer.fork(society, tr, k, "Solution: 84 + 5 = 89")()
    assert answer2.startswith("Final answer: 89")
    assert [s.content for s in new.steps[:k]] == [s.content for s in tr.steps[:k]]
    assert len(user_m.calls) - n_user == 1 and len(asst_m.calls) - n_asst == 1  # only the last round ran live

    feedback = "FEEDBACK: 84 + 5 is 89; add carefully."
    agentracer.inject_feedback(society, "assistant", feedback)
    n_user, n_asst = len(user_m.calls), len(asst_m.calls)
    owl.run_society(society, round_limit=6)
    assert asst_m.calls[n_asst:] and all(feedback in p for p in asst_m.prompts()[n_asst:])
    assert user_m.calls[n_user:] and not any(feedback in p for p in user_m.prompts()[n_user:])
