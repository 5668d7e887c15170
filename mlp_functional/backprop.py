"""Back propagation, derived by hand, and a finite-difference check of it.

With ``delta_l = dL/dz_l`` the chain rule runs from the loss back to the input::

    delta_L = (softmax(z_L) - q) / N
    dL/dw_l = a_{l-1}.T @ delta_l          dL/db_l = sum_i delta_l[i]
    delta_{l-1} = (delta_l @ w_l.T) * mask_{l-1} * f'(z_{l-1})

(``mask`` is dropout's, 1 without dropout.) Gradients come back as fresh, read-only
:class:`Params` of the same shapes, so nothing accumulates and there is nothing to zero.

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
from typing import Any

import numpy as np

from .forward import Trace, inputs_of, propagate
from .loss import cross_entropy, cross_entropy_grad, loss
from .params import Layer, Params, ravel, unravel
from .random import Key, generator
from .random import key as make_key
from .readonly import freeze
from .validate import check_labels, check_smoothing

__all__ = ["backward", "check_grad", "grad", "loss_and_grad", "trace_loss_and_grad"]

Array = np.ndarray


def backward(params: Params, trace: Trace, delta: Array, masks: Sequence[Array] | None) -> Params:
    """The chain rule from ``delta_L = dL/dz_L`` back to the first layer's weights.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> from mlp_functional.forward import propagate
    >>> p = init(key(0), [2, 3, 2], dtype="float64")
    >>> t = propagate(p, np.ones((1, 2)))
    >>> [g.w.shape for g in backward(p, t, np.ones((1, 2)), None).layers]
    [(2, 3), (3, 2)]
    """
    derivative = params.activation.derivative
    grads: list[Layer] = []
    for layer in reversed(range(len(params.layers))):
        grads.insert(0, Layer(trace.inputs[layer].T @ delta, delta.sum(axis=0)))
        if layer > 0:
            delta = delta @ params.layers[layer].w.T
            if masks is not None:
                delta = delta * masks[layer - 1]
            delta = delta * derivative(trace.pre[layer - 1], trace.hidden[layer - 1])
    return Params(tuple(Layer(freeze(g.w), freeze(g.b)) for g in grads), params.activation)


def trace_loss_and_grad(
    params: Params,
    a0: Array,
    labels: Array,
    masks: Sequence[Array] | None = None,
    label_smoothing: float = 0.0,
) -> tuple[float, Trace, Params]:
    """Loss, forward trace and gradients on float features ``a0`` (no validation).

    The training step's engine room: forward with dropout ``masks``, the loss, then
    :func:`backward` from ``(softmax(z_L) - q) / N``.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> value, trace, g = trace_loss_and_grad(init(key(0), [2, 2]), np.zeros((1, 2)), np.array([0]))
    >>> round(value, 4), trace.logits.tolist(), g.layers[0].b.tolist()  # log 2; softmax - onehot
    (0.6931, [[0.0, 0.0]], [-0.5, 0.5])
    """
    t = propagate(params, a0, masks)
    mean_loss = cross_entropy(t.logits, labels, label_smoothing)
    delta = cross_entropy_grad(t.logits, labels, label_smoothing)
    return mean_loss, t, backward(params, t, delta, masks)


def loss_and_grad(
    params: Params, x: Any, y: Any, label_smoothing: float = 0.0
) -> tuple[float, Params]:
    """Mean cross-entropy on a batch and its gradient with respect to every parameter.

    Args:
      params: the model.
      x: ``(N, D)`` floats or ``(N, 28, 28)`` uint8 images.
      y: ``(N,)`` integer labels.
      label_smoothing: as in :func:`~mlp_functional.loss.cross_entropy`.

    Returns:
      ``(loss, grads)``, ``grads`` a read-only :class:`Params` shaped like ``params``.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> value, g = loss_and_grad(init(key(0), [4, 3]), np.zeros((2, 4)), np.array([0, 1]))
    >>> round(value, 4), g.layers[0].b.round(4).tolist()  # log 3; (1/3 - q) averaged
    (1.0986, [-0.1667, -0.1667, 0.3333])
    """
    a0 = inputs_of(params, x)
    labels = check_labels(y, params.sizes[-1], len(a0))
    mean_loss, _, grads = trace_loss_and_grad(
        params, a0, labels, None, check_smoothing(label_smoothing)
    )
    return mean_loss, grads


def grad(params: Params, x: Any, y: Any, label_smoothing: float = 0.0) -> Params:
    """Gradient of the mean cross-entropy: ``loss_and_grad(params, x, y)[1]``.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> g = grad(init(key(0), [4, 3]), np.ones((2, 4)), np.array([0, 1]))
    >>> g.layers[0].w.shape, g.layers[0].w.flags.writeable
    ((4, 3), False)
    """
    return loss_and_grad(params, x, y, label_smoothing)[1]


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

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> p = init(key(0), [3, 4, 2], activation="tanh", dtype="float64")
    >>> check_grad(p, np.eye(3), np.array([0, 1, 1])) < 1e-8
    True
    """
    p64 = unravel(ravel(params).astype(np.float64), params)
    analytic = ravel(loss_and_grad(p64, x, y)[1])
    flat = ravel(p64)
    indices: Sequence[int] = range(flat.size)
    if max_checks is not None and max_checks < flat.size:
        rng = generator(key if key is not None else make_key(0))
        indices = rng.choice(flat.size, max_checks, replace=False).tolist()

    def shifted_loss(i: int, step: float) -> float:
        shifted = flat.copy()
        shifted[i] += step
        return loss(unravel(shifted, p64), x, y)

    def relative_error(i: int) -> float:
        near = shifted_loss(i, eps) - shifted_loss(i, -eps)
        far = shifted_loss(i, 2 * eps) - shifted_loss(i, -2 * eps)
        numeric = (8 * near - far) / (12 * eps)
        return float(abs(analytic[i] - numeric) / max(abs(analytic[i]), abs(numeric), floor))

    return max(map(relative_error, indices), default=0.0)
