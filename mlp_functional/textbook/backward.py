"""Back propagation, derived by hand, and a finite-difference check of it.

With ``delta_l = dL/dz_l`` the chain rule runs from the loss back to the input::

    delta_L = w (softmax(z_L) - q) / sum(w)          (per-example weights w, 1 by default)
    dL/dw_l = a_{l-1}.T @ delta_l                  dL/db_l = sum_i delta_l[i]
    delta_{l-1} = (delta_l @ w_l.T) * mask_{l-1} * f'(z_{l-1})

(``mask`` is dropout's, 1 without dropout.) Gradients are a fresh :class:`Params`: nothing
accumulates, so there is nothing to zero.

>>> import numpy as np
>>> from mlp_functional.textbook.activations import tanh
>>> from mlp_functional.textbook.params import init
>>> from mlp_functional.textbook.random import key
>>> p = init(key(0), [3, 4, 2], tanh, np.float64)
>>> check_grad(p, np.eye(3), np.array([0, 1, 1])) < 1e-8
True
"""

from collections.abc import Sequence

import numpy as np

from . import random
from .forward import Trace, propagate
from .loss import cross_entropy, cross_entropy_grad, loss
from .params import Layer, Params, ravel, unravel


def backward(params: Params, trace: Trace, delta: np.ndarray, masks: Sequence | None) -> Params:
    """The chain rule from ``delta_L = dL/dz_L`` back to the first layer's weights.

    >>> from mlp_functional.textbook.forward import propagate
    >>> from mlp_functional.textbook.activations import relu
    >>> from mlp_functional.textbook.params import init
    >>> from mlp_functional.textbook.random import key
    >>> p = init(key(0), [2, 3, 2], relu, np.float64)
    >>> grads = backward(p, propagate(p, np.ones((1, 2))), np.ones((1, 2)), None)
    >>> [g.w.shape for g in grads.layers]
    [(2, 3), (3, 2)]
    """
    f_prime = params.activation.derivative
    grads: list[Layer] = []
    for l in reversed(range(len(params.layers))):  # noqa: E741 (the papers' l)
        grads.insert(0, Layer(trace.inputs[l].T @ delta, delta.sum(axis=0)))
        if l > 0:
            mask = 1 if masks is None else masks[l - 1]
            delta = delta @ params.layers[l].w.T
            delta = delta * mask * f_prime(trace.pre[l - 1], trace.hidden[l - 1])
    return Params(tuple(grads), params.activation)


def trace_loss_and_grad(params: Params, x, y, masks=None, label_smoothing=0.0, weights=None):
    """The loss, the forward :class:`Trace` and the gradients of one batch, with dropout
    ``masks`` and per-example loss ``weights``: forward, the loss, then :func:`backward`
    from ``w (softmax(z_L) - q) / sum(w)``.

    >>> from mlp_functional.textbook.activations import relu
    >>> from mlp_functional.textbook.params import init
    >>> from mlp_functional.textbook.random import key
    >>> p = init(key(0), [2, 2], relu)
    >>> value, trace, g = trace_loss_and_grad(p, np.zeros((1, 2)), np.array([0]))
    >>> round(value, 4), trace.logits.tolist(), g.layers[0].b.tolist()  # log 2; softmax - onehot
    (0.6931, [[0.0, 0.0]], [-0.5, 0.5])
    """
    t = propagate(params, x, masks)
    delta = cross_entropy_grad(t.logits, y, label_smoothing, weights)
    value = cross_entropy(t.logits, y, label_smoothing, weights)
    return value, t, backward(params, t, delta, masks)


def loss_and_grad(params: Params, x, y, label_smoothing=0.0) -> tuple[float, Params]:
    """The mean cross-entropy of a batch and its gradient with respect to every parameter.

    >>> from mlp_functional.textbook.activations import relu
    >>> from mlp_functional.textbook.params import init
    >>> from mlp_functional.textbook.random import key
    >>> value, g = loss_and_grad(init(key(0), [4, 3], relu), np.zeros((2, 4)), np.array([0, 1]))
    >>> round(value, 4), g.layers[0].b.round(4).tolist()  # log 3; (1/3 - q) averaged
    (1.0986, [-0.1667, -0.1667, 0.3333])
    """
    value, _, grads = trace_loss_and_grad(params, x, y, None, label_smoothing)
    return value, grads


def grad(params: Params, x: np.ndarray, y: np.ndarray, label_smoothing: float = 0.0) -> Params:
    """The gradient of the mean cross-entropy: ``loss_and_grad(params, x, y)[1]``.

    >>> from mlp_functional.textbook.activations import relu
    >>> from mlp_functional.textbook.params import init
    >>> from mlp_functional.textbook.random import key
    >>> grad(init(key(0), [4, 3], relu), np.ones((2, 4)), np.array([0, 1])).layers[0].w.shape
    (4, 3)
    """
    return trace_loss_and_grad(params, x, y, None, label_smoothing)[2]


def check_grad(params: Params, x, y, *, eps=1e-4, floor=1e-4, max_checks=None, key=None) -> float:
    """The largest relative error ``|g_i - n_i| / max(|g_i|, |n_i|, floor)`` between
    :func:`grad` and the fourth-order central difference (in float64), whose error shrinks
    like ``h**4``::

        n_i = (8 (L(p + h e_i) - L(p - h e_i)) - (L(p + 2h e_i) - L(p - 2h e_i))) / (12 h)

    ``max_checks`` entries drawn with ``key`` (default: all). Values near 1e-9 are right,
    near 1 a wrong derivative; meaningless where a ReLU input sits within ``2h`` of its kink.

    >>> from mlp_functional.textbook.activations import Activation, tanh
    >>> from mlp_functional.textbook.params import init
    >>> from mlp_functional.textbook.random import key
    >>> x, y = np.eye(3), np.array([0, 1, 1])
    >>> check_grad(init(key(0), [3, 4, 2], tanh, np.float64), x, y) < 1e-8
    True
    >>> wrong = Activation("tanh", np.tanh, lambda z, a: 1 - a)  # the derivative is 1 - a**2
    >>> check_grad(init(key(0), [3, 4, 2], wrong, np.float64), x, y) > 1e-2
    True
    """
    flat = ravel(params).astype(np.float64)
    analytic = ravel(grad(unravel(flat, params), x, y))
    indices: Sequence[int] = range(flat.size)
    if max_checks is not None and max_checks < flat.size:
        rng = random.generator(key if key is not None else random.key(0))
        indices = rng.choice(flat.size, max_checks, replace=False).tolist()
    shifted = lambda i, h: loss(unravel(flat + h * (np.arange(flat.size) == i), params), x, y)  # noqa: E731

    def error(i: int) -> float:
        near, far = shifted(i, eps) - shifted(i, -eps), shifted(i, 2 * eps) - shifted(i, -2 * eps)
        n = (8 * near - far) / (12 * eps)
        return float(abs(analytic[i] - n) / max(abs(analytic[i]), abs(n), floor))

    return max(map(error, indices), default=0.0)
