"""The estimator's hyperparameters, checked once at the start of ``fit``.

scikit-learn estimators store their constructor arguments untouched and check them in
``fit``; :func:`check_settings` does that, and each message names the parameter, shows
its value and says what would do.

>>> from mlp_functional.estimator import MLPClassifier
>>> check_settings(MLPClassifier((64, 32)).get_params(), 150).batch_size
150
>>> check_settings(MLPClassifier(max_iter=0).get_params(), 10)
Traceback (most recent call last):
...
ValueError: max_iter must be an integer >= 1, got max_iter=0
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from ..engine.api import ACTIVATIONS

__all__ = ["ACTIVATION_ALIASES", "AUTO_BATCH", "SCHEDULES", "SOLVERS", "Settings", "check_settings"]

#: The solvers, each an engine optimizer of the same name.
SOLVERS = ("sgd", "momentum", "adam", "adamw")

#: Schedules of the learning rate over the whole fit (``max_iter`` epochs).
SCHEDULES = ("constant", "cosine", "warmup_cosine", "one_cycle")

#: scikit-learn's names for activations the engine calls otherwise.
ACTIVATION_ALIASES: Mapping[str, str] = MappingProxyType({"logistic": "sigmoid"})

#: ``batch_size="auto"`` takes ``min(AUTO_BATCH, n_samples)``, as scikit-learn does.
AUTO_BATCH = 200


class Settings(NamedTuple):
    """Checked hyperparameters; ``batch_size`` resolved for the data at hand."""

    hidden: tuple[int, ...]
    activation: str
    solver: str
    schedule: str
    learning_rate_init: float
    batch_size: int
    max_iter: int
    alpha: float
    momentum: float
    nesterovs_momentum: bool
    beta_1: float
    beta_2: float
    epsilon: float
    weight_decay: float
    dropout: float
    label_smoothing: float
    early_stopping: bool
    validation_fraction: float
    n_iter_no_change: int
    tol: float


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _int(name: str, value: Any, low: int) -> int:
    if not _is_int(value) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {name}={value!r}")
    return int(value)


def _real(name: str, value: Any, low: float, high: float, *, open_low: bool = False) -> float:
    """A finite number in ``[low, high)``, or ``(low, high)`` with ``open_low``."""
    ok = _is_real(value) and (value > low if open_low else value >= low) and value < high
    if not ok:
        bracket = "(" if open_low else "["
        upper = "inf" if math.isinf(high) else f"{high:g}"
        raise ValueError(
            f"{name} must be a number in {bracket}{low:g}, {upper}), got {name}={value!r}"
        )
    return float(value)


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {name}={value!r}")
    return str(value)


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, numbers.Integral)) or value not in (0, 1):
        raise ValueError(f"{name} must be True or False, got {name}={value!r}")
    return bool(value)


def _hidden(value: Any) -> tuple[int, ...]:
    sizes = (value,) if _is_int(value) else value
    try:
        checked = tuple(sizes)
    except TypeError:
        checked = None
    if checked is None or isinstance(sizes, str) or not all(_is_int(s) and s >= 1 for s in checked):
        raise ValueError(
            "hidden_layer_sizes must be a positive integer or a sequence of them, "
            f"got hidden_layer_sizes={value!r}; for example (100,) or (256, 128)"
        )
    return tuple(int(s) for s in checked)


def _batch_size(value: Any, n_samples: int) -> int:
    if value == "auto" and isinstance(value, str):
        return max(1, min(AUTO_BATCH, n_samples))
    return min(_int("batch_size", value, 1), max(n_samples, 1))


def check_settings(params: Mapping[str, Any], n_samples: int) -> Settings:
    """Check the hyperparameters ``params`` (the estimator's ``get_params()``).

    Args:
      params: the estimator's parameters by name.
      n_samples: examples per epoch, to resolve ``batch_size="auto"`` and clip larger sizes.
    """
    p = params
    name = p["activation"]
    activation = ACTIVATION_ALIASES.get(name, name) if isinstance(name, str) else name
    if activation not in ACTIVATIONS:
        _choice("activation", name, (*sorted(ACTIVATIONS), *ACTIVATION_ALIASES))
    return Settings(
        hidden=_hidden(p["hidden_layer_sizes"]),
        activation=activation,
        solver=_choice("solver", p["solver"], SOLVERS),
        schedule=_choice("learning_rate", p["learning_rate"], SCHEDULES),
        learning_rate_init=_real(
            "learning_rate_init", p["learning_rate_init"], 0, math.inf, open_low=True
        ),
        batch_size=_batch_size(p["batch_size"], n_samples),
        max_iter=_int("max_iter", p["max_iter"], 1),
        alpha=_real("alpha", p["alpha"], 0, math.inf),
        momentum=_real("momentum", p["momentum"], 0, 1),
        nesterovs_momentum=_bool("nesterovs_momentum", p["nesterovs_momentum"]),
        beta_1=_real("beta_1", p["beta_1"], 0, 1),
        beta_2=_real("beta_2", p["beta_2"], 0, 1),
        epsilon=_real("epsilon", p["epsilon"], 0, math.inf, open_low=True),
        weight_decay=_real("weight_decay", p["weight_decay"], 0, math.inf),
        dropout=_real("dropout", p["dropout"], 0, 1),
        label_smoothing=_real("label_smoothing", p["label_smoothing"], 0, 1),
        early_stopping=_bool("early_stopping", p["early_stopping"]),
        validation_fraction=_real(
            "validation_fraction", p["validation_fraction"], 0, 1, open_low=True
        ),
        n_iter_no_change=_int("n_iter_no_change", p["n_iter_no_change"], 1),
        tol=_real("tol", p["tol"], 0, math.inf),
    )
