"""The estimator's hyperparameters turned into an engine optimizer, in one place.

Every optimizer :class:`~mlp_functional.estimator.MLPClassifier` trains with is built
by :func:`build_optimizer`, so a change to how the engine composes optimizers is
made here alone.

>>> opt = build_optimizer("adam", "cosine", 1e-3, total_steps=100, alpha=1e-4)
>>> opt.rule.state_type.__name__, round(opt.rule.learning_rate(50), 6)
('AdamState', 0.0005)
"""

from __future__ import annotations

import math

from .. import optimizers, schedules
from ..regularize import add_l2

__all__ = ["SCHEDULES", "SOLVERS", "build_optimizer"]

#: The solvers, each an engine optimizer of the same name.
SOLVERS = ("sgd", "momentum", "adam", "adamw")

#: Schedules of the learning rate over the whole fit (``max_iter`` epochs).
SCHEDULES = ("constant", "cosine", "warmup_cosine", "one_cycle")

#: Fraction of the steps ``warmup_cosine`` spends warming up.
WARMUP_FRACTION = 0.05


def _learning_rate(schedule: str, lr: float, total_steps: int) -> optimizers.LearningRate:
    if schedule == "constant":
        return lr
    total = max(total_steps, 2)
    if schedule == "cosine":
        return schedules.cosine(lr, total_steps=total)
    if schedule == "one_cycle":
        return schedules.one_cycle(lr, total_steps=total)
    warmup = max(1, math.floor(WARMUP_FRACTION * total))
    return schedules.warmup_cosine(lr, warmup_steps=warmup, total_steps=total)


def build_optimizer(
    solver: str,
    schedule: str,
    learning_rate_init: float,
    *,
    total_steps: int,
    alpha: float = 0.0,
    momentum: float = 0.9,
    nesterovs_momentum: bool = False,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-8,
    weight_decay: float = 0.0,
) -> optimizers.Optimizer:
    """The optimizer for ``solver`` with ``schedule`` spread over ``total_steps`` steps.

    ``alpha > 0`` adds the L2 penalty's gradient ``alpha * p`` before the solver's
    step; ``weight_decay`` is AdamW's decoupled decay (``adamw`` only).
    """
    lr = _learning_rate(schedule, learning_rate_init, total_steps)
    if solver == "sgd":
        optimizer = optimizers.sgd(lr)
    elif solver == "momentum":
        optimizer = optimizers.momentum(lr, momentum, nesterovs_momentum)
    elif solver == "adam":
        optimizer = optimizers.adam(lr, beta_1, beta_2, epsilon)
    elif solver == "adamw":
        optimizer = optimizers.adamw(lr, beta_1, beta_2, epsilon, weight_decay)
    else:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, got solver={solver!r}")
    return add_l2(optimizer, alpha) if alpha else optimizer
