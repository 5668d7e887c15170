"""Using a trained model: probabilities, labels, accuracy and the hardest examples.

Evaluation runs in batches through reused buffers, so 60,000 images never need
one giant float array.

>>> import numpy as np
>>> from mlp_functional.random import key
>>> from mlp_functional.params import init
>>> p = init(key(0), [784, 32, 10])
>>> images = np.zeros((3, 28, 28), np.uint8)
>>> predict_proba(p, images).sum(axis=1).round(5).tolist()
[1.0, 1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from .backprop import workspace
from .features import as_rows, to_features
from .forward import propagate
from .loss import log_softmax
from .params import Params, freeze
from .validate import check_batch, check_inputs

__all__ = ["Hardest", "accuracy", "evaluate", "hardest", "predict", "predict_proba"]

Array = np.ndarray

#: Examples per forward pass during evaluation.
EVAL_BATCH = 1000


def _log_probs_batches(params: Params, x: Array, batch_size: int) -> Iterator[Array]:
    """``log_softmax(forward(params, x[i:i+batch]))`` batch by batch, through one workspace."""
    rows = as_rows(x)
    space = workspace(params, min(batch_size, max(len(x), 1)))
    features = np.empty((space.z[0].shape[0], rows.shape[1]), params.dtype)
    for start in range(0, len(x), batch_size):
        chunk = rows[start : start + batch_size]
        xb = to_features(chunk, params.dtype, out=features[: len(chunk)])
        yield log_softmax(propagate(params, xb, space.z).logits)


def _collect(
    params: Params, x: Any, batch_size: int, per_batch: Callable[[Array], Array], width: int
) -> Array:
    x = check_inputs(params, x)
    out = np.empty((len(x), width), params.dtype) if width else np.empty(len(x), np.int64)
    start = 0
    for log_probs in _log_probs_batches(params, x, batch_size):
        out[start : start + len(log_probs)] = per_batch(log_probs)
        start += len(log_probs)
    return freeze(out)


def predict_proba(params: Params, x: Any, *, batch_size: int = EVAL_BATCH) -> Array:
    """Class probabilities ``softmax(forward(params, x))``, shape ``(N, classes)``."""
    return _collect(params, x, batch_size, np.exp, params.sizes[-1])


def predict(params: Params, x: Any, *, batch_size: int = EVAL_BATCH) -> Array:
    """Most probable class of each example, shape ``(N,)``.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> predict(init(key(0), [4, 3]), np.eye(4)).shape
    (4,)
    """
    return _collect(params, x, batch_size, lambda lp: lp.argmax(axis=1), 0)


def evaluate(
    params: Params, x: Any, y: Any, *, batch_size: int = EVAL_BATCH
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a whole dataset, in one batched pass.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> loss, acc = evaluate(init(key(0), [4, 3]), np.eye(4), np.array([0, 1, 2, 0]))
    >>> 0 <= acc <= 1
    True
    """
    x, labels = check_batch(params, x, y)
    loss_sum, correct, start = 0.0, 0, 0
    for log_probs in _log_probs_batches(params, x, batch_size):
        yb = labels[start : start + len(log_probs)]
        loss_sum -= float(log_probs[np.arange(len(yb)), yb].sum())
        correct += int(np.count_nonzero(log_probs.argmax(axis=1) == yb))
        start += len(yb)
    n = max(len(labels), 1)
    return loss_sum / n, correct / n


def accuracy(params: Params, x: Any, y: Any, *, batch_size: int = EVAL_BATCH) -> float:
    """Fraction of examples whose predicted class is the label."""
    return evaluate(params, x, y, batch_size=batch_size)[1]


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


def hardest(
    params: Params, x: Any, y: Any, k: int = 10, *, batch_size: int = EVAL_BATCH
) -> Hardest:
    """The ``k`` examples with the highest loss, with their probabilities.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> h = hardest(init(key(0), [4, 3]), np.eye(4), np.array([0, 1, 2, 0]), k=2)
    >>> h.indices.shape, bool(h.losses[0] >= h.losses[1])
    ((2,), True)
    """
    x, labels = check_batch(params, x, y)
    probs = predict_proba(params, x, batch_size=batch_size)
    true_p = probs[np.arange(len(labels)), labels].astype(np.float64)
    losses = -np.log(np.maximum(true_p, np.finfo(np.float64).tiny))
    k = min(k, len(labels))
    top = np.argsort(-losses, kind="stable")[:k]
    return Hardest(
        freeze(top),
        freeze(losses[top]),
        freeze(probs[top].copy()),
        freeze(np.asarray(labels)[top].copy()),
        freeze(probs[top].argmax(axis=1)),
    )
