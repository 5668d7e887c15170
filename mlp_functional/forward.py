"""Forward propagation: from inputs to logits, layer by layer.

For layers ``l = 1..L`` with activation ``f``::

    z_l = a_{l-1} @ w_l + b_l        a_0 = x
    a_l = f(z_l)                     (hidden layers only)
    logits = z_L

The whole pass is a reduce of "dense, then f" over the hidden layers, and one more
dense layer for the logits.

>>> import numpy as np
>>> from mlp_functional.random import key
>>> from mlp_functional.params import init
>>> p = init(key(0), [784, 16, 10])
>>> forward(p, np.zeros((5, 28, 28), np.uint8)).shape
(5, 10)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import toolz

from .features import to_features
from .params import Layer, Params
from .readonly import freeze
from .validate import check_inputs

__all__ = ["Trace", "dense", "forward", "forward_trace", "inputs_of", "propagate"]

Array = np.ndarray


class Trace(NamedTuple):
    """What back propagation needs from the forward pass.

    Attributes:
      inputs: ``(a_0, ..., a_{L-1})``, what each layer read; ``a_0`` is ``x`` as floats.
      pre: ``(z_1, ..., z_{L-1})``, the hidden layers' pre-activations.
      logits: ``z_L``, shape ``(N, classes)``.
      hidden: ``(f(z_1), ..., f(z_{L-1}))``; the same values as ``inputs[1:]`` unless
        dropout masked the inputs (the derivative needs the unmasked values).
    """

    inputs: tuple[Array, ...]
    pre: tuple[Array, ...]
    logits: Array
    hidden: tuple[Array, ...] = ()


def dense(layer: Layer, a: Array) -> Array:
    """One affine layer, ``z = a @ w + b``.

    >>> import numpy as np
    >>> dense(Layer(np.eye(2), np.array([1.0, -1.0])), np.array([[2.0, 3.0]])).tolist()
    [[3.0, 2.0]]
    """
    return freeze(a @ layer.w + layer.b)


def inputs_of(params: Params, x: Any) -> Array:
    """``a_0``: validated inputs as ``(N, D)`` floats of the params' dtype (a fresh array).

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> inputs_of(init(key(0), [4, 2]), np.full((1, 2, 2), 255, np.uint8)).tolist()
    [[1.0, 1.0, 1.0, 1.0]]
    """
    return to_features(check_inputs(params, x), params.dtype)


def propagate(params: Params, a0: Array, masks: Sequence[Array] | None = None) -> Trace:
    """The forward pass on float features ``a0``, keeping what back propagation needs.

    With dropout ``masks`` (one per hidden layer, already scaled by ``1 / (1 - rate)``)
    each hidden layer's output is ``a_l = f(z_l) * mask_l``.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> t = propagate(init(key(0), [4, 3, 2]), np.ones((1, 4)))
    >>> [a.shape for a in t.inputs], [z.shape for z in t.pre], t.logits.shape
    ([(1, 4), (1, 3)], [(1, 3)], (1, 2))
    """
    f = params.activation.value
    *hidden_layers, output = params.layers

    def step(t: Trace, numbered: tuple[int, Layer]) -> Trace:
        index, layer = numbered
        z = dense(layer, t.inputs[-1])
        h = f(z)
        a = h if masks is None else h * masks[index]
        return Trace((*t.inputs, a), (*t.pre, z), t.logits, (*t.hidden, h))

    hidden = toolz.reduce(step, enumerate(hidden_layers), Trace((a0,), (), a0))
    logits = dense(output, hidden.inputs[-1])
    return Trace(
        tuple(map(freeze, hidden.inputs)),
        tuple(map(freeze, hidden.pre)),
        freeze(logits),
        tuple(map(freeze, hidden.hidden)),
    )


def forward_trace(params: Params, x: Any) -> Trace:
    """:func:`propagate` on raw inputs (validated and converted to floats first).

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> t = forward_trace(init(key(0), [4, 3, 2]), np.ones((1, 4)))
    >>> len(t.hidden), t.logits.flags.writeable
    (1, False)
    """
    return propagate(params, inputs_of(params, x))


def forward(params: Params, x: Any) -> Array:
    """Logits ``z_L`` of shape ``(N, classes)`` for a batch ``x``.

    Args:
      params: the model.
      x: ``(N, D)`` floats in about [0, 1], or ``(N, 28, 28)`` uint8 images.

    Returns:
      A fresh, read-only ``(N, classes)`` array in the params' dtype.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> forward(init(key(0), [4, 3]), np.zeros((2, 4))).tolist()
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    f = params.activation.value
    *hidden_layers, output = params.layers
    a = toolz.reduce(lambda a, layer: f(dense(layer, a)), hidden_layers, inputs_of(params, x))
    return freeze(dense(output, a))
