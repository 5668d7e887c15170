"""Using a trained model, in batches through one reused workspace.

The same answers as :mod:`mlp_functional.engine.inference`, without ever building one
float array for the whole dataset: 60,000 images pass 512 at a time. Inputs come
checked by the engine (:mod:`mlp_functional.engine.table`).

>>> import numpy as np
>>> import mlp_functional as mf
>>> p = mf.init(mf.key(0), [784, 32, 10])
>>> np.exp(log_probs(p, np.zeros((3, 28, 28), np.uint8))).sum(axis=1).round(5).tolist()
[1.0, 1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..features import as_rows, to_features
from ..readonly import freeze
from ..textbook.loss import logsumexp
from ..textbook.params import Params
from .kernels import propagate, workspace

__all__ = ["EVAL_BATCH", "evaluate", "log_probs"]

Array = np.ndarray

#: Examples per forward pass: as fast as 1,000 (263,000 images a second at 784-256-128-10)
#: with half the buffers, which a default ``train`` holds at its peak of memory.
EVAL_BATCH = 512


def _log_probs_batches(
    params: Params, x: Array, batch_size: int, rows: Array | None = None
) -> Iterator[Array]:
    """``log_softmax(forward(params, x[i:i+batch]))`` batch by batch, through one workspace;
    with ``rows``, of ``x[rows]`` without copying it whole (one batch is gathered at a time)."""
    source = as_rows(x)
    n = len(source) if rows is None else len(rows)
    space = workspace(params, min(batch_size, max(n, 1)))
    features = np.empty((space.z[0].shape[0], source.shape[1]), params.dtype)
    gathered = np.empty(features.shape if rows is not None else (0, 0), source.dtype)
    for start in range(0, n, batch_size):
        if rows is None:
            chunk = source[start : start + batch_size]
        else:
            picked = rows[start : start + batch_size]
            chunk = source.take(picked, axis=0, out=gathered[: len(picked)])
        xb = to_features(chunk, params.dtype, out=features[: len(chunk)])
        logits = propagate(params, xb, space.z, activations=space.hidden).logits
        logits -= logsumexp(logits)
        yield logits


def log_probs(params: Params, x: Array, batch_size: int = EVAL_BATCH) -> Array:
    """``log_softmax(forward(params, x))``, shape ``(N, classes)``, batch by batch."""
    out = np.empty((len(x), params.sizes[-1]), params.dtype)
    start = 0
    for batch in _log_probs_batches(params, x, batch_size):
        out[start : start + len(batch)] = batch
        start += len(batch)
    return freeze(out)


def evaluate(
    params: Params,
    x: Array,
    labels: Array,
    batch_size: int = EVAL_BATCH,
    rows: Array | None = None,
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy, in one batched pass (over ``rows`` of ``x`` and
    ``labels`` when given)."""
    if rows is not None:
        labels = labels[rows]
    loss_sum, correct, start = 0.0, 0, 0
    for log_probs in _log_probs_batches(params, x, batch_size, rows):
        yb = labels[start : start + len(log_probs)]
        loss_sum -= float(log_probs[np.arange(len(yb)), yb].sum())
        correct += int(np.count_nonzero(log_probs.argmax(axis=1) == yb))
        start += len(yb)
    n = max(len(labels), 1)
    return loss_sum / n, correct / n
