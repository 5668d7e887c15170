"""Softmax, log-softmax and the cross-entropy loss, in their numerically stable forms.

With ``logsumexp(z) = m + log(sum_j exp(z_j - m))`` and ``m = max_k z_k`` (subtracting
``m`` changes nothing mathematically but keeps ``exp`` from overflowing)::

    log_softmax(z) = z - logsumexp(z)
    q = (1 - s) onehot(y) + s / K                  (label smoothing s over K classes)
    cross_entropy(z, y) = mean_i( -sum_k q_ik log_softmax(z_i)_k )
    d cross_entropy / d z_i = (softmax(z_i) - q_i) / N

>>> import numpy as np
>>> z = np.array([[1e4, 0.0, -1e4]])
>>> softmax(z).round(3).tolist()
[[1.0, 0.0, 0.0]]
>>> round(cross_entropy(np.zeros((1, 10)), np.array([3])), 4)  # log(10)
2.3026
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .forward import forward
from .params import Params
from .readonly import freeze
from .validate import check_labels, check_smoothing

__all__ = [
    "cross_entropy",
    "cross_entropy_grad",
    "log_softmax",
    "logsumexp",
    "loss",
    "softmax",
    "targets",
]

Array = np.ndarray


def logsumexp(z: Array) -> Array:
    """``log(sum_k exp(z_k))`` along the last axis, shape ``(N, 1)``, finite for finite ``z``.

    >>> import numpy as np
    >>> round(float(logsumexp(np.array([[1000.0, 1000.0]]))[0, 0] - 1000), 4)  # log 2
    0.6931
    """
    m = z.max(axis=-1, keepdims=True)
    return freeze(m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))


def log_softmax(logits: Any) -> Array:
    """``z - logsumexp(z)`` along the last axis.

    >>> import numpy as np
    >>> np.exp(log_softmax(np.array([[0.0, 0.0]]))).tolist()
    [[0.5, 0.5]]
    """
    z = np.asarray(logits)
    return freeze(z - logsumexp(z))


def softmax(logits: Any) -> Array:
    """``exp(z) / sum(exp(z))`` along the last axis; rows sum to 1.

    >>> import numpy as np
    >>> softmax(np.array([[1.0, 1.0, 1.0, 1.0]])).tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """
    return freeze(np.exp(log_softmax(logits)))


def targets(labels: Array, classes: int, label_smoothing: float, dtype: Any) -> Array:
    """The target distribution ``q = (1 - s) onehot(y) + s / K`` (Szegedy et al., 2016).

    >>> import numpy as np
    >>> targets(np.array([1]), 4, 0.2, np.float64).tolist()
    [[0.05, 0.8500000000000001, 0.05, 0.05]]
    """
    onehot = np.eye(classes, dtype=dtype)[labels]
    s = label_smoothing
    return freeze(onehot * (1 - s) + s / classes if s else onehot)


def cross_entropy(logits: Any, labels: Any, label_smoothing: float = 0.0) -> float:
    """Mean of ``-sum_k q_k log softmax(z)_k`` over the batch (``q`` from :func:`targets`).

    >>> import numpy as np
    >>> round(cross_entropy(np.array([[2.0, 0.0]]), np.array([0])), 4)
    0.1269
    """
    z = np.asarray(logits)
    y = check_labels(labels, z.shape[-1], len(z))
    q = targets(y, z.shape[-1], check_smoothing(label_smoothing), z.dtype)
    return float(-(q * log_softmax(z)).sum(axis=-1).mean())


def cross_entropy_grad(logits: Array, labels: Array, label_smoothing: float = 0.0) -> Array:
    """``d cross_entropy / d z = (softmax(z) - q) / N``: where back propagation starts.

    >>> import numpy as np
    >>> cross_entropy_grad(np.array([[0.0, 0.0]]), np.array([1])).tolist()
    [[0.5, -0.5]]
    """
    q = targets(labels, logits.shape[-1], label_smoothing, logits.dtype)
    return freeze((softmax(logits) - q) / len(logits))


def loss(params: Params, x: Any, y: Any, label_smoothing: float = 0.0) -> float:
    """Mean cross-entropy of the model on a batch: ``cross_entropy(forward(params, x), y)``.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> p = init(key(0), [4, 8, 3])
    >>> loss(p, np.zeros((2, 4)), np.array([0, 2])) > 0
    True
    """
    return cross_entropy(forward(params, x), y, label_smoothing)
