"""Regularisation as composable pieces: dropout, an L2 penalty, gradient clipping.

Dropout is a pure function of a key; the L2 penalty and clipping wrap any
optimizer that has a flat rule and return a new :class:`Optimizer`, so they
compose with each other and with every schedule (decoupled weight decay is
:func:`~mlp_functional.optimizers.adamw`).

>>> import numpy as np
>>> from mlp_functional.random import key
>>> from mlp_functional.optimizers import sgd
>>> a = np.ones((2, 4), np.float32)
>>> dropout(key(0), a, 0.5).tolist()
[[2.0, 2.0, 0.0, 0.0], [2.0, 2.0, 2.0, 0.0]]
>>> opt = clip_by_global_norm(add_l2(sgd(0.1), 1e-4), max_norm=1.0)
"""

from __future__ import annotations

import math

import numpy as np

from .optimizers import FlatRule, Optimizer, from_rule
from .params import freeze
from .random import Key, generator

__all__ = ["add_l2", "check_rate", "clip_by_global_norm", "dropout", "dropout_mask"]

Array = np.ndarray


def check_rate(rate: float) -> float:
    """A dropout rate must lie in [0, 1)."""
    if not (isinstance(rate, (int, float)) and 0 <= rate < 1):
        raise ValueError(f"dropout rate must be in [0, 1), got rate={rate!r}")
    return float(rate)


def dropout_mask(
    rng: np.random.Generator, shape: tuple[int, ...], rate: float, dtype: np.dtype
) -> Array:
    """Inverted-dropout mask: ``0`` with probability ``rate``, else ``1 / (1 - rate)``.

    Scaling the survivors keeps every unit's expected value, so evaluation uses
    the network as it is, with no rescaling (Srivastava et al., 2014).
    """
    keep = rng.random(shape, dtype=np.float32) >= rate
    return np.multiply(keep, np.asarray(1.0 / (1.0 - rate), dtype), dtype=dtype)


def dropout(key: Key, a: Array, rate: float) -> Array:
    """``a * mask`` with an inverted-dropout mask drawn from ``key``; ``a`` itself at rate 0.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> x = np.ones((1000, 100), np.float32)
    >>> round(float(dropout(key(1), x, 0.3).mean()), 2)
    1.0
    """
    rate = check_rate(rate)
    if rate == 0:
        return a
    return freeze(a * dropout_mask(generator(key), a.shape, rate, a.dtype))


def _wrap(optimizer: Optimizer, name: str) -> FlatRule:
    if optimizer.rule is None:
        raise ValueError(
            f"{name} wraps optimizers built from a FlatRule (sgd, momentum, adam, adamw, "
            "or mlp_functional.from_rule); this one has none"
        )
    return optimizer.rule


def add_l2(optimizer: Optimizer, strength: float) -> Optimizer:
    """Add the L2 penalty ``strength/2 * ||p||^2`` to the loss: ``g <- g + strength * p``.

    Every parameter is penalised, biases included (as ``weight_decay`` does in
    ``torch.optim.SGD`` and ``Adam``). With Adam, prefer :func:`adamw`, whose decay
    is not rescaled by the moment estimates (Loshchilov & Hutter, 2019).

    >>> from mlp_functional.optimizers import sgd
    >>> add_l2(sgd(0.1), 0.0).rule.state_type.__name__
    'SgdState'
    """
    if not (isinstance(strength, (int, float)) and math.isfinite(strength) and strength >= 0):
        raise ValueError(f"L2 strength must be a finite number >= 0, got strength={strength!r}")
    inner = _wrap(optimizer, "add_l2")

    def apply(p: Array, g: Array, slots: tuple[Array, ...], step: int, scratch: Array) -> None:
        np.multiply(p, strength, out=scratch)
        g += scratch
        inner.apply(p, g, slots, step, scratch)

    return from_rule(inner._replace(apply=apply))


def clip_by_global_norm(optimizer: Optimizer, max_norm: float) -> Optimizer:
    """Scale the whole gradient down to norm ``max_norm`` when it is longer, as
    ``torch.nn.utils.clip_grad_norm_`` does: ``g <- g * min(1, max_norm / (||g|| + 1e-6))``.

    >>> from mlp_functional.optimizers import sgd
    >>> clip_by_global_norm(sgd(0.1), 1.0).rule.state_type.__name__
    'SgdState'
    """
    if not (isinstance(max_norm, (int, float)) and math.isfinite(max_norm) and max_norm > 0):
        raise ValueError(f"max_norm must be a finite number > 0, got max_norm={max_norm!r}")
    inner = _wrap(optimizer, "clip_by_global_norm")

    def apply(p: Array, g: Array, slots: tuple[Array, ...], step: int, scratch: Array) -> None:
        norm = math.sqrt(float(np.dot(g, g)))
        if norm > max_norm:
            g *= max_norm / (norm + 1e-6)
        inner.apply(p, g, slots, step, scratch)

    # The norm is over the whole gradient: the rule must not run slice by slice.
    return from_rule(inner._replace(apply=apply, elementwise=False))
