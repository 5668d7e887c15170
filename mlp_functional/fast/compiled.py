"""Compiled kernels (numba): each fuses elementwise passes into one serial loop.

Imported only when :func:`mlp_functional.fast.backend.compiled` chooses numba. Every
kernel is compiled once per dtype and cached on disk (``cache=True``); all are serial
(parallel loops would fight the BLAS threads for the cores), release the GIL (so an
update can run beside a matrix product), and use ``error_model="numpy"`` (with
Python's error model a division checks for zero and the loop does not vectorise:
eight times slower). Scalars come in the arrays' dtype so float32 stays float32.

>>> import numpy as np
>>> z, a = np.array([[-1.0, 2.0]]), np.empty((1, 2))
>>> bias_activation(z, np.array([0.5, 0.5]), RELU, a)
>>> z.tolist(), a.tolist()
([[-0.5, 2.5]], [[0.0, 2.5]])
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

__all__ = [
    "ACTIVATION_CODES",
    "LEAKY",
    "RELU",
    "SIGMOID",
    "TANH",
    "activation_backward",
    "bias_activation",
    "fused_update",
    "gather_features",
    "max_norm_columns",
    "softmax_cross_entropy",
    "update_norm",
    "warm_up",
]

RELU, LEAKY, TANH, SIGMOID = 0, 1, 2, 3
#: Activation name -> the code the kernels take.
ACTIVATION_CODES = (("relu", RELU), ("leaky_relu", LEAKY), ("tanh", TANH), ("sigmoid", SIGMOID))

#: Moment kinds of :func:`fused_update`.
PLAIN, MOMENTUM, NESTEROV, ADAM = 0, 1, 2, 3

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def bias_activation(z, b, kind, out):
    """``z += b`` in place and ``out = f(z)``, one pass."""
    slope = z.dtype.type(0.01)
    one = z.dtype.type(1.0)
    for r in range(z.shape[0]):
        for c in range(z.shape[1]):
            v = z[r, c] + b[c]
            z[r, c] = v
            if kind == RELU:
                out[r, c] = v if v > 0 else v * 0  # max(v, 0), keeping NaN a NaN
            elif kind == LEAKY:
                out[r, c] = v if v > 0 else v * slope
            elif kind == TANH:
                out[r, c] = math.tanh(v)
            else:  # exp(-|v|) never overflows (see activations.sigmoid)
                e = math.exp(-abs(v))
                out[r, c] = (one if v >= 0 else e) / (one + e)


@_jit
def activation_backward(delta, z, a, kind, bias_grad):
    """``delta *= f'(z)`` in place, and ``bias_grad`` = the column sums of the result."""
    slope = z.dtype.type(0.01)
    one = z.dtype.type(1.0)
    bias_grad[:] = 0
    for r in range(delta.shape[0]):
        for c in range(delta.shape[1]):
            d = delta[r, c]
            if kind == RELU:
                d = d if a[r, c] > 0 else d * 0
            elif kind == LEAKY:
                d = d if z[r, c] > 0 else d * slope
            elif kind == TANH:
                d = d * (one - a[r, c] * a[r, c])
            else:
                d = d * (a[r, c] * (one - a[r, c]))
            delta[r, c] = d
            bias_grad[c] += d


@_jit
def softmax_cross_entropy(logits, labels, smoothing, predicted, bias_grad, weights):
    """Sum of the rows' losses, each times its weight; ``logits`` becomes
    ``dL/dz = w (softmax(z) - q) / sum(w)``.

    ``weights`` holds one per row, or none (an empty array: every weight 1, ``sum(w) = N``).
    ``predicted`` receives each row's argmax and ``bias_grad`` the column sums of
    ``dL/dz``, the last layer's bias gradient.
    """
    n, classes = logits.shape
    dtype = logits.dtype.type
    keep = dtype(1.0 - smoothing)
    spread = dtype(smoothing / classes)
    weighted = weights.shape[0] > 0
    total_weight = float(n)
    if weighted:
        total_weight = 0.0
        for r in range(n):
            total_weight += weights[r]
        if total_weight == 0.0:
            total_weight = 1.0  # a batch of weight 0: loss and gradient 0
    inv_n = dtype(1.0 / total_weight)
    total = 0.0
    bias_grad[:] = 0
    for r in range(n):
        row = logits[r]
        best = 0
        for c in range(1, classes):
            if row[c] > row[best]:
                best = c
        predicted[r] = best
        top = row[best]
        target = 0.0
        mean = 0.0
        sums = dtype(0.0)
        for c in range(classes):
            e = row[c] - top
            mean += e
            if c == labels[r]:
                target = e
            e = math.exp(e)
            row[c] = e
            sums += e
        loss = math.log(sums) - ((1.0 - smoothing) * target + smoothing * mean / classes)
        scale = inv_n
        if weighted:
            scale = inv_n * weights[r]
            loss = loss * weights[r]
        total += loss
        inv = dtype(1.0) / sums
        for c in range(classes):
            q = keep if c == labels[r] else dtype(0.0)
            g = (row[c] * inv - q - spread) * scale
            row[c] = g
            bias_grad[c] += g
    return total


