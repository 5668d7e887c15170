"""Using a trained model: the textbook's answers, and the hardest examples of either engine.

Each is one line of mathematics on top of the textbook's ``forward``::

    log_probs(x) = log_softmax(forward(x))
    evaluate(x, y) = (cross_entropy(forward(x), y), mean(argmax_k forward(x)_k == y))

>>> import numpy as np
>>> import mlp_functional as mf
>>> p = mf.init(mf.key(0), [784, 32, 10])
>>> np.exp(log_probs(p, np.zeros((3, 784), np.float32))).sum(axis=1).round(5).tolist()
[1.0, 1.0, 1.0]
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..features import to_features
from ..readonly import freeze
from ..textbook.forward import forward
from ..textbook.loss import cross_entropy, log_softmax
from ..textbook.params import Params

__all__ = ["Hardest", "evaluate", "hardest_of", "log_probs"]

Array = np.ndarray


def log_probs(params: Params, x: Array, batch_size: int | None = None) -> Array:
    """``log_softmax(forward(params, x))`` of checked inputs, shape ``(N, classes)``.

    >>> import mlp_functional as mf
    >>> log_probs(mf.init(mf.key(0), [4, 2]), np.zeros((1, 4))).round(4).tolist()  # log 1/2
    [[-0.6931, -0.6931]]
    """
    del batch_size  # the textbook computes the whole batch at once
    return log_softmax(forward(params, to_features(x, params.dtype)))


def evaluate(
    params: Params,
    x: Array,
    labels: Array,
    batch_size: int | None = None,
    rows: Array | None = None,
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of checked inputs and labels (``rows`` of them when
    given).

    >>> import mlp_functional as mf
    >>> loss, acc = evaluate(mf.init(mf.key(0), [4, 2]), np.zeros((3, 4)), np.array([0, 1, 0]))
    >>> round(loss, 4), acc  # log 2; every tie goes to class 0
    (0.6931, 0.6666666666666666)
    """
    del batch_size
    if rows is not None:
        x, labels = x[rows], labels[rows]
    if not len(labels):
        return 0.0, 0.0
    logits = forward(params, to_features(x, params.dtype))
    correct = int(np.count_nonzero(logits.argmax(axis=1) == labels))
    return cross_entropy(logits, labels), correct / len(labels)


class Hardest(NamedTuple):
    """The examples the model finds hardest, hardest first.

    Attributes:
      indices: positions in the data, shape ``(k,)``.
      losses: each one's cross-entropy ``-log p(y)``.
      probabilities: each one's class probabilities, shape ``(k, classes)``.
      labels: the true labels; ``predicted``: the model's answers.
    """

    indices: Array
    losses: Array
    probabilities: Array
    labels: Array
    predicted: Array


def hardest_of(log_probs: Array, labels: Any, k: int) -> Hardest:
    """The ``k`` rows of ``log_probs`` with the highest loss ``-log p(y)``, hardest first.

    >>> h = hardest_of(np.log(np.array([[0.9, 0.1], [0.2, 0.8]])), np.array([0, 0]), 1)
    >>> h.indices.tolist(), h.predicted.tolist()
    ([1], [1])
    """
    labels = np.asarray(labels)
    losses = -log_probs[np.arange(len(labels)), labels].astype(np.float64)
    top = np.argsort(-losses, kind="stable")[: min(k, len(labels))]
    probs = np.exp(log_probs[top])
    return Hardest(
        freeze(top),
        freeze(losses[top]),
        freeze(probs),
        freeze(labels[top].copy()),
        freeze(probs.argmax(axis=1)),
    )
