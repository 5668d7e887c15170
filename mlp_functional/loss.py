"""Softmax, log-softmax and the cross-entropy loss, in their numerically stable forms.

With ``m = max_k z_k`` (subtracting it changes nothing mathematically but keeps
``exp`` from overflowing)::

    log_softmax(z)_k = z_k - m - log(sum_j exp(z_j - m))
    cross_entropy(z, y) = mean_i( -log_softmax(z_i)_{y_i} )
    d cross_entropy / d z_i = (softmax(z_i) - onehot(y_i)) / N

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

from .features import to_features
from .forward import propagate
from .params import Params, freeze
from .validate import check_batch, check_labels

__all__ = ["cross_entropy", "log_softmax", "loss", "softmax", "softmax_cross_entropy"]

Array = np.ndarray


def log_softmax(logits: Array) -> Array:
    """``z - logsumexp(z)`` along the last axis, finite for any finite logits.

    >>> import numpy as np
    >>> np.exp(log_softmax(np.array([[0.0, 0.0]]))).tolist()
    [[0.5, 0.5]]
    """
    z = np.asarray(logits)
    shifted = z - z.max(axis=-1, keepdims=True)
    return freeze(shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True)))


def softmax(logits: Array) -> Array:
    """``exp(z) / sum(exp(z))`` along the last axis; rows sum to 1.

    >>> import numpy as np
    >>> softmax(np.array([[1.0, 1.0, 1.0, 1.0]])).tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """
    z = np.asarray(logits)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return freeze(e / e.sum(axis=-1, keepdims=True))


def cross_entropy(logits: Array, labels: Any) -> float:
    """Mean negative log-likelihood of integer ``labels`` under ``softmax(logits)``.

    >>> import numpy as np
    >>> round(cross_entropy(np.array([[2.0, 0.0]]), np.array([0])), 4)
    0.1269
    """
    z = np.asarray(logits)
    y = check_labels(labels, z.shape[-1], len(z))
    return float(-log_softmax(z)[np.arange(len(y)), y].mean())


def softmax_cross_entropy(
    logits: Array, labels: Array, out: Array | None = None, smoothing: float = 0.0
) -> float:
    """Loss and its gradient in one pass: returns the mean loss, writes ``dL/dz`` into ``out``.

    The gradient ``(softmax(z) - q) / N`` reuses the exponentials the loss needed,
    so the logits are read once. The target ``q`` is ``onehot(y)``, or with label
    smoothing ``(1 - s) onehot(y) + s / K`` over ``K`` classes (Szegedy et al., 2016),
    whose loss is ``-sum_k q_k log softmax(z)_k``. ``out`` may be ``logits`` itself
    (the training loop overwrites its own buffer); by default a new array.

    >>> import numpy as np
    >>> g = np.empty((1, 2))
    >>> round(softmax_cross_entropy(np.array([[0.0, 0.0]]), np.array([1]), out=g), 4), g.tolist()
    (0.6931, [[0.5, -0.5]])
    """
    n, classes = logits.shape
    rows = np.arange(n)
    e = np.subtract(logits, logits.max(axis=1, keepdims=True), out=out)
    target = e[rows, labels].sum()
    if smoothing:
        target = (1 - smoothing) * target + smoothing * e.sum() / classes
    np.exp(e, out=e)
    sums = e.sum(axis=1, keepdims=True)
    mean_loss = float(np.log(sums).sum() - target) / n
    e /= sums
    e[rows, labels] -= 1 - smoothing
    if smoothing:
        e -= e.dtype.type(smoothing / classes)
    e *= e.dtype.type(1.0 / n)
    return mean_loss


def loss(params: Params, x: Any, y: Any) -> float:
    """Mean cross-entropy of the model on a batch.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> p = init(key(0), [4, 8, 3])
    >>> loss(p, np.zeros((2, 4)), np.array([0, 2])) > 0
    True
    """
    x, labels = check_batch(params, x, y)
    logits = propagate(params, to_features(x, params.dtype)).logits
    return cross_entropy(freeze(logits), labels)
