"""Feature scaling for tables of your own: each column to mean 0 and standard deviation 1.

An MLP learns slowly from features on scales far from 1: the 8x8 digits' pixels run
0..16, a flower's petals 0.1..7 cm. A table's columns are therefore standardised with
the mean and standard deviation of the training rows (never the test rows), recorded
with the run so that evaluation and prediction scale their inputs the same way. MNIST-like
tables (rows of 784 pixels in 0..255, as in Kaggle's CSV) keep the pixels' own scaling,
``x / 255``, exactly like the built-in dataset; images are never standardised.

A rare value can lie dozens of standard deviations out (a pixel that is blank in all but
one training row); scaled values are clipped to +-:data:`LIMIT`, so that one outlier
cannot dominate a unit, and the engine's check for unnormalised inputs stays quiet.

>>> import numpy as np
>>> s = fit_scaling(np.array([[0.0, 10.0], [2.0, 10.0]]))
>>> s
FeatureScaling(mean=(1.0, 10.0), std=(1.0, 1.0))
>>> scale_features(np.array([[2.0, 10.0]]), s).tolist()
[[1.0, 0.0]]
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..readonly import freeze
from .source import mnist_like
from .splits import Dataset, Split

__all__ = [
    "LIMIT",
    "FeatureScaling",
    "fit_scaling",
    "needs_scaling",
    "scale_dataset",
    "scale_features",
    "scaling_from_record",
    "scaling_record",
]


#: Scaled features are clipped to [-LIMIT, LIMIT] standard deviations.
LIMIT = 10.0


class FeatureScaling(NamedTuple):
    """Per-column mean and standard deviation of the training rows (a constant column's
    standard deviation is taken as 1, so it scales to 0 instead of dividing by 0)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]


def needs_scaling(dataset: Dataset) -> bool:
    """Whether a dataset is a table to standardise: feature rows that are not MNIST's pixels.

    >>> import numpy as np
    >>> rows = Split(np.zeros((2, 3), np.float32), np.zeros(2, np.int64))
    >>> needs_scaling(Dataset(rows, rows, ("a", "b"), "t"))
    True
    """
    return dataset.kind == "table" and not mnist_like(dataset.train.images.shape[1:])


def fit_scaling(features: Any) -> FeatureScaling:
    """Mean and standard deviation of each column of ``(N, D)`` rows, in float64.

    >>> import numpy as np
    >>> fit_scaling(np.array([[1], [3]], np.uint8))
    FeatureScaling(mean=(2.0,), std=(1.0,))
    """
    x = np.asarray(features, dtype=np.float64)
    std = x.std(axis=0)
    std[std == 0] = 1.0
    return FeatureScaling(tuple(x.mean(axis=0).tolist()), tuple(std.tolist()))


def scale_features(features: Any, scaling: FeatureScaling) -> np.ndarray:
    """``clip((x - mean) / std, -LIMIT, LIMIT)`` as read-only float32 rows (integers are
    taken as numbers).

    >>> import numpy as np
    >>> scale_features(np.array([[4], [90]], np.uint8), FeatureScaling((2.0,), (2.0,))).tolist()
    [[1.0], [10.0]]
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(scaling.mean):
        raise ValueError(
            f"rows of {x.shape[1:]} features cannot take a scaling of {len(scaling.mean)} "
            "columns; give the training data's feature columns"
        )
    scaled = np.clip((x - scaling.mean) / scaling.std, -LIMIT, LIMIT)
    return freeze(scaled.astype(np.float32))


def scale_dataset(dataset: Dataset, scaling: FeatureScaling) -> Dataset:
    """The dataset with both splits' rows scaled (labels, classes and source unchanged).

    >>> import numpy as np
    >>> rows = Split(np.array([[0.0], [2.0]]), np.array([0, 1]))
    >>> scaled = scale_dataset(Dataset(rows, rows, ("a", "b"), "t"), fit_scaling(rows.images))
    >>> scaled.test.images.tolist()
    [[-1.0], [1.0]]
    """

    def scaled(split: Split) -> Split:
        return split._replace(images=scale_features(split.images, scaling))

    return dataset._replace(train=scaled(dataset.train), test=scaled(dataset.test))


def scaling_record(scaling: FeatureScaling) -> dict[str, list[float]]:
    """The scaling as JSON for config.json.

    >>> scaling_record(FeatureScaling((1.0,), (2.0,)))
    {'mean': [1.0], 'std': [2.0]}
    """
    return {"mean": list(scaling.mean), "std": list(scaling.std)}


def scaling_from_record(record: Any) -> FeatureScaling:
    """Read :func:`scaling_record`'s JSON back, checking it.

    >>> scaling_from_record({"mean": [1.0], "std": [2.0]})
    FeatureScaling(mean=(1.0,), std=(2.0,))
    """
    try:
        mean = tuple(float(v) for v in record["mean"])
        std = tuple(float(v) for v in record["std"])
    except (TypeError, KeyError, ValueError):
        raise ValueError("the feature scaling record is damaged; train a new run") from None
    if len(mean) != len(std) or not all(np.isfinite(mean)) or not all(s > 0 for s in std):
        raise ValueError("the feature scaling record is damaged; train a new run")
    return FeatureScaling(mean, std)
