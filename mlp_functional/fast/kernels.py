"""Forward and back propagation in place, through buffers reused from batch to batch.

The same chain rule as :mod:`mlp_functional.backprop`, with every intermediate written
into a :class:`Workspace` and the gradients into a caller's flat buffer; the loss and
its gradient share one pass over the logits (:func:`softmax_cross_entropy`).

>>> import numpy as np
>>> import mlp_functional as mf
>>> p = mf.init(mf.key(0), [4, 5, 3], dtype="float64")
>>> x, y = np.random.default_rng(0).random((8, 4)), np.arange(8) % 3
>>> g = np.empty(mf.n_params(p))
>>> loss, _ = backprop(p, x, y, mf.unravel(g, p), workspace(p, 8))
>>> bool(np.allclose(g, mf.ravel(mf.grad(p, x, y))))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..params import Params

__all__ = ["Workspace", "backprop", "propagate", "softmax_cross_entropy", "workspace"]

Array = np.ndarray


class Workspace(NamedTuple):
    """Scratch buffers for batches of up to ``batch`` examples.

    ``z[l]`` has shape ``(batch, sizes[l+1])``, and ``delta[l]`` the same shape for the
    hidden layers.
    """

    z: tuple[Array, ...]
    delta: tuple[Array, ...]


def workspace(params: Params, batch: int) -> Workspace:
    """Allocate the scratch buffers for batches of up to ``batch`` examples."""
    widths = params.sizes[1:]
    return Workspace(
        tuple(np.empty((batch, w), params.dtype) for w in widths),
        tuple(np.empty((batch, w), params.dtype) for w in widths[:-1]),
    )


class Trace(NamedTuple):
    inputs: tuple[Array, ...]  # a_0 .. a_{L-1}, what each layer read (masked)
    pre: tuple[Array, ...]  # z_1 .. z_{L-1}
    hidden: tuple[Array, ...]  # f(z_1) .. f(z_{L-1}), unmasked
    logits: Array


def propagate(
    params: Params, x: Array, buffers: Sequence[Array], masks: Sequence[Array] | None = None
) -> Trace:
    """The forward pass with each ``z_l`` written into ``buffers[l]``."""
    act = params.activation
    a = x
    inputs, pre, hidden = [x], list[Array](), list[Array]()
    last = len(params.layers) - 1
    for i, layer in enumerate(params.layers):
        z = np.matmul(a, layer.w, out=buffers[i][: len(a)])
        z += layer.b
        if i == last:
            return Trace(tuple(inputs), tuple(pre), tuple(hidden), z)
        a = act.value(z)
        pre.append(z)
        hidden.append(a)
        if masks is not None:
            a = a * masks[i]
        inputs.append(a)
    raise AssertionError("params has no layers")


def softmax_cross_entropy(logits: Array, labels: Array, smoothing: float = 0.0) -> float:
    """The mean loss; ``logits`` is overwritten with ``dL/dz = (softmax(z) - q) / N``.

    The gradient reuses the exponentials the loss needed, so the logits are read once.

    >>> z = np.array([[0.0, 0.0]])
    >>> round(softmax_cross_entropy(z, np.array([1])), 4), z.tolist()
    (0.6931, [[0.5, -0.5]])
    """
    n, classes = logits.shape
    rows = np.arange(n)
    e = logits
    e -= logits.max(axis=1, keepdims=True)
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


def backprop(
    params: Params,
    x: Array,
    y: Array,
    grads: Params,
    space: Workspace,
    masks: Sequence[Array] | None = None,
    smoothing: float = 0.0,
) -> tuple[float, Array]:
    """Loss on a batch of float features; gradients written into the arrays of ``grads``.

    Returns the mean loss and the logits' argmax (for the running accuracy).
    """
    n = len(x)
    trace = propagate(params, x, space.z, masks)
    predicted = trace.logits.argmax(axis=1)
    mean_loss = softmax_cross_entropy(trace.logits, y, smoothing)
    delta = trace.logits
    derivative = params.activation.derivative
    for i in range(len(params.layers) - 1, -1, -1):
        g = grads.layers[i]
        np.matmul(trace.inputs[i].T, delta, out=g.w)
        np.add.reduce(delta, axis=0, out=g.b)  # np.sum, without its ~5 us of argument handling
        if i == 0:
            break
        delta = np.matmul(delta, params.layers[i].w.T, out=space.delta[i - 1][:n])
        if masks is not None:
            delta *= masks[i - 1]
        delta *= derivative(trace.pre[i - 1], trace.hidden[i - 1])
    return mean_loss, predicted
