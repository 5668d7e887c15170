"""The estimator's hyperparameters turned into an engine optimizer, in one place.

Every optimizer :class:`~mlp_functional.estimator.MLPClassifier` trains with is built
by :func:`build_optimizer`, so a change to how the engine composes optimizers is
made here alone.

>>> from mlp_functional.estimator import MLPClassifier
>>> from mlp_functional.estimator.settings import check_settings
>>> settings = check_settings(MLPClassifier(alpha=1e-4).get_params(), 1000)
>>> [part.rule.__name__ for part in build_optimizer(settings, total_steps=100).hyper["parts"]]
['add_l2', 'chain']
"""

from __future__ import annotations

import math

from ..engine import api
from ..textbook.optimizers import LearningRate, Optimizer
from .settings import Settings

__all__ = ["WARMUP_FRACTION", "build_optimizer"]

#: Fraction of the steps ``warmup_cosine`` spends warming up.
WARMUP_FRACTION = 0.05


def _learning_rate(schedule: str, lr: float, total_steps: int) -> LearningRate:
    if schedule == "constant":
        return lr
    total = max(total_steps, 2)
    if schedule == "cosine":
        return api.cosine(lr, total_steps=total)
    if schedule == "one_cycle":
        return api.one_cycle(lr, total_steps=total)
    warmup = max(1, math.floor(WARMUP_FRACTION * total))
    return api.warmup_cosine(lr, warmup_steps=warmup, total_steps=total)


def build_optimizer(settings: Settings, *, total_steps: int) -> Optimizer:
    """The optimizer for ``settings.solver``, its schedule spread over ``total_steps`` steps.

    ``alpha > 0`` chains the L2 penalty's gradient ``alpha * p`` in front of the
    solver; ``weight_decay`` is AdamW's decoupled decay (``adamw`` only).
    """
    s = settings
    lr = _learning_rate(s.schedule, s.learning_rate_init, total_steps)
    if s.solver == "sgd":
        optimizer = api.sgd(lr)
    elif s.solver == "momentum":
        optimizer = api.momentum(lr, s.momentum, s.nesterovs_momentum)
    elif s.solver == "adam":
        optimizer = api.adam(lr, s.beta_1, s.beta_2, s.epsilon)
    else:
        optimizer = api.adamw(lr, s.beta_1, s.beta_2, s.epsilon, s.weight_decay)
    return api.chain(api.add_l2(s.alpha), optimizer) if s.alpha else optimizer
