"""Forward propagation: a fold of "dense, then f" over the layers.

For layers ``l = 1..L`` with activation ``f``, as in JAX's ``mnist_classifier_fromscratch``::

    a_0 = x        z_l = a_{l-1} @ w_l + b_l        a_l = f(z_l)        logits = z_L

>>> import numpy as np
>>> from mlp_functional.textbook.activations import relu
>>> from mlp_functional.textbook.params import init
>>> from mlp_functional.textbook.random import key
>>> forward(init(key(0), [784, 16, 10], relu), np.zeros((5, 784), np.float32)).shape
(5, 10)
"""

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import toolz

from .params import Layer, Params


class Trace(NamedTuple):
    """What back propagation needs from the forward pass: what each layer read
    ``(a_0 .. a_{L-1})``, the hidden pre-activations ``(z_1 .. z_{L-1})``, the logits
    ``z_L``, and the hidden outputs ``f(z_l)`` before any dropout mask."""

    inputs: tuple[np.ndarray, ...]
    pre: tuple[np.ndarray, ...]
    logits: np.ndarray
    hidden: tuple[np.ndarray, ...] = ()


def dense(layer: Layer, a: np.ndarray) -> np.ndarray:
    """``z = a @ w + b``.

    >>> import numpy as np
    >>> dense(Layer(np.eye(2), np.array([1.0, -1.0])), np.array([[2.0, 3.0]])).tolist()
    [[3.0, 2.0]]
    """
    return a @ layer.w + layer.b


def forward(params: Params, x: np.ndarray) -> np.ndarray:
    """The logits ``z_L``, shape ``(N, classes)``, of float features ``x``.

    >>> import numpy as np
    >>> from mlp_functional.textbook.activations import relu
    >>> from mlp_functional.textbook.params import Layer, Params
    >>> hidden = Layer(np.eye(2), np.array([0.0, -5.0]))
    >>> p = Params((hidden, Layer(np.ones((2, 1)), np.zeros(1))), relu)
    >>> forward(p, np.array([[1.0, 2.0]])).tolist()  # relu([1, -3]) @ [[1], [1]]
    [[1.0]]
    """
    f = params.activation.value
    *hidden, last = params.layers
    return dense(last, toolz.reduce(lambda a, layer: f(dense(layer, a)), hidden, x))


def propagate(params: Params, x: np.ndarray, masks: Sequence[np.ndarray] | None = None) -> Trace:
    """:func:`forward`, keeping the :class:`Trace`; with dropout ``masks`` (one per hidden
    layer, already scaled by ``1 / (1 - rate)``) a hidden output is ``a_l = f(z_l) * mask_l``.

    >>> import numpy as np
    >>> from mlp_functional.textbook.activations import relu
    >>> from mlp_functional.textbook.params import init
    >>> from mlp_functional.textbook.random import key
    >>> t = propagate(init(key(0), [4, 3, 2], relu), np.ones((1, 4)))
    >>> [a.shape for a in t.inputs], [z.shape for z in t.pre], t.logits.shape
    ([(1, 4), (1, 3)], [(1, 3)], (1, 2))
    """
    f = params.activation.value
    *hidden, last = params.layers

    def step(t: Trace, numbered: tuple[int, Layer]) -> Trace:
        i, layer = numbered
        z = dense(layer, t.inputs[-1])
        h = f(z)
        a = h if masks is None else h * masks[i]
        return Trace((*t.inputs, a), (*t.pre, z), t.logits, (*t.hidden, h))

    t = toolz.reduce(step, enumerate(hidden), Trace((x,), (), x))
    return t._replace(logits=dense(last, t.inputs[-1]))
