"""Swapping optimizers: the same model, data and keys, only the ``(init, update)`` pair changes.

Besides the built-in ones, a user can write an optimizer as two pure functions over
parameter trees. RMSprop (Tieleman and Hinton, 2012) keeps a running mean of squared
gradients and divides each step by its root::

    s <- rho * s + (1 - rho) * g**2        p <- p - lr * g / (sqrt(s) + eps)

Written with ``mf.tree_map``, it runs in ``mf.fit`` like any other: an optimizer
without a flat rule is simply called step by step.

Run: python examples/swap_optimizers.py
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

import mlp_functional as mf
from mlp_functional.data import load


class RmsState(NamedTuple):
    count: int  # updates applied so far
    mean_square: mf.Params  # s, shaped like the params


def rmsprop(lr: float = 1e-3, rho: float = 0.9, eps: float = 1e-8) -> mf.Optimizer:
    """RMSprop as a plain ``(init, update)`` pair: ``s <- rho s + (1 - rho) g**2`` and the
    update ``-lr g / (sqrt(s) + eps)`` (Tieleman & Hinton, 2012)."""

    def init(params: mf.Params) -> RmsState:
        return RmsState(0, mf.tree_map(np.zeros_like, params))

    def update(grads: mf.Params, state: RmsState, params: mf.Params) -> tuple[mf.Params, RmsState]:
        s = mf.tree_map(lambda s, g: rho * s + (1 - rho) * g * g, state.mean_square, grads)
        updates = mf.tree_map(lambda g, s: -lr * g / (np.sqrt(s) + eps), grads, s)
        return updates, RmsState(state.count + 1, s)

    return mf.Optimizer(init, update)


OPTIMIZERS = {
    "sgd 0.1": lambda: mf.sgd(0.1),
    "momentum 0.1, beta 0": lambda: mf.momentum(0.1, beta=0.0),
    "momentum 0.05, beta 0.9": lambda: mf.momentum(0.05, beta=0.9),
    "adam 1e-3": lambda: mf.adam(1e-3),
    "adamw 1e-3, decay 0.1": lambda: mf.adamw(1e-3, weight_decay=0.1),
    "rmsprop 1e-3 (user-written)": lambda: rmsprop(1e-3),
}


def main(n_train: int = 10_000, epochs: int = 2) -> dict[str, Any]:
    """Train one small model per optimizer and print its loss and test accuracy."""
    mnist = load("mnist")
    x, y = mnist.train.images[:n_train], mnist.train.labels[:n_train]
    params = mf.init(mf.key(1), [784, 128, 10])
    results: dict[str, Any] = {}
    finals: dict[str, mf.TrainState] = {}
    for name, make in OPTIMIZERS.items():
        start = mf.init_state(mf.key(2), params, make())
        *_, (state, log) = mf.fit(start, x, y, batch_size=128, epochs=epochs)
        accuracy = mf.accuracy(state.params, mnist.test.images, mnist.test.labels)
        finals[name] = state
        results[name] = {"loss": log.loss, "test_accuracy": accuracy, "steps": state.step}
        print(f"{name:28} last epoch loss {log.loss:.3f}  test accuracy {accuracy:.3f}")
    # Momentum with beta = 0 is plain SGD, step for step.
    same = np.array_equal(
        mf.ravel(finals["sgd 0.1"].params), mf.ravel(finals["momentum 0.1, beta 0"].params)
    )
    print(f"momentum(beta=0) took exactly the steps of sgd: {same}")
    return {"results": results, "momentum_0_is_sgd": same}


if __name__ == "__main__":
    main()
