"""The containers a dataset comes in: ``Split(images, labels)`` and ``Dataset``.

Built-in and own data come in the same containers: class names by label in
``classes``, and, for data read from the user's own file or folder, the record of where
they came from in ``source`` (see :mod:`mlp_functional.data.source`).

>>> import numpy as np
>>> s = Split(np.zeros((2, 28, 28), np.uint8), np.array([3, 1], np.uint8))
>>> images, labels = s
>>> ds = Dataset(train=s, test=s, classes=tuple("0123"), name="tiny")
>>> ds.train.labels.tolist(), ds.kind, ds.source is None
([3, 1], 'images', True)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .source import Source

__all__ = ["Dataset", "Split"]


class Split(NamedTuple):
    """One part of a dataset: examples and their class indices.

    ``images`` are uint8 ``(N, H, W)`` images (``(N, H, W, 3)`` in colour), or the
    ``(N, D)`` feature rows of a table (uint8 for 0..255 integers, else float32);
    ``labels`` are ``(N,)`` indices into the dataset's ``classes``.
    """

    images: np.ndarray
    labels: np.ndarray


class Dataset(NamedTuple):
    """A loaded dataset: train and test splits, class names by label, its name and source.

    ``source`` is ``None`` for the built-in datasets (their files are known by hash).
    """

    train: Split
    test: Split
    classes: tuple[str, ...]
    name: str
    source: Source | None = None

    @property
    def kind(self) -> str:
        """``"images"`` for image data (``(N, H, W[, 3])``), ``"table"`` for feature rows."""
        return "images" if self.train.images.ndim >= 3 else "table"
