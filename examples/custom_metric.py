"""Metrics of your own, computed from the probabilities the model gives.

``mf.predict_proba`` returns ``(N, classes)`` probabilities; any metric is a function of
those and the labels. Two that the library does not have:

- top-k accuracy: the label is among the ``k`` most probable classes;
- expected calibration error (Guo et al., 2017): sort the predictions into bins by
  confidence ``c = max_k p_k`` and compare, in each bin, the mean confidence with the
  accuracy::

      ECE = sum_b (n_b / N) * |accuracy_b - confidence_b|

  A calibrated model that says 90% is right 90% of the time and scores 0.

They are measured after every epoch by reading the states ``mf.fit`` yields.

Run: python examples/custom_metric.py
"""

from __future__ import annotations

from typing import Any

import numpy as np

import mlp_functional as mf
from mlp_functional.data import load


def top_k_accuracy(probs: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of examples whose label is among their ``k`` most probable classes."""
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return float(np.mean((top == np.asarray(labels)[:, None]).any(axis=1)))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """Mean gap between confidence and accuracy over equal-width confidence bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    gap = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            gap += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(gap)


def main(n_train: int = 10_000, epochs: int = 3) -> dict[str, Any]:
    """Train a small model and print the custom metrics on the test set after each epoch."""
    mnist = load("mnist")
    x, y = mnist.train.images[:n_train], mnist.train.labels[:n_train]
    test_x, test_y = mnist.test.images, mnist.test.labels
    start = mf.init_state(mf.key(2), mf.init(mf.key(1), [784, 128, 10]), mf.adam(1e-3))
    history = []
    for state, log in mf.fit(start, x, y, batch_size=128, epochs=epochs):
        probs = mf.predict_proba(state.params, test_x)
        row = {
            "epoch": log.epoch,
            "top1": top_k_accuracy(probs, test_y, 1),
            "top2": top_k_accuracy(probs, test_y, 2),
            "ece": expected_calibration_error(probs, test_y),
            "accuracy": mf.accuracy(state.params, test_x, test_y),
        }
        history.append(row)
        print(
            f"epoch {row['epoch']}: top-1 {row['top1']:.3f}  top-2 {row['top2']:.3f}  "
            f"calibration error {row['ece']:.3f}"
        )
    return {"history": history}


if __name__ == "__main__":
    main()
