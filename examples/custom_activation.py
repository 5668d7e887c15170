"""A custom activation in user code: swish, its derivative, a gradient check, training.

An :class:`mlp_functional.Activation` is a name, the function ``z -> a`` and its
derivative ``(z, a) -> da/dz``; the library needs nothing else. Swish (Ramachandran,
Zoph and Le, 2017) is ``a = z * s`` with ``s = sigmoid(z)``, so by the product rule::

    da/dz = s + z * s * (1 - s) = s + a * (1 - s)

``mf.check_grad`` compares back propagation through it with finite differences: a right
derivative gives relative errors near 1e-9, a wrong one errors near 1.

Run: python examples/custom_activation.py
"""

from __future__ import annotations

from typing import Any

import numpy as np

import mlp_functional as mf
from mlp_functional.data import load


def swish_value(z: np.ndarray) -> np.ndarray:
    """``z * sigmoid(z)``, with the library's overflow-free sigmoid."""
    return z * mf.sigmoid.value(z)


def swish_derivative(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``s + a * (1 - s)``: reuses the forward output ``a``."""
    s = mf.sigmoid.value(z)
    return s + a * (1 - s)


# Swish behaves like ReLU for large inputs, so it takes ReLU's (He) initialisation.
swish = mf.Activation("swish", swish_value, swish_derivative, init="he")

# The same function with the product rule forgotten: what check_grad is for.
swish_wrong = swish._replace(derivative=lambda z, a: mf.sigmoid.value(z))


def gradient_errors() -> dict[str, float]:
    """Largest relative error of backprop against finite differences, per activation."""
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 12)), rng.integers(0, 3, 16)
    errors = {}
    for name, act in (("swish", swish), ("swish, wrong derivative", swish_wrong)):
        params = mf.init(mf.key(0), [12, 8, 8, 3], activation=act, dtype="float64")
        errors[name] = mf.check_grad(params, x, y)
    return errors


def main(n_train: int = 10_000, epochs: int = 2) -> dict[str, Any]:
    """Check swish's gradient, then train it and ReLU side by side on part of MNIST."""
    errors = gradient_errors()
    for name, error in errors.items():
        print(f"check_grad, {name}: {error:.1e}")
    mnist = load("mnist")
    x, y = mnist.train.images[:n_train], mnist.train.labels[:n_train]
    accuracies = {}
    for act in (swish, mf.relu):
        params = mf.init(mf.key(1), [784, 128, 10], activation=act)
        start = mf.init_state(mf.key(2), params, mf.adam(1e-3))
        *_, (state, _) = mf.fit(start, x, y, batch_size=128, epochs=epochs)
        accuracies[act.name] = mf.accuracy(state.params, mnist.test.images, mnist.test.labels)
        print(f"{act.name}: test accuracy {accuracies[act.name]:.3f}")
    return {"check_grad": errors, "test_accuracy": accuracies}


if __name__ == "__main__":
    main()
