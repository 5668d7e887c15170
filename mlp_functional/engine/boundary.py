"""The public boundary: one wrapper that checks what a user passes and hands every array
out read-only, so that the textbook's formulas can read bare.

:func:`public` binds a call's arguments and prepares them by name (the papers' names the
textbook uses throughout): ``x`` becomes float features of the model's dtype, ``y`` and
``labels`` are checked labels, ``label_smoothing`` and every optimizer or schedule
hyperparameter is checked (:func:`~.checks.hyperparameter_problem`). The result is then
made read-only all the way down (:func:`read_only`), including what an optimizer's
``update`` or an activation's functions will return later.

>>> import numpy as np
>>> from mlp_functional.textbook import loss
>>> softmax = public(loss.softmax)
>>> softmax([[0.0, 0.0]]).tolist(), softmax(np.zeros((1, 2))).flags.writeable
([[0.5, 0.5]], False)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from ..features import to_features
from ..textbook.activations import Activation
from ..textbook.optimizers import Optimizer
from .checks import check_inputs, check_labels, check_smoothing, hyperparameter_problem

__all__ = ["inputs_of", "public", "read_only"]

F = TypeVar("F", bound=Callable[..., Any])


def inputs_of(params: Any, x: Any) -> np.ndarray:
    """``a_0``: validated inputs as ``(N, D)`` floats of the params' dtype.

    >>> import mlp_functional as mf
    >>> inputs_of(mf.init(mf.key(0), [4, 2]), np.full((1, 2, 2), 255, np.uint8)).tolist()
    [[1.0, 1.0, 1.0, 1.0]]
    """
    return to_features(check_inputs(params, x), params.dtype)


def _is_read_only(f: Callable[..., Any]) -> bool:
    return getattr(f, "__read_only__", False)


def read_only(value: Any) -> Any:
    """``value`` with every array in it a read-only view (the caller's own arrays keep
    their flags), and every optimizer's and activation's functions wrapped alike.

    >>> out = read_only((np.zeros(2), [np.ones(1)]))
    >>> out[0].flags.writeable, out[1][0].flags.writeable
    (False, False)
    """
    if isinstance(value, np.ndarray):
        view = value.view()
        view.flags.writeable = False
        return view
    if isinstance(value, Optimizer):
        if _is_read_only(value.update):
            return value
        return value._replace(init=_frozen(value.init), update=_frozen(value.update))
    if isinstance(value, Activation):
        if _is_read_only(value.value):
            return value
        return value._replace(value=_frozen(value.value), derivative=_frozen(value.derivative))
    if isinstance(value, tuple):
        parts = [read_only(part) for part in value]
        return type(value)(*parts) if hasattr(value, "_fields") else tuple(parts)
    if isinstance(value, list):
        return [read_only(part) for part in value]
    return value


def _frozen(f: F) -> F:
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return read_only(f(*args, **kwargs))

    wrapper.__read_only__ = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _prepare(arguments: dict[str, Any], schedule: bool) -> None:
    params = arguments.get("params")
    if params is not None and "x" in arguments:
        arguments["x"] = inputs_of(params, arguments["x"])
        if "y" in arguments:
            arguments["y"] = check_labels(arguments["y"], params.sizes[-1], len(arguments["x"]))
    if "z" in arguments:
        arguments["z"] = z = np.asarray(arguments["z"])
        if "labels" in arguments:
            arguments["labels"] = check_labels(arguments["labels"], z.shape[-1], len(z))
    if "label_smoothing" in arguments:
        arguments["label_smoothing"] = check_smoothing(arguments["label_smoothing"])
    for name, value in arguments.items():
        if (problem := hyperparameter_problem(name, value, schedule)) is not None:
            raise ValueError(problem)
    warmup, total = arguments.get("warmup_steps"), arguments.get("total_steps")
    if warmup is not None and total is not None and warmup >= total:
        raise ValueError(f"warmup_steps must be < total_steps, got {warmup} >= {total}")


def public(f: F, *, schedule: bool = False) -> F:
    """``f`` behind the boundary: arguments prepared and checked by name, results read-only.
    ``schedule``: ``f`` builds a learning-rate schedule (its ``lr`` must be positive).

    >>> from mlp_functional.textbook import optimizers
    >>> public(optimizers.adam)(b1=1.5)
    Traceback (most recent call last):
    ...
    ValueError: b1 must be in [0, 1), got b1=1.5
    """
    signature = inspect.signature(f)

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        _prepare(bound.arguments, schedule)
        return read_only(f(*bound.args, **bound.kwargs))

    wrapper.__read_only__ = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
