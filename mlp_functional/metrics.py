"""Classification metrics from labels and predictions: confusion matrix, precision, recall, F1.

Pure functions on integer arrays; the confusion matrix has the true class along the rows
and the predicted class along the columns, as scikit-learn lays it out.

>>> import numpy as np
>>> cm = confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]), classes=3)
>>> cm.tolist()
[[1, 1, 0], [0, 1, 0], [0, 0, 1]]
>>> report = per_class(cm)
>>> report.precision.tolist(), report.recall.tolist()
([1.0, 0.5, 1.0], [0.5, 1.0, 1.0])
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .engine.checks import check_labels
from .readonly import freeze

__all__ = [
    "ClassReport",
    "confident_mistakes",
    "confusion_matrix",
    "per_class",
    "percent",
]

Array = np.ndarray


class ClassReport(NamedTuple):
    """Per-class scores, each of shape ``(classes,)``.

    Attributes:
      precision: of the examples predicted as class ``k``, the fraction that are ``k``
        (0 when nothing was predicted as ``k``).
      recall: of the examples of class ``k``, the fraction predicted as ``k``
        (0 when the class has no examples).
      f1: the harmonic mean ``2 p r / (p + r)`` (0 when both are 0).
      support: the number of examples of each class.
    """

    precision: Array
    recall: Array
    f1: Array
    support: Array


def confusion_matrix(y_true: Any, y_pred: Any, classes: int) -> Array:
    """Counts ``cm[t, p]`` of examples of true class ``t`` predicted as ``p``.

    Args:
      y_true: ``(N,)`` integer labels in ``[0, classes)``.
      y_pred: ``(N,)`` integer predictions in ``[0, classes)``.
      classes: the number of classes.

    Returns:
      A read-only ``(classes, classes)`` int64 array whose entries sum to ``N``.

    >>> import numpy as np
    >>> confusion_matrix(np.array([1, 1]), np.array([0, 1]), classes=2).tolist()
    [[0, 0], [1, 1]]
    """
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"classes must be a positive integer, got classes={classes!r}")
    t = np.asarray(y_true)
    t = check_labels(t, classes, t.shape[0] if t.ndim else 0)
    p = check_labels(y_pred, classes, len(t))
    flat = t.astype(np.int64) * classes + p.astype(np.int64)
    return freeze(np.bincount(flat, minlength=classes * classes).reshape(classes, classes))


def _ratio(num: Array, den: Array) -> Array:
    out = np.zeros(num.shape, np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def per_class(cm: Any) -> ClassReport:
    """Precision, recall, F1 and support of every class, from a confusion matrix.

    >>> import numpy as np
    >>> r = per_class(np.array([[3, 1], [0, 0]]))
    >>> r.precision.tolist(), r.recall.tolist(), r.f1.round(3).tolist(), r.support.tolist()
    ([1.0, 0.0], [0.75, 0.0], [0.857, 0.0], [4, 0])
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.dtype.kind not in "ui":
        raise ValueError(
            f"expected a square integer confusion matrix, got shape {cm.shape} of {cm.dtype}"
        )
    hits = np.diagonal(cm).astype(np.float64)
    support = cm.sum(axis=1)
    precision = _ratio(hits, cm.sum(axis=0).astype(np.float64))
    recall = _ratio(hits, support.astype(np.float64))
    f1 = _ratio(2 * precision * recall, precision + recall)
    return ClassReport(freeze(precision), freeze(recall), freeze(f1), freeze(support))


def confident_mistakes(probabilities: Any, labels: Any, k: int = 10) -> Array:
    """Indices of the ``k`` wrong predictions made with the highest confidence, most first.

    A prediction is the most probable class; its confidence is that probability. Ties
    keep the data's order.

    Args:
      probabilities: ``(N, classes)`` class probabilities, e.g. from ``predict_proba``.
      labels: ``(N,)`` true labels.
      k: how many at most.

    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
    >>> confident_mistakes(probs, np.array([0, 0, 0, 1]), k=5).tolist()
    [1, 2]
    """
    probs = np.asarray(probabilities)
    if probs.ndim != 2:
        raise ValueError(f"probabilities must be (N, classes), got shape {probs.shape}")
    y = check_labels(labels, probs.shape[1], probs.shape[0])
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y)
    confidence = probs[wrong, predicted[wrong]]
    order = np.argsort(-confidence, kind="stable")[: max(k, 0)]
    return freeze(wrong[order])


def percent(p: float) -> str:
    """A probability as a percentage; never rounds up to a certain-looking 100.0%.

    >>> percent(0.98765), percent(0.99996)
    ('98.8%', '>99.9%')
    """
    return ">99.9%" if p >= 0.9995 else f"{100 * p:.1f}%"
