"""Checks on what users pass in, done once at the public entry points, never per batch.

Each error names the problem, shows the value and says how to fix it.

>>> import numpy as np
>>> from mlp_functional.random import key
>>> from mlp_functional.params import init
>>> check_inputs(init(key(0), [4, 3]), np.zeros(4))
Traceback (most recent call last):
...
ValueError: x is 1-D with shape (4,); pass a batch of examples, ...
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .params import Params

__all__ = ["NotNormalisedWarning", "check_batch", "check_inputs", "check_labels", "check_smoothing"]

#: Float inputs whose magnitude exceeds this are probably raw pixels.
NORMALISED_LIMIT = 10.0


class NotNormalisedWarning(UserWarning):
    """Float inputs far outside [0, 1]: probably raw 0-255 pixels."""


def check_inputs(params: Params, x: Any) -> np.ndarray:
    """Validate inputs against the model; return them as an array.

    Args:
      params: the model; fixes the feature count.
      x: ``(N, D)`` floats or ``(N, H, W)`` uint8 images with ``H*W == D``.

    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> check_inputs(init(key(0), [4, 3]), np.zeros((2, 2, 2), np.uint8)).shape
    (2, 2, 2)
    """
    x = np.asarray(x)
    features = params.sizes[0]
    if x.ndim < 2:
        raise ValueError(
            f"x is {x.ndim}-D with shape {x.shape}; pass a batch of examples, "
            "e.g. x.reshape(1, -1) for one example"
        )
    actual = int(np.prod(x.shape[1:]))
    if actual != features:
        raise ValueError(
            f"x has {actual} features per example (shape {x.shape}), the model expects "
            f"{features}: pass shape (N, {features}) or images whose pixels number {features}"
        )
    if x.dtype.kind not in "uif":
        raise ValueError(f"x must hold numbers, got dtype {x.dtype}")
    if x.dtype.kind == "f":
        if not x.size:
            return x
        low, high = float(x.min()), float(x.max())
        if not (np.isfinite(low) and np.isfinite(high)):
            raise ValueError("x contains NaN or infinity; clean the inputs first")
        if max(abs(low), abs(high)) > NORMALISED_LIMIT:
            warnings.warn(
                f"x ranges over [{low:g}, {high:g}]: not normalised? Divide raw pixels by 255 "
                "or pass the uint8 images themselves",
                NotNormalisedWarning,
                stacklevel=3,
            )
    elif x.dtype != np.uint8:
        raise ValueError(
            f"integer x must be uint8 pixels (0-255), got dtype {x.dtype}; "
            "convert to float in [0, 1] or to uint8"
        )
    return x


def check_batch(params: Params, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate inputs and their ``(N,)`` integer labels in ``[0, classes)``.

    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> check_batch(init(key(0), [2, 3]), np.zeros((1, 2)), [2])[1].tolist()
    [2]
    """
    x = check_inputs(params, x)
    return x, check_labels(y, params.sizes[-1], len(x))


def check_labels(y: Any, classes: int, n: int) -> np.ndarray:
    """Labels must be ``n`` integers in ``[0, classes)``.

    >>> check_labels([0, 3], 3, 2)
    Traceback (most recent call last):
    ...
    ValueError: labels must lie in [0, 3), got values in [0, 3]; ...
    """
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"y must be 1-D with one label per example ({n}), got shape {y.shape}")
    if y.dtype.kind not in "ui":
        raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}")
    if y.size and (int(y.min()) < 0 or int(y.max()) >= classes):
        raise ValueError(
            f"labels must lie in [0, {classes}), got values in [{int(y.min())}, {int(y.max())}]; "
            f"the model's last layer has {classes} outputs"
        )
    return y


def check_smoothing(label_smoothing: Any) -> float:
    """Label smoothing must lie in [0, 1).

    >>> check_smoothing(0.1)
    0.1
    """
    if not (isinstance(label_smoothing, (int, float)) and 0 <= label_smoothing < 1):
        raise ValueError(
            f"label_smoothing must be in [0, 1), got label_smoothing={label_smoothing!r}"
        )
    return float(label_smoothing)
