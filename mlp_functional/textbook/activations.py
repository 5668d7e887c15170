"""Activation functions, each written beside its derivative.

``derivative(z, a)`` receives the pre-activation ``z`` and the output ``a = f(z)``, so it
can use whichever is cheaper (``relu'`` reads ``a > 0``, ``tanh' = 1 - a**2``).

>>> import numpy as np
>>> softplus = Activation("softplus", lambda z: np.logaddexp(0, z), lambda z, a: 1 - np.exp(-a))
>>> softplus.value(np.array([0.0])).round(4).tolist()
[0.6931]
"""

from collections.abc import Callable
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

LEAKY_SLOPE = 0.01


class Activation(NamedTuple):
    """``value(z) -> a`` and ``derivative(z, a) -> da/dz``, elementwise; ``init`` is
    ``"he"`` (the ReLU family) or ``"glorot"`` (saturating functions)."""

    name: str
    value: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray, np.ndarray], np.ndarray]
    init: str = "glorot"


def _sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))  # never overflows: 1/(1+e) for z >= 0, e/(1+e) for z < 0
    return np.where(z >= 0, 1, e) / (1 + e)


def _leaky(z: np.ndarray) -> np.ndarray:
    return np.where(z > 0, z, z * LEAKY_SLOPE)


def _leaky_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    return np.where(z > 0, 1, LEAKY_SLOPE).astype(z.dtype)


relu = Activation("relu", lambda z: np.maximum(z, 0), lambda z, a: (a > 0).astype(a.dtype), "he")
leaky_relu = Activation("leaky_relu", _leaky, _leaky_prime, "he")
tanh = Activation("tanh", np.tanh, lambda z, a: 1 - a * a)
sigmoid = Activation("sigmoid", _sigmoid, lambda z, a: a * (1 - a))
ACTIVATIONS = MappingProxyType({a.name: a for a in (relu, leaky_relu, tanh, sigmoid)})
