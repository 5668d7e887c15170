"""A training loop of your own, built from pure functions with toolz.

``mf.fit`` is one way to train; the pieces it is made of are public, so a loop can be
written from them in a few lines:

- a step is ``params -> params`` given a batch: gradient (``mf.loss_and_grad``), then
  ``p - lr * g`` (``mf.tree_map``), here plain SGD curried on its learning rate;
- an epoch is a ``reduce`` of that step over the batches of a shuffled order
  (``partition_all`` cuts them, as ``mf.minibatches`` does);
- training is an ``accumulate`` of the epoch over one key per epoch, which yields the
  params after every epoch, lazily;
- evaluating is a ``pipe`` from params to a number.

Run: python examples/toolz_loop.py
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from toolz import accumulate, curry, partition_all, pipe, reduce

import mlp_functional as mf
from mlp_functional.data import load

Batch = tuple[np.ndarray, np.ndarray]


@curry
def sgd_step(lr: float, params: mf.Params, batch: Batch) -> mf.Params:
    """One step of plain gradient descent on one batch."""
    x, y = batch
    _, grads = mf.loss_and_grad(params, x, y)
    return mf.tree_map(lambda p, g: p - lr * g, params, grads)


def batches(key: mf.Key, x: np.ndarray, y: np.ndarray, size: int) -> Iterator[Batch]:
    """The batches of one epoch, in an order shuffled by ``key``."""
    order = mf.generator(key).permutation(len(x))
    for idx in partition_all(size, order):
        rows = np.array(idx)
        yield x[rows], y[rows]


@curry
def epoch(x: np.ndarray, y: np.ndarray, params: mf.Params, key: mf.Key) -> mf.Params:
    """One pass over ``(x, y)``: ``reduce(step, batches, params)``."""
    return reduce(sgd_step(0.1), batches(key, x, y, 64), params)


@curry
def accuracy(x: np.ndarray, y: np.ndarray, params: mf.Params) -> float:
    """Fraction of ``x`` predicted right, as a pipeline."""
    return pipe(params, lambda p: mf.predict(p, x), lambda pred: float(np.mean(pred == y)))


def main(n_train: int = 5_000, epochs: int = 3) -> dict[str, Any]:
    """Train with the hand-made loop and print the test accuracy after every epoch."""
    mnist = load("mnist")
    x, y = mnist.train.images[:n_train], mnist.train.labels[:n_train]
    start = mf.init(mf.key(1), [784, 64, 10])
    after_each = list(accumulate(epoch(x, y), mf.split(mf.key(2), epochs), start))
    test_accuracy = accuracy(mnist.test.images, mnist.test.labels)
    accuracies = [test_accuracy(p) for p in after_each]
    for i, acc in enumerate(accuracies):
        print(f"after {i} epochs: test accuracy {acc:.3f}")
    return {"test_accuracy": accuracies, "params": after_each[-1]}


if __name__ == "__main__":
    main()
