"""The estimator's hyperparameters, checked once at the start of ``fit`` and mapped onto
the one schema of training settings.

scikit-learn estimators store their constructor arguments untouched and check them in
``fit``; :func:`check_settings` does that, and each message names the parameter, shows
its value and says what would do. The checked values become a
:class:`~mlp_functional.runs.settings.Settings` (``learning_rate_init`` is ``lr``,
``alpha`` is ``l2``, ``beta_1`` is ``b1``, ``max_iter`` is ``epochs``...), which
:func:`~mlp_functional.runs.recipes.build` turns into the optimizer and the regimen, as
for every run; scikit-learn's stopping rule stays beside it.

>>> from mlp_functional.estimator import MLPClassifier
>>> checked = check_settings(MLPClassifier((64, 32), alpha=1e-4).get_params(), 150)
>>> checked.training.hidden, checked.training.batch_size, checked.training.l2
((64, 32), 150, 0.0001)
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
from ..runs.recipes import OPTIMIZERS
from ..runs.settings import Settings

__all__ = [
    "ACTIVATION_ALIASES",
    "AUTO_BATCH",
    "SCHEDULES",
    "SOLVERS",
    "WARMUP_SHARE",
    "Hyperparameters",
    "check_settings",
]

#: The solvers: the optimizers of the training settings, by the same names.
SOLVERS = OPTIMIZERS

#: Schedules of the learning rate over the whole fit (``max_iter`` epochs).
SCHEDULES = ("constant", "cosine", "warmup_cosine", "one_cycle")

#: ``warmup_cosine`` warms up over this share of the ``max_iter`` epochs (the settings'
#: ``warmup_epochs``, turned into whole steps by the one warm-up rule).
WARMUP_SHARE = 0.05

#: scikit-learn's names for activations the engine calls otherwise.
ACTIVATION_ALIASES: Mapping[str, str] = MappingProxyType({"logistic": "sigmoid"})

#: ``batch_size="auto"`` takes ``min(AUTO_BATCH, n_samples)``, as scikit-learn does.
AUTO_BATCH = 200


class Hyperparameters(NamedTuple):
    """Checked hyperparameters: the training settings (``batch_size`` resolved for the data
    at hand), and scikit-learn's stopping rule."""

    training: Settings
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


def check_settings(params: Mapping[str, Any], n_samples: int) -> Hyperparameters:
    """Check the hyperparameters ``params`` (the estimator's ``get_params()``) and map them
    onto the training settings.

    Args:
      params: the estimator's parameters by name.
      n_samples: examples per epoch, to resolve ``batch_size="auto"`` and clip larger sizes.
    """
    p = params
    name = p["activation"]
    activation = ACTIVATION_ALIASES.get(name, name) if isinstance(name, str) else name
    if activation not in ACTIVATIONS:
        _choice("activation", name, (*sorted(ACTIVATIONS), *ACTIVATION_ALIASES))
    training = Settings(
        hidden=_hidden(p["hidden_layer_sizes"]),
        activation=activation,
        optimizer=_choice("solver", p["solver"], SOLVERS),
        schedule=_choice("learning_rate", p["learning_rate"], SCHEDULES),
        lr=_real("learning_rate_init", p["learning_rate_init"], 0, math.inf, open_low=True),
        batch_size=_batch_size(p["batch_size"], n_samples),
        epochs=_int("max_iter", p["max_iter"], 1),
        l2=_real("alpha", p["alpha"], 0, math.inf),
        momentum=_real("momentum", p["momentum"], 0, 1),
        nesterov=_bool("nesterovs_momentum", p["nesterovs_momentum"]),
        b1=_real("beta_1", p["beta_1"], 0, 1),
        b2=_real("beta_2", p["beta_2"], 0, 1),
        eps=_real("epsilon", p["epsilon"], 0, math.inf, open_low=True),
        weight_decay=_real("weight_decay", p["weight_decay"], 0, math.inf),
        dropout=_real("dropout", p["dropout"], 0, 1),
        input_dropout=_real("input_dropout", p["input_dropout"], 0, 1),
        label_smoothing=_real("label_smoothing", p["label_smoothing"], 0, 1),
        max_norm=None
        if p["max_norm"] is None
        else _real("max_norm", p["max_norm"], 0, math.inf, open_low=True),
    )
    return Hyperparameters(
        training=training._replace(warmup_epochs=WARMUP_SHARE * training.epochs),
        early_stopping=_bool("early_stopping", p["early_stopping"]),
        validation_fraction=_real(
            "validation_fraction", p["validation_fraction"], 0, 1, open_low=True
        ),
        n_iter_no_change=_int("n_iter_no_change", p["n_iter_no_change"], 1),
        tol=_real("tol", p["tol"], 0, math.inf),
    )
