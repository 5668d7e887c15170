"""Activation functions, each written beside its derivative.

An activation is a pair of pure functions: ``value(z) -> a`` and
``derivative(z, a) -> da/dz``. The derivative receives both the pre-activation
``z`` and the output ``a`` so that it can use whichever is cheaper
(``relu'`` reads ``a > 0``, ``tanh' = 1 - a**2``). A user defines a new one
without touching the library:

>>> import numpy as np
>>> softplus = Activation(
...     "softplus",
...     value=lambda z: np.logaddexp(0, z),
...     derivative=lambda z, a: 0.5 * (1 + np.tanh(0.5 * z)),
... )
>>> softplus.value(np.array([0.0])).round(4).tolist()
[0.6931]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "get_activation",
    "leaky_relu",
    "relu",
    "sigmoid",
    "tanh",
]

Array = np.ndarray


class Activation(NamedTuple):
    """An elementwise nonlinearity and its derivative.

    Attributes:
      name: how the model description and run files refer to it.
      value: ``z -> a``, elementwise, dtype-preserving.
      derivative: ``(z, a) -> da/dz`` at the same points.
      init: ``"he"`` (variance ``2/fan_in``, for the ReLU family) or ``"glorot"``
        (variance ``2/(fan_in + fan_out)``, for saturating functions).
    """

    name: str
    value: Callable[[Array], Array]
    derivative: Callable[[Array, Array], Array]
    init: str = "glorot"


def _relu(z: Array) -> Array:
    return np.maximum(z, 0)


def _relu_derivative(z: Array, a: Array) -> Array:
    return (a > 0).astype(a.dtype)


LEAKY_SLOPE = 0.01


def _leaky_relu(z: Array) -> Array:
    return np.where(z > 0, z, z * LEAKY_SLOPE)


def _leaky_relu_derivative(z: Array, a: Array) -> Array:
    return np.where(z > 0, 1, LEAKY_SLOPE).astype(z.dtype)


def _tanh_derivative(z: Array, a: Array) -> Array:
    return 1 - a * a


def _sigmoid(z: Array) -> Array:
    # exp(-|z|) never overflows: 1/(1+e) for z >= 0 and e/(1+e) for z < 0 are the
    # same function written on the side where they are stable.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1, e) / (1 + e)


def _sigmoid_derivative(z: Array, a: Array) -> Array:
    return a * (1 - a)


relu = Activation("relu", _relu, _relu_derivative, init="he")
"""``max(z, 0)``; derivative ``1[z > 0]`` (taken as 0 at 0)."""

leaky_relu = Activation("leaky_relu", _leaky_relu, _leaky_relu_derivative, init="he")
"""``z`` for ``z > 0`` else ``0.01 z``; derivative 1 or 0.01."""

tanh = Activation("tanh", np.tanh, _tanh_derivative, init="glorot")
"""``tanh(z)``; derivative ``1 - tanh(z)**2``."""

sigmoid = Activation("sigmoid", _sigmoid, _sigmoid_derivative, init="glorot")
"""``1 / (1 + exp(-z))`` computed without overflow; derivative ``s (1 - s)``."""

ACTIVATIONS: Mapping[str, Activation] = MappingProxyType(
    {a.name: a for a in (relu, leaky_relu, tanh, sigmoid)}
)


def get_activation(activation: str | Activation) -> Activation:
    """Look up a built-in activation by name, or pass a user's :class:`Activation` through.

    >>> get_activation("tanh").name
    'tanh'
    """
    if isinstance(activation, Activation):
        return activation
    try:
        return ACTIVATIONS[activation]
    except (KeyError, TypeError):
        known = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(
            f"unknown activation {activation!r}: choose one of {known}, "
            "or pass an Activation(name, value, derivative)"
        ) from None
