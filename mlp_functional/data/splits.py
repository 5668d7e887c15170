"""The containers a dataset comes in: ``Split(images, labels)`` and ``Dataset``.

>>> import numpy as np
>>> s = Split(np.zeros((2, 28, 28), np.uint8), np.array([3, 1], np.uint8))
>>> images, labels = s
>>> Dataset(train=s, test=s, classes=tuple("0123"), name="tiny").train.labels.tolist()
[3, 1]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Dataset", "Split"]


class Split(NamedTuple):
    """One part of a dataset: ``images`` uint8 ``(N, H, W)``, ``labels`` uint8 ``(N,)``."""

    images: np.ndarray
    labels: np.ndarray


class Dataset(NamedTuple):
    """A loaded dataset: train and test splits, class names by label, and its name."""

    train: Split
    test: Split
    classes: tuple[str, ...]
    name: str
