"""Back propagation, derived by hand, and a finite-difference check of it.

With ``delta_l = dL/dz_l`` the chain rule runs from the loss back to the input::

    delta_L = (softmax(z_L) - onehot(y)) / N
    dL/dw_l = a_{l-1}.T @ delta_l          dL/db_l = sum_i delta_l[i]
    delta_{l-1} = (delta_l @ w_l.T) * f'(z_{l-1})

Gradients come back as :class:`Params` of the same shapes (fresh and read-only),
so nothing accumulates and there is nothing to zero.

>>> import numpy as np
>>> from mlp_functional.random import key
>>> from mlp_functional.params import init
>>> p = init(key(0), [4, 5, 3], dtype="float64")
>>> x, y = np.random.default_rng(0).random((8, 4)), np.arange(8) % 3
>>> check_grad(p, x, y) < 1e-6
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .features import to_features
from .forward import propagate
from .loss import loss, softmax_cross_entropy
from .params import Params, freeze, n_params, ravel, unravel
from .random import Key, generator
from .random import key as make_key
from .validate import check_batch

__all__ = ["Workspace", "backprop", "check_grad", "grad", "loss_and_grad", "workspace"]

Array = np.ndarray


class Workspace(NamedTuple):
    """Scratch buffers for one batch size, reused from step to step by the training loop.

    ``z[l]`` has shape ``(batch, sizes[l+1])``, ``delta[l]`` shape ``(batch, sizes[l+1])``
    for hidden layers.
    """

    z: tuple[Array, ...]
    delta: tuple[Array, ...]


def workspace(params: Params, batch_size: int) -> Workspace:
    """Allocate the scratch buffers for batches of up to ``batch_size`` examples."""
    widths = params.sizes[1:]
    return Workspace(
        tuple(np.empty((batch_size, w), params.dtype) for w in widths),
        tuple(np.empty((batch_size, w), params.dtype) for w in widths[:-1]),
    )


def backprop(
    params: Params,
    x: Array,
    y: Array,
    grads: Params,
    space: Workspace | None = None,
    masks: Sequence[Array] | None = None,
    smoothing: float = 0.0,
) -> tuple[float, Array]:
    """Loss on a batch of float features; gradients written into the arrays of ``grads``.

    The engine room of :func:`loss_and_grad` and of the training loop: no
    validation, no allocation when ``space`` is given. With dropout ``masks`` the
    chain rule picks up their factor: ``delta_{l-1} = (delta_l @ w_l.T) * mask * f'``;
    ``smoothing`` is the label smoothing of the loss (see ``softmax_cross_entropy``).
    Returns the mean loss and the logits' argmax (for the running accuracy).
    """
    n = len(x)
    trace = propagate(params, x, None if space is None else space.z, masks)
    predicted = trace.logits.argmax(axis=1)
    # The logits are not needed once the loss is known: the gradient overwrites them.
    mean_loss = softmax_cross_entropy(trace.logits, y, out=trace.logits, smoothing=smoothing)
    delta = trace.logits
    derivative = params.activation.derivative
    for i in range(len(params.layers) - 1, -1, -1):
        g = grads.layers[i]
        np.matmul(trace.inputs[i].T, delta, out=g.w)
        np.add.reduce(delta, axis=0, out=g.b)  # np.sum, without its ~5 us of argument handling
        if i == 0:
            break
        out = None if space is None else space.delta[i - 1][:n]
        delta = np.matmul(delta, params.layers[i].w.T, out=out)
        if masks is not None:
            delta *= masks[i - 1]
        delta *= derivative(trace.pre[i - 1], trace.hidden[i - 1])
    return mean_loss, predicted


def loss_and_grad(params: Params, x: Any, y: Any) -> tuple[float, Params]:
    """Mean cross-entropy on a batch and its gradient with respect to every parameter.

    Args:
      params: the model.
      x: ``(N, D)`` floats or ``(N, 28, 28)`` uint8 images.
      y: ``(N,)`` integer labels.

    Returns:
      ``(loss, grads)``, ``grads`` a read-only :class:`Params` shaped like ``params``.
    """
    x, labels = check_batch(params, x, y)
    flat = np.empty(n_params(params), params.dtype)
    grads = unravel(flat, params)
    mean_loss, _ = backprop(params, to_features(x, params.dtype), labels, grads)
    freeze(flat)
    return mean_loss, unravel(flat, params)


def grad(params: Params, x: Any, y: Any) -> Params:
    """Gradient of the mean cross-entropy: ``loss_and_grad(params, x, y)[1]``.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> g = grad(init(key(0), [4, 3]), np.ones((2, 4)), np.array([0, 1]))
    >>> g.layers[0].w.shape, g.layers[0].w.flags.writeable
    ((4, 3), False)
    """
    return loss_and_grad(params, x, y)[1]


def check_grad(
    params: Params,
    x: Any,
    y: Any,
    *,
    eps: float = 1e-4,
    floor: float = 1e-4,
    max_checks: int | None = None,
    key: Key | None = None,
) -> float:
    """Largest relative error between :func:`grad` and central finite differences.

    Each checked entry ``i`` compares ``g_i`` with the fourth-order central difference
    ``n_i = (8 (L(p + h e_i) - L(p - h e_i)) - (L(p + 2h e_i) - L(p - 2h e_i))) / (12 h)``,
    whose error shrinks like ``h**4``, by ``|g_i - n_i| / max(|g_i|, |n_i|, floor)``;
    ``floor`` keeps entries that are almost zero from dividing rounding noise by
    nothing. Work is done in float64 (a float32 model is upcast for the check).
    Use it to verify a custom :class:`~mlp_functional.activations.Activation`:
    values near 1e-9 are right, values near 1 are a wrong derivative. Finite
    differences are meaningless where a ReLU input sits within ``2h`` of its kink.

    Args:
      eps: the step ``h``.
      floor: the smallest denominator of the relative error.
      max_checks: check only this many entries, drawn with ``key`` (default: all).
      key: random key for the subset; ``key(0)`` when omitted.
    """
    p64 = unravel(ravel(params).astype(np.float64), params)
    analytic = ravel(loss_and_grad(p64, x, y)[1])
    flat = ravel(p64)
    indices: Sequence[int] = range(flat.size)
    if max_checks is not None and max_checks < flat.size:
        rng = generator(key if key is not None else make_key(0))
        indices = rng.choice(flat.size, max_checks, replace=False).tolist()

    def shifted_loss(i: int, step: float) -> float:
        original = flat[i]
        flat[i] = original + step
        value = loss(unravel(flat, p64), x, y)
        flat[i] = original
        return value

    worst = 0.0
    for i in indices:
        near = shifted_loss(i, eps) - shifted_loss(i, -eps)
        far = shifted_loss(i, 2 * eps) - shifted_loss(i, -2 * eps)
        numeric = (8 * near - far) / (12 * eps)
        error = abs(analytic[i] - numeric) / max(abs(analytic[i]), abs(numeric), floor)
        worst = max(worst, float(error))
    return worst
