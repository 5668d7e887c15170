"""Checks on what users pass in, done once at the public entry points, never per batch.

The textbook trusts its inputs; the public functions check them here first. Each error
names the problem, shows the value and says how to fix it.

>>> import numpy as np
>>> import mlp_functional as mf
>>> check_inputs(mf.init(mf.key(0), [4, 3]), np.zeros(4))
Traceback (most recent call last):
...
ValueError: x is 1-D with shape (4,); pass a batch of examples, ...
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from ..textbook.params import Params

__all__ = [
    "NotNormalisedWarning",
    "check_batch",
    "check_inputs",
    "check_labels",
    "check_rate",
    "check_smoothing",
    "hyperparameter_problem",
]

#: Float inputs whose magnitude exceeds this are probably raw pixels.
NORMALISED_LIMIT = 10.0


class NotNormalisedWarning(UserWarning):
    """Float inputs far outside [0, 1]: probably raw 0-255 pixels."""


def check_inputs(params: Params, x: Any) -> np.ndarray:
    """Validate inputs against the model; return them as an array.

    Args:
      params: the model; fixes the feature count.
      x: ``(N, D)`` floats or ``(N, H, W)`` uint8 images with ``H*W == D``.

    >>> from mlp_functional import init, key
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

    >>> from mlp_functional import init, key
    >>> check_batch(init(key(0), [2, 3]), np.zeros((1, 2)), [2])[1].tolist()
    [2]
    """
    x = check_inputs(params, x)
    return x, check_labels(y, params.sizes[-1], len(x))


def check_rows(rows: Any, n: int, name: str = "rows") -> np.ndarray | None:
    """``None``, or ``rows`` as a 1-D integer array of indices into ``n`` examples.

    >>> check_rows([1, 0], 2).tolist()
    [1, 0]
    >>> check_rows([2], 2)
    Traceback (most recent call last):
    ...
    ValueError: rows must index the 2 examples of x, got values outside [0, 2)
    """
    if rows is None:
        return None
    rows = np.asarray(rows)
    if rows.ndim != 1 or rows.dtype.kind not in "ui":
        raise ValueError(f"{name} must be a 1-D array of row indices, got shape {rows.shape}")
    if rows.size and (int(rows.min()) < 0 or int(rows.max()) >= n):
        raise ValueError(f"{name} must index the {n} examples of x, got values outside [0, {n})")
    return rows


def check_validation(params: Params, validation: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    """``fit``'s validation data, ``(x, y)`` or ``(x, y, rows)``, as ``(x, y, rows or None)``.

    ``rows`` picks the validation examples out of ``x`` and ``y`` without copying them
    (a held-out part of the training arrays).

    >>> from mlp_functional import init, key
    >>> check_validation(init(key(0), [2, 3]), (np.zeros((4, 2)), [0, 1, 2, 0], [3]))[2]
    array([3])
    """
    if not isinstance(validation, (tuple, list)) or len(validation) not in (2, 3):
        raise ValueError(
            "validation must be (x_val, y_val), or (x, y, rows) to validate on some rows of "
            f"x and y, got {type(validation).__name__}"
        )
    x, y = check_batch(params, validation[0], validation[1])
    rows = check_rows(validation[2], len(x), "validation rows") if len(validation) == 3 else None
    return x, y, rows


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


def check_rate(rate: Any, name: str = "rate") -> float:
    """A dropout rate must lie in [0, 1); the error names it as ``name``.

    >>> check_rate(0.25)
    0.25
    >>> check_rate(1, "input_dropout")
    Traceback (most recent call last):
    ...
    ValueError: dropout rate must be in [0, 1), got input_dropout=1
    """
    if not (isinstance(rate, (int, float)) and 0 <= rate < 1):
        raise ValueError(f"dropout rate must be in [0, 1), got {name}={rate!r}")
    return float(rate)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_RULES: Mapping[str, tuple[Callable[[Any], bool], str]] = MappingProxyType(
    {
        "lr": (
            lambda v: callable(v) or (_number(v) and v >= 0),
            "learning rate must be a finite number >= 0 or a schedule, got lr={value!r}",
        ),
        "unit": (
            lambda v: isinstance(v, (int, float)) and 0 <= v < 1,
            "{name} must be in [0, 1), got {name}={value!r}",
        ),
        "positive": (
            lambda v: _number(v) and v > 0,
            "{name} must be a finite number > 0, got {name}={value!r}",
        ),
        "non_negative": (
            lambda v: _number(v) and v >= 0,
            "{name} must be a finite number >= 0, got {name}={value!r}",
        ),
        "eps": (
            lambda v: isinstance(v, (int, float)) and v > 0,
            "{name} must be > 0, got {name}={value!r}",
        ),
        "open_unit": (
            lambda v: _number(v) and 0 < v < 1,
            "{name} must be in (0, 1), got {value!r}",
        ),
    }
)

#: The rule each hyperparameter of the optimizers and schedules is checked by, by name.
HYPERPARAMETERS: Mapping[str, str] = MappingProxyType(
    {
        "lr": "lr",
        "beta": "unit",
        "b1": "unit",
        "b2": "unit",
        "eps": "eps",
        "strength": "non_negative",
        "weight_decay": "non_negative",
        "max_norm": "positive",
        "radius": "positive",
        "every": "positive",
        "factor": "positive",
        "total_steps": "positive",
        "warmup_steps": "positive",
        "start_div": "positive",
        "final_div": "positive",
        "warmup_fraction": "open_unit",
    }
)


def hyperparameter_problem(name: str, value: Any, schedule: bool = False) -> str | None:
    """What is wrong with a hyperparameter's value, or ``None``; a schedule's own ``lr``
    must be a positive number (an optimizer's may also be a schedule, or 0).

    >>> hyperparameter_problem("b1", 1.2)
    'b1 must be in [0, 1), got b1=1.2'
    >>> hyperparameter_problem("lr", 0.0, schedule=True)
    'lr must be a finite number > 0, got lr=0.0'
    """
    rule = "positive" if schedule and name == "lr" else HYPERPARAMETERS.get(name)
    if rule is None:
        return None
    ok, message = _RULES[rule]
    return None if ok(value) else message.format(name=name, value=value)
