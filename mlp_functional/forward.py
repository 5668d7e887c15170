"""Forward propagation: from inputs to logits, layer by layer.

For layers ``l = 1..L`` with activation ``f``::

    z_l = a_{l-1} @ w_l + b_l        a_0 = x
    a_l = f(z_l)                     (hidden layers only)
    logits = z_L

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

from .features import to_features
from .params import Params, freeze
from .validate import check_inputs

__all__ = ["Trace", "forward", "forward_trace"]

Array = np.ndarray


class Trace(NamedTuple):
    """What back propagation needs from the forward pass.

    Attributes:
      inputs: ``(a_0, ..., a_{L-1})``, what each layer read; ``a_0`` is ``x`` as floats.
      pre: ``(z_1, ..., z_{L-1})``, the hidden layers' pre-activations.
      logits: ``z_L``, shape ``(N, classes)``.
      hidden: ``(f(z_1), ..., f(z_{L-1}))``; the same arrays as ``inputs[1:]`` unless
        dropout masked the inputs (the derivative needs the unmasked values).
    """

    inputs: tuple[Array, ...]
    pre: tuple[Array, ...]
    logits: Array
    hidden: tuple[Array, ...] = ()


def propagate(
    params: Params,
    x: Array,
    buffers: Sequence[Array] | None = None,
    masks: Sequence[Array] | None = None,
) -> Trace:
    """The forward pass on float features, optionally writing ``z_l`` into ``buffers``.

    Internal building block shared by :func:`forward`, back propagation and the
    training loop; it does not validate or convert its input. ``masks`` (training
    only) are the hidden layers' scaled dropout masks: ``a_l = f(z_l) * mask_l``.
    """
    act = params.activation
    a = x
    inputs = [x]
    pre: list[Array] = []
    hidden: list[Array] = []
    last = len(params.layers) - 1
    for i, layer in enumerate(params.layers):
        out = None if buffers is None else buffers[i][: len(a)]
        z = np.matmul(a, layer.w, out=out)
        z += layer.b
        if i == last:
            return Trace(tuple(inputs), tuple(pre), z, tuple(hidden))
        a = act.value(z)
        pre.append(z)
        hidden.append(a)
        if masks is not None:
            a = a * masks[i]
        inputs.append(a)
    raise AssertionError("params has no layers")


def forward_trace(params: Params, x: Any) -> Trace:
    """Forward pass keeping every layer's input and pre-activation (for backprop).

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> t = forward_trace(init(key(0), [4, 3, 2]), np.ones((1, 4)))
    >>> [a.shape for a in t.inputs], [z.shape for z in t.pre], t.logits.shape
    ([(1, 4), (1, 3)], [(1, 3)], (1, 2))
    """
    x = check_inputs(params, x)
    trace = propagate(params, to_features(x, params.dtype).copy())
    for a in (*trace.inputs, *trace.pre, trace.logits):
        freeze(a)
    return trace


def forward(params: Params, x: Any) -> Array:
    """Logits ``z_L`` of shape ``(N, classes)`` for a batch ``x``.

    Args:
      params: the model.
      x: ``(N, D)`` floats in about [0, 1], or ``(N, 28, 28)`` uint8 images.

    Returns:
      A fresh, read-only ``(N, classes)`` array in the params' dtype.
    """
    x = check_inputs(params, x)
    return freeze(propagate(params, to_features(x, params.dtype)).logits)
