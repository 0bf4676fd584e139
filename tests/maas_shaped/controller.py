"""A stochastic, seeded layer controller with MaAS's ``forward`` interface (no torch needed)."""

from __future__ import annotations

import math
import random
from typing import Any


class LayerController:
    """Samples operators per layer: ``forward(query, operator_embeddings, names) -> (log_probs, names_layers)``.

    Each layer draws operators without replacement until their probability mass reaches ``threshold``;
    the first layer always starts with a generating operator; a layer holding ``EarlyStop`` ends the
    architecture. ``seed`` makes the sequence of architectures repeatable.
    """

    def __init__(self, seed: int = 0, layers: int = 3, threshold: float = 0.4) -> None:
        self.rng = random.Random(seed)
        self.layers = layers
        self.threshold = threshold
        self.calls = 0

    def forward(self, query: str, operator_embeddings: Any, names: list[str], log_path: str | None = None
                ) -> tuple[list[float], list[list[str]]]:
        self.calls += 1
        log_probs: list[float] = []
        chosen_layers: list[list[str]] = []
        for layer in range(self.layers):
            scores = [self.rng.gauss(0.0, 1.0) for _ in names]
            z = sum(math.exp(s) for s in scores)
            probs = [math.exp(s) / z for s in scores]
            remaining = list(range(len(names)))
            picked: list[int] = []
            mass = 0.0
            while mass < self.threshold and remaining:
                i = self.rng.choices(remaining, weights=[probs[j] for j in remaining])[0]
                remaining.remove(i)
                picked.append(i)
                mass += probs[i]
            chosen = [names[i] for i in picked]
            if layer == 0:
                gens = [n for n in chosen if "generate" in n.lower()]
                chosen = ([gens[0]] + [n for n in chosen if n != gens[0] and n != "EarlyStop"]) if gens else ["Generate"]
            log_probs.append(sum(math.log(probs[names.index(n)]) for n in chosen if n in names))
            chosen_layers.append(chosen)
            if "EarlyStop" in chosen:
                break
        return log_probs, chosen_layers


class FixedController:
    """Always returns the same architecture (for tests that need a known operator order)."""

    def __init__(self, layers: list[list[str]]) -> None:
        self.layers = [list(x) for x in layers]
        self.calls = 0

    def forward(self, query: str, operator_embeddings: Any, names: list[str], log_path: str | None = None
                ) -> tuple[list[float], list[list[str]]]:
        self.calls += 1
        return [-0.5 * (i + 1) for i in range(len(self.layers))], [list(x) for x in self.layers]
