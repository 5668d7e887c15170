"""A fitted ``MLPClassifier`` in one safetensors file, and back.

The file is a model file of :mod:`mlp_functional.runs.checkpoint` (tensors ``layers.<i>.w``
and ``layers.<i>.b``, readable by :func:`~mlp_functional.runs.checkpoint.load_params` and by
any safetensors reader) whose metadata also holds what the estimator adds: its
hyperparameters, ``classes_``, the feature names and the training history. Nothing is
pickled, so loading a file runs no code from it. The optimizer's state is not kept: a
loaded model that goes on training (``partial_fit``, ``warm_start``) starts a fresh one.

>>> import tempfile, pathlib
>>> import numpy as np
>>> from mlp_functional.estimator import MLPClassifier
>>> x = np.random.default_rng(0).normal(size=(40, 3))
>>> model = MLPClassifier((4,), learning_rate_init=0.01, max_iter=500, random_state=0)
>>> model = model.fit(x, x[:, 0] > 0)
>>> with tempfile.TemporaryDirectory() as d:
...     model.save(pathlib.Path(d) / "model.safetensors")
...     again = MLPClassifier.load(pathlib.Path(d) / "model.safetensors")
>>> again.classes_.tolist(), bool((again.predict(x) == model.predict(x)).all())
([False, True], True)
"""

from __future__ import annotations

import json
import os
from typing import Any, TypeVar

import numpy as np

from ..runs.checkpoint import (
    FORMAT_VERSION,
    METADATA_KEY,
    CheckpointError,
    load_params,
    model_spec,
    write_atomic,
)
from ..textbook.params import Layer

__all__ = ["ESTIMATOR_KEY", "load_classifier", "save_classifier"]

#: The metadata entry (inside the package's JSON) that holds the estimator's part.
ESTIMATOR_KEY = "estimator"
#: Label dtypes a file may hold: booleans, numbers, strings (object arrays of them).
_LABEL_KINDS = "biufUO"

Classifier = TypeVar("Classifier")


def _plain(value: Any) -> Any:
    """``value`` as JSON values: arrays and tuples become lists, NumPy scalars Python ones."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _description(model: Any) -> dict[str, Any]:
    classes = np.asarray(model.classes_)
    if classes.dtype.kind not in _LABEL_KINDS:
        raise ValueError(
            f"classes_ of dtype {classes.dtype} cannot be saved; use numbers or strings as labels"
        )
    names = getattr(model, "feature_names_in_", None)
    return {
        "params": _plain(model.get_params()),
        "classes": _plain(classes),
        "classes_dtype": classes.dtype.str if classes.dtype.kind != "O" else "object",
        "n_features_in": int(model.n_features_in_),
        "feature_names_in": None if names is None else _plain(names),
        "loss_curve": _plain(model.loss_curve_),
        "validation_scores": _plain(model.validation_scores_),
        "best_validation_score": model.best_validation_score_,
        "best_loss": model.best_loss_,
        "n_iter": int(model.n_iter_),
        "history": _plain(getattr(model, "history_", None)),
    }


def save_classifier(path: str | os.PathLike[str], model: Any) -> None:
    """Write a fitted classifier to ``path`` atomically (its folder must exist)."""
    from safetensors.numpy import save

    params = model.params_
    header = {
        "format_version": FORMAT_VERSION,
        "kind": "model",
        "model": model_spec(params),
        ESTIMATOR_KEY: _description(model),
    }
    try:
        text = json.dumps(header, sort_keys=True)
    except TypeError as e:
        raise ValueError(
            f"cannot save the classifier: a hyperparameter is not a plain value ({e}); "
            "use numbers, strings and None (an int random_state, for example)"
        ) from None
    tensors = {
        f"layers.{i}.{field}": np.ascontiguousarray(array)
        for i, layer in enumerate(params.layers)
        for field, array in zip(Layer._fields, layer, strict=True)
    }
    write_atomic(path, save(tensors, metadata={METADATA_KEY: text}))


def _estimator_part(name: str) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(name, framework="numpy") as f:
        meta = json.loads(f.metadata()[METADATA_KEY])
    part = meta.get(ESTIMATOR_KEY)
    if not isinstance(part, dict):
        raise CheckpointError(
            f"{name}: a model without the classifier's description (classes, features); "
            "load it with mlp_functional.runs.checkpoint.load_params, or save it with "
            "MLPClassifier.save"
        )
    return part


def load_classifier(path: str | os.PathLike[str], cls: type[Classifier]) -> Classifier:
    """A fitted ``cls`` read from a file written by :func:`save_classifier`.

    Raises:
      CheckpointError: the file is missing, damaged, not a model, or its description
        does not fit its tensors.
    """
    name = os.fspath(path)
    params = load_params(name)
    part = _estimator_part(name)
    bad = f"{name}: the classifier's description in its metadata is invalid"
    try:
        hyper = {k: tuple(v) if isinstance(v, list) else v for k, v in part["params"].items()}
        model = cls(**hyper)
        dtype = np.dtype(part["classes_dtype"])
        classes = np.array(part["classes"], dtype=dtype)
        n_features = part["n_features_in"]
        names = part["feature_names_in"]
        history = (part["loss_curve"], part["validation_scores"], part["n_iter"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{bad} ({e}); save the model again") from None
    if (
        dtype.kind not in _LABEL_KINDS
        or classes.shape != (params.sizes[-1],)
        or n_features != params.sizes[0]
        or (names is not None and len(names) != n_features)
    ):
        raise CheckpointError(
            f"{bad}: {len(classes)} classes and {n_features} features for a "
            f"{'-'.join(map(str, params.sizes))} network; save the model again"
        )
    fitted = {
        "params_": params,
        "classes_": classes,
        "n_features_in_": n_features,
        "loss_curve_": [float(v) for v in history[0]],
        "validation_scores_": None if history[1] is None else [float(v) for v in history[1]],
        "best_validation_score_": part.get("best_validation_score"),
        "best_loss_": part.get("best_loss"),
        "n_iter_": int(history[2]),
        "history_": part.get("history")
        or [{"epoch": i + 1, "loss": float(v)} for i, v in enumerate(history[0])],
        "_opt_state": None,
        "_key": None,
        "_no_improvement_count": 0,
    }
    if names is not None:
        fitted["feature_names_in_"] = np.array(names, dtype=object)
    for attribute, value in fitted.items():
        setattr(model, attribute, value)
    return model
