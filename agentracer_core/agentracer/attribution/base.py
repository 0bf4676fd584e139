"""The attributor interface and the registry of methods."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from ..trace import AnnotatedTrace, Attribution, Trace

__all__ = ["Attributor", "TrainableAttributor", "get_attributor", "register", "FirstSpeaker", "StepOne", "RandomGuess"]


@runtime_checkable
class Attributor(Protocol):
    """Anything that reads a failed trace and answers an :class:`Attribution`."""

    name: str

    def attribute(self, trace: Trace, ground_truth: str | None = None) -> Attribution: ...


@runtime_checkable
class TrainableAttributor(Attributor, Protocol):
    """An attributor that learns from annotated traces (evaluation then cross-validates it)."""

    def fit(self, items: list[AnnotatedTrace]) -> TrainableAttributor: ...


_REGISTRY: dict[str, Callable[..., Attributor]] = {}


def register(prefix: str) -> Callable[[Callable[..., Attributor]], Callable[..., Attributor]]:
    """Register a factory for methods named ``prefix`` or ``prefix:ARG`` (ARG goes as ``arg=``)."""

    def deco(factory: Callable[..., Attributor]) -> Callable[..., Attributor]:
        _REGISTRY[prefix] = factory
        return factory

    return deco


def _load_builtin(prefix: str) -> None:
    import importlib

    modules = {
        "embedded": ".embedded",
        "transformers": ".backends",
        "vllm": ".backends",
        "openai": ".backends",
        "llamacpp": ".backends",
        "all-at-once": ".baselines",
        "step-by-step": ".baselines",
        "binary-search": ".baselines",
        "rerank": ".rerank",
    }
    mod = modules.get(prefix)
    if mod:
        importlib.import_module(mod, __package__)


def get_attributor(method: str = "embedded", **options: Any) -> Attributor:
    """The attributor for ``method`` (see the package docstring for the names)."""
    if not isinstance(method, str) or not method:
        raise ValueError("method must be a non-empty string such as 'embedded' or 'transformers:PATH'")
    prefix, _, arg = method.partition(":")
    if prefix not in _REGISTRY:
        _load_builtin(prefix)
    factory = _REGISTRY.get(prefix)
    if factory is None:
        known = ", ".join(sorted(set(_REGISTRY) | {"embedded", "transformers", "vllm", "openai", "llamacpp", "all-at-once",
                                                     "step-by-step", "binary-search", "rerank"}))
        raise ValueError(f"unknown attribution method {method!r}; known: {known}")
    if arg:
        options["arg"] = arg
    return factory(**options)


def _top(trace: Trace) -> list[Any]:
    return trace.agent_steps()


class FirstSpeaker:
    """Floor: the first agent step's agent, at that step."""

    name = "first-speaker"

    def attribute(self, trace: Trace, ground_truth: str | None = None) -> Attribution:
        steps = _top(trace)
        if not steps:
            return Attribution(agent=None, step=None, reason="empty trace", method=self.name, parsed=False)
        return Attribution(agent=steps[0].agent, step=steps[0].index, reason="first speaker", method=self.name)


class StepOne:
    """Floor: always step 1 (the first step after the task statement), and its agent."""

    name = "step-one"

    def attribute(self, trace: Trace, ground_truth: str | None = None) -> Attribution:
        steps = _top(trace)
        if not steps:
            return Attribution(agent=None, step=None, reason="empty trace", method=self.name, parsed=False)
        s = steps[1] if len(steps) > 1 else steps[0]
        return Attribution(agent=s.agent, step=s.index, reason="always step 1", method=self.name)


class RandomGuess:
    """Floor: a uniformly random agent step (seeded per trace, so repeatable)."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def attribute(self, trace: Trace, ground_truth: str | None = None) -> Attribution:
        steps = _top(trace)
        if not steps:
            return Attribution(agent=None, step=None, reason="empty trace", method=self.name, parsed=False)
        rng = random.Random(f"{self.seed}:{trace.run_id}")
        s = rng.choice(steps)
        agent = rng.choice(sorted({x.agent for x in steps}))
        return Attribution(agent=agent, step=s.index, reason="random", method=self.name)


register("first-speaker")(lambda **kw: FirstSpeaker())
register("step-one")(lambda **kw: StepOne())
register("random")(lambda seed=0, **kw: RandomGuess(seed=int(seed)))
