"""Softmax, the cross-entropy loss and its gradient, in their numerically stable forms.

With ``m = max_k z_k`` (which changes nothing but keeps ``exp`` from overflowing)::

    logsumexp(z) = m + log(sum_k exp(z_k - m))       log_softmax(z) = z - logsumexp(z)
    q = (1 - s) onehot(y) + s / K                    (label smoothing s over K classes)
    cross_entropy(z, y) = sum_i w_i (-sum_k q_ik log_softmax(z_i)_k) / sum_i w_i
    d cross_entropy / d z_i = w_i (softmax(z_i) - q_i) / sum_i w_i

(per-example weights ``w``, all 1 by default: the plain mean over the batch, ``sum w = N``.
A batch whose weights are all 0 has loss and gradient 0.)

>>> import numpy as np
>>> softmax(np.array([[1e4, 0.0, -1e4]])).round(3).tolist()
[[1.0, 0.0, 0.0]]
>>> round(cross_entropy(np.zeros((1, 10)), np.array([3])), 4)  # log(10)
2.3026
"""

from typing import Any

import numpy as np

from .forward import forward
from .params import Params


def logsumexp(z: np.ndarray) -> np.ndarray:
    """``log(sum_k exp(z_k))`` along the last axis, shape ``(N, 1)``, finite for finite ``z``.

    >>> round(float(logsumexp(np.array([[1000.0, 1000.0]]))[0, 0] - 1000), 4)  # log 2
    0.6931
    """
    m = z.max(axis=-1, keepdims=True)
    return m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def log_softmax(z: np.ndarray) -> np.ndarray:
    """``z - logsumexp(z)``.

    >>> np.exp(log_softmax(np.array([[0.0, 0.0]]))).tolist()
    [[0.5, 0.5]]
    """
    return z - logsumexp(z)


def softmax(z: np.ndarray) -> np.ndarray:
    """``exp(z) / sum(exp(z))`` along the last axis: each row sums to 1.

    >>> softmax(np.zeros((1, 4))).tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """
    return np.exp(log_softmax(z))


def targets(labels: np.ndarray, classes: int, label_smoothing: float, dtype: Any) -> np.ndarray:
    """``q = (1 - s) onehot(y) + s / K`` (Szegedy et al., 2016).

    >>> targets(np.array([1]), 4, 0.2, np.float64).tolist()
    [[0.05, 0.8500000000000001, 0.05, 0.05]]
    """
    return np.eye(classes, dtype=dtype)[labels] * (1 - label_smoothing) + label_smoothing / classes


def cross_entropy(z: np.ndarray, labels, label_smoothing=0.0, weights=None) -> float:
    """The weighted mean over the batch of ``-sum_k q_k log softmax(z)_k``.

    >>> round(cross_entropy(np.array([[2.0, 0.0]]), np.array([0])), 4)  # log(1 + e**-2)
    0.1269
    >>> cross_entropy(np.array([[0.0, 9.0], [9.0, 0.0]]), np.array([1, 1]), 0, np.array([1, 0]))
    0.0
    """
    w = np.ones(len(z), z.dtype) if weights is None else weights
    losses = -(targets(labels, z.shape[-1], label_smoothing, z.dtype) * log_softmax(z)).sum(-1)
    return float((w * losses).sum() / (w.sum() or 1))


def cross_entropy_grad(z: np.ndarray, labels, label_smoothing=0.0, weights=None) -> np.ndarray:
    """``w (softmax(z) - q) / sum(w)``: where back propagation starts.

    >>> cross_entropy_grad(np.array([[0.0, 0.0]]), np.array([1])).tolist()
    [[0.5, -0.5]]
    """
    w = np.ones((len(z), 1), z.dtype) if weights is None else weights[:, None]
    q = targets(labels, z.shape[-1], label_smoothing, z.dtype)
    return (softmax(z) - q) * w / (w.sum() or 1)


def loss(params: Params, x: np.ndarray, y: np.ndarray, label_smoothing: float = 0.0) -> float:
    """``cross_entropy(forward(params, x), y)``: the model's loss on a batch.

    >>> from mlp_functional.textbook.activations import relu
    >>> from mlp_functional.textbook.params import init
    >>> from mlp_functional.textbook.random import key
    >>> round(loss(init(key(0), [4, 3], relu), np.zeros((2, 4)), np.array([0, 2])), 4)  # log 3
    1.0986
    """
    return cross_entropy(forward(params, x), y, label_smoothing)
