"""Using a trained model: probabilities, labels, accuracy and the hardest examples.

Each is one line of mathematics on top of :func:`~mlp_functional.forward.forward`::

    predict_proba(x) = softmax(forward(x))        predict(x) = argmax_k forward(x)_k
    evaluate(x, y) = (cross_entropy(forward(x), y), mean(predict(x) == y))

>>> import numpy as np
>>> from mlp_functional.random import key
>>> from mlp_functional.params import init
>>> p = init(key(0), [784, 32, 10])
>>> images = np.zeros((3, 28, 28), np.uint8)
>>> predict_proba(p, images).sum(axis=1).round(5).tolist()
[1.0, 1.0, 1.0]
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .forward import forward
from .loss import cross_entropy, log_softmax, softmax
from .params import Params
from .readonly import freeze
from .validate import check_labels

__all__ = ["Hardest", "accuracy", "evaluate", "hardest", "predict", "predict_proba"]

Array = np.ndarray


def predict_proba(params: Params, x: Any) -> Array:
    """Class probabilities ``softmax(forward(params, x))``, shape ``(N, classes)``.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> predict_proba(init(key(0), [4, 2]), np.zeros((1, 4))).tolist()
    [[0.5, 0.5]]
    """
    return softmax(forward(params, x))


def predict(params: Params, x: Any) -> Array:
    """Most probable class of each example, shape ``(N,)``.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> predict(init(key(0), [4, 3]), np.eye(4)).shape
    (4,)
    """
    return freeze(forward(params, x).argmax(axis=1))


def evaluate(params: Params, x: Any, y: Any) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a dataset.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> loss, acc = evaluate(init(key(0), [4, 3]), np.eye(4), np.array([0, 1, 2, 0]))
    >>> 0 <= acc <= 1
    True
    """
    logits = forward(params, x)
    labels = check_labels(y, params.sizes[-1], len(logits))
    if not len(labels):
        return 0.0, 0.0
    correct = int(np.count_nonzero(logits.argmax(axis=1) == labels))
    return cross_entropy(logits, labels), correct / len(labels)


def accuracy(params: Params, x: Any, y: Any) -> float:
    """Fraction of examples whose predicted class is the label: ``mean(predict(x) == y)``.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> accuracy(init(key(0), [2, 2]), np.zeros((4, 2)), np.array([0, 0, 0, 0]))
    1.0
    """
    return evaluate(params, x, y)[1]


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


def hardest_of(log_probs: Array, labels: Array, k: int) -> Hardest:
    """The ``k`` rows of ``log_probs`` with the highest loss ``-log p(y)``, hardest first."""
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


def hardest(params: Params, x: Any, y: Any, k: int = 10) -> Hardest:
    """The ``k`` examples with the highest loss, with their probabilities.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> h = hardest(init(key(0), [4, 3]), np.eye(4), np.array([0, 1, 2, 0]), k=2)
    >>> h.indices.shape, bool(h.losses[0] >= h.losses[1])
    ((2,), True)
    """
    logits = forward(params, x)
    labels = check_labels(y, params.sizes[-1], len(logits))
    return hardest_of(log_softmax(logits), labels, k)
