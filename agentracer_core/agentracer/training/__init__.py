"""Training tracers: the multi-granular reward (:mod:`.rewards`), dataset collation (:mod:`.data`) and
the training recipes (:mod:`.config`), the TRL GRPO/SFT wiring (:mod:`.grpo`), launched by
``agentracer train --config FILE`` (:mod:`.cli`), and the rebuild of the embedded attributor's shipped
parameters (:mod:`.embedded_fit`, ``python -m agentracer.training.embedded_fit --rebuild``).

Importing this package is cheap: torch, transformers and TRL are imported only by the functions that
need them (the ``train`` extra).
"""

from __future__ import annotations

from .rewards import (
    RewardBreakdown,
    RewardConfig,
    agent_reward,
    format_reward,
    make_tracer_reward,
    reward_functions,
    score_completion,
    step_reward,
)

__all__ = [
    "RewardBreakdown",
    "RewardConfig",
    "agent_reward",
    "format_reward",
    "make_tracer_reward",
    "reward_functions",
    "score_completion",
    "step_reward",
]
