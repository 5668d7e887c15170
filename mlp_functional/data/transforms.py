"""Pure per-batch preprocessing: features, standardisation, train/validation splits.

The data stays uint8 in memory; only the batch in hand becomes floats. Nothing here
writes into its inputs, and randomness comes from an explicit key.

>>> import numpy as np
>>> from mlp_functional import key
>>> images = np.arange(4 * 2 * 2, dtype=np.uint8).reshape(4, 2, 2) * 16
>>> stats = pixel_stats(images)
>>> x = preprocess(images[:2], stats)
>>> x.shape, x.dtype
((2, 4), dtype('float32'))
>>> idx = train_val_split(key(0), images, np.zeros(4, np.uint8), val_size=1)
>>> len(idx.train), len(idx.val)
(3, 1)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ..features import PIXEL_SCALE, to_features
from ..readonly import freeze
from ..textbook.random import Key, generator
from .splits import Split

__all__ = [
    "Holdout",
    "PixelStats",
    "TrainVal",
    "pixel_stats",
    "preprocess",
    "standardize",
    "stratified_split",
    "take",
    "to_features",
    "train_val_split",
]


class PixelStats(NamedTuple):
    """Mean and standard deviation of all pixels, on the ``[0, 1]`` feature scale."""

    mean: float
    std: float


class TrainVal(NamedTuple):
    """Sorted, disjoint index arrays into one split: the training and validation rows."""

    train: np.ndarray
    val: np.ndarray


class Holdout(NamedTuple):
    """Sorted, disjoint index arrays: the rows kept for training and the held-out test rows."""

    train: np.ndarray
    test: np.ndarray


_STATS_CHUNK = 1 << 20


def pixel_stats(images: npt.ArrayLike) -> PixelStats:
    """Exact mean and std of uint8 pixels scaled to ``[0, 1]``, with no float copy.

    Counts each of the 256 pixel values in chunks, then takes the moments of the
    histogram: ``mean = sum(c_v * v) / n``, ``std = sqrt(sum(c_v * (v - mean)**2) / n)``
    with ``v = value / 255``. For MNIST train: mean 0.1307, std 0.3081.

    Args:
      images: uint8 array of any shape (usually ``(N, 28, 28)``), at least one pixel.

    >>> pixel_stats(np.array([[0, 255]], dtype=np.uint8))
    PixelStats(mean=0.5, std=0.5)
    """
    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        raise ValueError(
            f"pixel_stats needs uint8 images, got dtype {arr.dtype}; "
            "pass the images as loaded, before to_features"
        )
    if arr.size == 0:
        raise ValueError("pixel_stats needs at least one pixel, got an empty array")
    flat = arr.reshape(-1)
    counts = np.zeros(256, dtype=np.int64)
    for start in range(0, flat.size, _STATS_CHUNK):
        counts += np.bincount(flat[start : start + _STATS_CHUNK], minlength=256)
    values = np.arange(256) / PIXEL_SCALE
    mean = float(counts @ values) / arr.size
    var = float(counts @ (values - mean) ** 2) / arr.size
    return PixelStats(mean, float(np.sqrt(var)))


def standardize(x: npt.ArrayLike, stats: PixelStats, out: np.ndarray | None = None) -> np.ndarray:
    """Standardise features: ``(x - mean) / std``, keeping the float dtype of ``x``.

    Args:
      x: ``(N, D)`` float features, as from :func:`to_features`.
      stats: the dataset's :class:`PixelStats` (computed on the training split).
      out: optional buffer to write into (may be ``x`` itself, by explicit choice).

    Returns:
      a new read-only array, or ``out`` when given.

    >>> standardize(np.array([[0.0, 1.0]], np.float32), PixelStats(0.5, 0.25))
    array([[-2.,  2.]], dtype=float32)
    """
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        raise ValueError(
            f"standardize needs float features, got dtype {arr.dtype}; "
            "convert with to_features first (or use preprocess)"
        )
    if not stats.std > 0:
        raise ValueError(
            f"std must be > 0, got std={stats.std}; constant images cannot be "
            "standardised: skip standardisation"
        )
    mean, inv_std = arr.dtype.type(stats.mean), arr.dtype.type(1.0 / stats.std)
    result = np.subtract(arr, mean, out=out)
    np.multiply(result, inv_std, out=result)
    return result if out is not None else freeze(result)  # ``out`` is the caller's buffer


def preprocess(
    images: npt.ArrayLike,
    stats: PixelStats | None = None,
    *,
    dtype: npt.DTypeLike = np.float32,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """One batch of uint8 images to ``(N, H*W)`` features in ``[0, 1]``, optionally standardised.

    Args:
      images: ``(N, H, W)`` uint8 batch (e.g. ``split.images[batch_indices]``).
      stats: standardise with these when given; ``None`` keeps ``[0, 1]``.
      dtype: the float dtype of the result.
      out: optional ``(N, H*W)`` buffer reused across batches.

    >>> preprocess(np.full((1, 2, 2), 255, np.uint8)).tolist()
    [[1.0, 1.0, 1.0, 1.0]]
    """
    arr = np.asarray(images)
    features = to_features(arr, dtype=dtype, out=out)
    if stats is None:
        return features
    if out is None:  # to_features hands out read-only arrays (maybe a view of the caller's)
        return standardize(features, stats)
    return standardize(features, stats, out=features)


def train_val_split(
    key: Key, images: npt.ArrayLike, labels: npt.ArrayLike, val_size: int | float
) -> TrainVal:
    """Split row indices at random into training and validation, by an explicit key.

    Returns indices rather than copies, so that no second copy of the images is made;
    gather a part with :func:`take`, or batches with ``images[idx[batch]]``.

    Args:
      key: a key from :mod:`mlp_functional.textbook.random`; the same key gives the same split.
      images: ``(N, ...)`` array (only its length is used).
      labels: ``(N,)`` array (only its length is used).
      val_size: the number of validation rows (``0 <= val_size <= N``), or a
        fraction in ``(0, 1)``.

    Returns:
      ``TrainVal(train, val)``: sorted, disjoint int64 index arrays covering ``range(N)``.

    >>> from mlp_functional import key
    >>> x = np.zeros((5, 2, 2), np.uint8)
    >>> s = train_val_split(key(0), x, np.zeros(5, np.uint8), val_size=0.4)
    >>> len(s.val), sorted(s.train.tolist() + s.val.tolist())
    (2, [0, 1, 2, 3, 4])
    """
    n = len(np.asarray(labels))
    if len(np.asarray(images)) != n:
        raise ValueError(
            f"images and labels must have the same length, got {len(np.asarray(images))} "
            f"images and {n} labels; pass the two arrays of one split"
        )
    if isinstance(val_size, bool) or not isinstance(val_size, (int, float, np.integer)):
        raise ValueError(
            f"val_size must be an int count or a float fraction, got val_size={val_size!r}"
        )
    if isinstance(val_size, float):
        if not 0.0 < val_size < 1.0:
            raise ValueError(
                f"a fractional val_size must be in (0, 1), got val_size={val_size}; "
                "or pass a count as an int"
            )
        k = round(n * val_size)
    else:
        k = int(val_size)
        if not 0 <= k <= n:
            raise ValueError(f"val_size must be in [0, {n}] for {n} rows, got val_size={k}")
    perm = generator(key).permutation(n)
    return TrainVal(freeze(np.sort(perm[k:])), freeze(np.sort(perm[:k])))


def stratified_split(key: Key, labels: npt.ArrayLike, test_size: float) -> Holdout:
    """Hold out ``test_size`` of each class's rows at random, by an explicit key.

    Class ``c`` with ``n_c`` rows gives ``floor(n_c * test_size + 1/2)`` of them to the
    test set, but always keeps at least one for training; so every class is in the test
    set in its own proportion, and the same key gives the same split.

    Args:
      key: a key from :mod:`mlp_functional.textbook.random`.
      labels: ``(N,)`` class indices.
      test_size: the fraction to hold out, in ``(0, 1)``.

    Returns:
      ``Holdout(train, test)``: sorted, disjoint int64 index arrays covering ``range(N)``.

    >>> from mlp_functional import key
    >>> split = stratified_split(key(0), np.array([0] * 8 + [1] * 2), 0.25)
    >>> len(split.test), np.bincount(np.array([0] * 8 + [1] * 2)[split.test]).tolist()
    (3, [2, 1])
    """
    if isinstance(test_size, bool) or not isinstance(test_size, (float, int)):
        raise ValueError(f"test_size must be a fraction in (0, 1), got test_size={test_size!r}")
    if not 0.0 < test_size < 1.0:
        raise ValueError(
            f"test_size must be a fraction in (0, 1), got test_size={test_size}; e.g. 0.2"
        )
    y = np.asarray(labels)
    order = np.argsort(y, kind="stable")
    counts = np.bincount(y) if y.size else np.zeros(0, np.int64)
    rng = generator(key)
    held = []
    start = 0
    for n in counts.tolist():
        rows = order[start : start + n]
        start += n
        k = min(int(np.floor(n * test_size + 0.5)), n - 1)
        if k > 0:
            held.append(rows[rng.permutation(n)[:k]])
    test = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    mask = np.ones(len(y), bool)
    mask[test] = False
    return Holdout(freeze(np.flatnonzero(mask).astype(np.int64)), freeze(test.astype(np.int64)))


def take(split: Split, indices: npt.ArrayLike) -> Split:
    """The rows ``indices`` of a split, as a new (copied, uint8) :class:`Split`.

    >>> s = Split(np.arange(3, dtype=np.uint8).reshape(3, 1, 1), np.array([7, 8, 9], np.uint8))
    >>> take(s, [2, 0]).labels.tolist()
    [9, 7]
    """
    idx = np.asarray(indices)
    return Split(freeze(split.images[idx]), freeze(split.labels[idx]))
