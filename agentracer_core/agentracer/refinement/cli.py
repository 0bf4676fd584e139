"""``agentracer refine``: the offline demo on simulated agents, or a real run on an OpenAI-compatible
endpoint, on the simulated word-problem pipelines of the MaAS and LangGraph plugins."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..hooks import get_sample
from .checks import numeric_match
from .llm import OpenAICompatLLM, llm_critic
from .loop import compare
from .outputs import load_tasks, results_table, write_outputs
from .records import RefineResult

__all__ = ["refine_cli"]


def refine_cli(
    demo: bool,
    rounds: int,
    out: Path,
    base_url: str | None,
    model: str | None,
    framework: str | None,
    seed: int,
    console: Any,
    *,
    tasks: Path | None = None,
    n_tasks: int = 40,
    tracers: Sequence[str] = (),
    api_key: str | None = None,
    methods: Sequence[str] | None = None,
    max_tokens: int | None = None,
    guard: str = "both",
) -> dict[str, list[RefineResult]]:
    """``agentracer refine``: the demo (``demo=True``, simulated agents, offline) or a real run
    (``base_url`` + ``model``); writes JSON per round and method, a summary and a PNG, prints a table.

    ``methods`` replaces the default list (none, generic, random, tracer:embedded, the extra ``tracers``
    and tracer:oracle); ``max_tokens`` bounds every reply of the real agents and of the critic; ``guard``
    is ``both`` (each feedback method with and without the regression guard), ``on`` or ``off``. The last
    three bound a run on a slow local model."""
    from ..errors import CommandError
    from ..samples import simulated as sim

    if not demo and not (base_url and model):
        raise CommandError("pass --demo, or --base-url URL --model M for real LLM agents")
    fw = (framework or "auto").lower()
    known = {"maas", "langgraph"}
    if fw in ("auto", "all"):
        frameworks = ["maas", "langgraph"] if demo else ["langgraph", "maas"]
    else:
        frameworks = [f.strip() for f in fw.split(",") if f.strip()]
    bad = [f for f in frameworks if f not in known]
    if bad:
        raise CommandError(f"--framework {', '.join(bad)}: refine runs on {', '.join(sorted(known))} (or auto)")
    if "langgraph" in frameworks and get_sample("langgraph", "simulated") is None:
        console.print("[yellow]LangGraph or its agentracer plugin is not available; skipping the LangGraph system[/]")
        frameworks = [f for f in frameworks if f != "langgraph"]
    api_key = api_key or os.environ.get("OPENAI_API_KEY")
    if tasks is not None:
        from ..trace import TraceError

        try:
            train = load_tasks(tasks)
        except (OSError, TraceError) as e:
            raise CommandError(str(e)) from None
        held: list[Any] = []
        oracle_ok = False
    else:
        train = sim.make_tasks(n_tasks, seed, prefix="t")
        held = sim.make_tasks(n_tasks, seed, prefix="h")
        oracle_ok = True
    if guard not in ("both", "on", "off"):
        raise CommandError(f"--guard {guard}: expected both, on or off")
    guards = {"both": (True, False), "on": (True,), "off": (False,)}[guard]
    if methods:
        methods = [m.strip() for m in methods if m.strip()]
    else:
        methods = ["none", "generic", "random", "tracer:embedded", *[f"tracer:{t}" for t in tracers]]
        if oracle_ok:
            methods.append("tracer:oracle")
    if demo:
        console.print(f"[bold yellow]{sim.NOTICE}[/]")
        policy = sim.SimPolicy(seed=seed)
    results: dict[str, list[RefineResult]] = {}
    for f in frameworks:
        if demo:
            system = sim.maas_system(policy=policy) if f == "maas" else sim.langgraph_system(policy=policy)
            critic = sim.simulated_critique
        else:
            assert base_url and model
            if f == "maas":
                system = sim.maas_system(lambda: OpenAICompatLLM(base_url, model, api_key,
                                                                 max_tokens=max_tokens or 512), isolate=True)
            else:
                endpoint = {"base_url": base_url, "model": model, "api_key": api_key, "max_tokens": max_tokens}
                system = sim.langgraph_system(endpoint=endpoint, isolate=True)
            critic = llm_critic(base_url, model, api_key, max_tokens=max_tokens or 512)
        console.print(f"[bold]{f}[/]: {len(train)} tasks, {len(held)} held-out, {rounds} rounds, "
                      f"methods: {', '.join(methods)}")
        t0 = time.perf_counter()
        results[f] = compare(
            system.build, train, numeric_match, rounds, methods=methods, run=system.run, eval_tasks=held or None,
            seed=seed, critic=critic, oracle=system.oracle if oracle_ok else None, guards=guards,
        )
        console.print(f"  done in {time.perf_counter() - t0:.1f}s")
    meta = {"rounds": rounds, "seed": seed, "n_tasks": len(train), "n_held_out": len(held),
            "methods": methods, "frameworks": frameworks, "guard": guard, "max_tokens": max_tokens,
            "agents": "simulated" if demo else f"{model} @ {base_url}"}
    if demo:
        meta["notice"] = sim.NOTICE
        meta["simulation"] = policy.params()
    paths = write_outputs(results, out, simulated=demo, meta=meta)
    console.print(results_table(results, simulated=demo))
    if demo:
        console.print(f"[bold yellow]{sim.NOTICE}[/]")
    console.print(f"wrote {out}/<system>/<method>/round_<r>.json, {paths['summary']} and {paths['plot']}")
    return results

