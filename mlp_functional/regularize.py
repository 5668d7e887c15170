"""Dropout (Srivastava et al., 2014), as a pure function of a key.

Inverted dropout zeroes each unit with probability ``rate`` and scales the
survivors by ``1 / (1 - rate)``, so every unit keeps its expected value and the
network is evaluated as it is, with no rescaling. (The L2 penalty, weight decay and
clipping are optimizer transformations: see :mod:`mlp_functional.optimizers`.)

>>> import numpy as np
>>> from mlp_functional.random import key
>>> a = np.ones((2, 4), np.float32)
>>> dropout(key(0), a, 0.5).tolist()
[[2.0, 2.0, 0.0, 0.0], [2.0, 2.0, 2.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .random import Key, generator
from .readonly import freeze

__all__ = ["check_rate", "dropout", "dropout_masks"]

Array = np.ndarray


def check_rate(rate: Any) -> float:
    """A dropout rate must lie in [0, 1).

    >>> check_rate(0.25)
    0.25
    """
    if not (isinstance(rate, (int, float)) and 0 <= rate < 1):
        raise ValueError(f"dropout rate must be in [0, 1), got rate={rate!r}")
    return float(rate)


def dropout_masks(
    key: Key, rows: int, widths: Sequence[int], rate: float, dtype: Any
) -> tuple[Array, ...]:
    """One inverted-dropout mask per hidden layer, each ``(rows, width)``: ``0`` with
    probability ``rate``, else ``1 / (1 - rate)``, drawn in layer order from ``key``.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> [m.shape for m in dropout_masks(key(0), 2, [3, 5], 0.5, np.float32)]
    [(2, 3), (2, 5)]
    """
    rng = generator(key)
    scale = np.asarray(1.0 / (1.0 - rate), dtype)

    def mask(width: int) -> Array:
        keep = rng.random((rows, width), dtype=np.float32) >= rate
        return freeze(np.multiply(keep, scale, dtype=dtype))

    return tuple(mask(w) for w in widths)


def dropout(key: Key, a: Array, rate: float) -> Array:
    """``a * mask`` with an inverted-dropout mask drawn from ``key`` (a copy of ``a`` at rate 0).

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> x = np.ones((1000, 100), np.float32)
    >>> round(float(dropout(key(1), x, 0.3).mean()), 2)
    1.0
    """
    rate = check_rate(rate)
    a = np.asarray(a)
    if rate == 0:
        return freeze(a.copy())
    flat = a.reshape(-1, a.shape[-1]) if a.ndim else a.reshape(1, 1)
    (mask,) = dropout_masks(key, len(flat), [flat.shape[1]], rate, a.dtype)
    return freeze((flat * mask).reshape(a.shape))
