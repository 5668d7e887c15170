"""Turn images into the float feature rows the network reads, one batch at a time.

MNIST stays uint8 in memory (47 MB for the training set); only the batch in hand is
converted, so no full float copy of the data is ever made.

>>> import numpy as np
>>> to_features(np.full((2, 28, 28), 255, dtype=np.uint8)).shape
(2, 784)
>>> round(float(to_features(np.full((1, 2, 2), 51, dtype=np.uint8)).max()), 6)
0.2
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["PIXEL_SCALE", "as_rows", "to_features"]

#: uint8 pixels are divided by this to land in [0, 1].
PIXEL_SCALE = 255.0


def as_rows(x: np.ndarray) -> np.ndarray:
    """``x`` viewed as ``(N, features)``: images are flattened, rows stay rows (no copy).

    >>> as_rows(np.zeros((0, 28, 28), np.uint8)).shape
    (0, 784)
    """
    return x.reshape(x.shape[0], math.prod(x.shape[1:])) if x.ndim > 2 else x


def to_features(
    x: npt.ArrayLike, dtype: npt.DTypeLike = np.float32, out: np.ndarray | None = None
) -> np.ndarray:
    """Rows of features: uint8 images -> ``x / 255`` flattened; floats -> cast to ``dtype``.

    Args:
      x: ``(N, H, W)`` or ``(N, D)`` array, uint8 pixels or floats.
      dtype: the float dtype of the result (the params' dtype).
      out: optional ``(N, H*W)`` buffer to write into, reused across batches.

    Returns:
      ``(N, D)`` array of ``dtype``, read-only (but ``out`` when given): a new array for
      uint8 input or a cast, else a read-only view of ``x`` as rows (no copy).

    >>> to_features(np.array([[0, 255]], np.uint8)).tolist()
    [[0.0, 1.0]]
    """
    arr = np.asarray(x)
    rows = as_rows(arr)
    if arr.dtype == np.uint8:
        result = np.divide(rows, np.asarray(PIXEL_SCALE, dtype=dtype), out=out, dtype=dtype)
    elif out is not None:
        np.copyto(out, rows, casting="same_kind")
        result = out
    else:
        result = rows.astype(dtype, copy=False).view()  # a view: freezing it spares x
    if out is None:
        result.flags.writeable = False
    return result