@_jit
def gather_features(rows, idx, scale, out):
    """``out[i] = rows[idx[i]] / scale`` in ``out``'s dtype: the batch gather and the
    uint8 -> float conversion in one pass."""
    for i in range(idx.shape[0]):
        source = rows[idx[i]]
        target = out[i]
        for c in range(source.shape[0]):
            target[c] = out.dtype.type(source[c]) / scale


@_jit
def update_norm(g, p, a, c):
    """``|| a g + c p ||``, accumulated in float64: what clipping by global norm sees."""
    total = 0.0
    for i in range(g.shape[0]):
        u = a * g[i] + c * p[i]
        total += u * u
    return math.sqrt(total)


@_jit
def fused_update(p, g, m1, m2, kind, a, c, beta, epsc, s, d):
    """One optimizer step of a whole chain, one pass: ``u = a g + c p``, then the
    moment (``kind``), then ``p += s * direction + d * p``.

    - PLAIN: direction ``u``;
    - MOMENTUM: ``m1 = beta m1 + u``, direction ``m1``; NESTEROV: direction ``u + beta m1``;
    - ADAM (moments as sums, see :func:`mlp_functional.fast.rules.adam_sums`):
      ``m1 = beta[0] m1 + u``, ``m2 = beta[1] m2 + u^2``, direction
      ``m1 / (sqrt(m2) + epsc)``.

    ``beta`` is a 2-array (momentum uses ``beta[0]``). One loop per kind, so that each
    vectorises without a branch.
    """
    n = p.shape[0]
    b1 = beta[0]
    b2 = beta[1]
    if kind == ADAM:
        for i in range(n):
            u = a * g[i] + c * p[i]
            s1 = b1 * m1[i] + u
            s2 = b2 * m2[i] + u * u
            m1[i] = s1
            m2[i] = s2
            p[i] += s * (s1 / (math.sqrt(s2) + epsc)) + d * p[i]
    elif kind == MOMENTUM:
        for i in range(n):
            u = a * g[i] + c * p[i]
            v = b1 * m1[i] + u
            m1[i] = v
            p[i] += s * v + d * p[i]
    elif kind == NESTEROV:
        for i in range(n):
            u = a * g[i] + c * p[i]
            v = b1 * m1[i] + u
            m1[i] = v
            p[i] += s * (u + b1 * v) + d * p[i]
    else:
        for i in range(n):
            p[i] += s * (a * g[i] + c * p[i]) + d * p[i]


@_jit
def max_norm_columns(w, radius):
    """Scale each column of ``w`` whose norm exceeds ``radius`` back onto that norm, in
    place: the norms in one pass (accumulated in float64), then, only if a column is
    over, a second pass (the others are multiplied by exactly 1, which changes nothing)."""
    rows, cols = w.shape
    sums = np.zeros(cols)
    for r in range(rows):
        for c in range(cols):
            sums[c] += w[r, c] * w[r, c]
    scale = np.ones(cols, w.dtype)
    over = False
    for c in range(cols):
        s = radius / max(math.sqrt(sums[c]), radius)
        if s < 1:
            scale[c] = s
            over = True
    if over:
        for r in range(rows):
            for c in range(cols):
                w[r, c] *= scale[c]


def warm_up(dtype: Any = np.float32) -> None:
    """Call every kernel once on tiny arrays of ``dtype``: compiles them, or loads them
    from the disk cache, so that no epoch pays for it.

    >>> warm_up(np.float64)
    """
    z, b, a = np.zeros((2, 3), dtype), np.zeros(3, dtype), np.zeros((2, 3), dtype)
    labels, predicted = np.zeros(2, np.int64), np.zeros(2, np.int64)
    bias_activation(z, b, RELU, a)
    activation_backward(z, z, a, RELU, b)
    softmax_cross_entropy(z, labels, 0.0, predicted, b, np.zeros(0, dtype))
    softmax_cross_entropy(z, labels, 0.0, predicted, b, np.ones(2, dtype))
    gather_features(np.zeros((2, 3), np.uint8), labels, dtype(255.0), a)
    p = np.zeros(4, dtype)
    one = dtype(1.0)
    update_norm(p, p, one, one)
    fused_update(p, p, p, p, ADAM, one, one, np.zeros(2, dtype), one, one, one)
    max_norm_columns(p.reshape(2, 2), one)
