"""Named training recipes, and :func:`build`, which turns settings into what trains: the
optimizer (with its learning-rate schedule) and the regimen of every epoch (batch size,
dropout, augmentation, label smoothing).

A recipe is a name, a description and the settings it changes from the defaults of
:class:`~mlp_functional.runs.settings.Settings`, the dataset among them;
``mlp-functional train --recipe NAME`` starts from it and any flag overrides a field.
Recipes are chosen on a validation split carved from the training set
(``scripts/search.py``, logged in ``docs/search/``); the test set is only reported
(``scripts/run_recipes.py`` reruns them and writes the README table). ``best-noaug`` and
``fashion-best`` start from the literature's settings (Srivastava et al., 2014).

:func:`build` is the one builder: the run lifecycle, the command line and the scikit-learn
estimator (which maps its parameters onto :class:`~mlp_functional.runs.settings.Settings`)
all train with what it returns. The name lists (:data:`OPTIMIZERS`, :data:`SCHEDULES`,
:data:`AUGMENTATIONS`) are the keys of its own tables, so a name is valid exactly when
something builds it.

>>> RECIPES["quick"].changes["epochs"]
3
>>> from mlp_functional.runs.settings import recipe_settings
>>> optimizer, regimen = build(recipe_settings("quick"), steps_per_epoch=430)
>>> regimen.batch_size, regimen.label_smoothing, regimen.augment
(64, 0.1, None)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from ..engine import api as schedules
from ..engine.api import adam, adamw, add_l2, chain, clip_by_global_norm, max_norm, momentum, sgd
from ..engine.epochs import Regimen
from ..textbook.optimizers import Optimizer

__all__ = [
    "AUGMENTATIONS",
    "DEFAULT_LR",
    "OPTIMIZERS",
    "RECIPES",
    "SCHEDULES",
    "Recipe",
    "Training",
    "build",
    "get_recipe",
    "steps_per_epoch",
]


def _schedule_table() -> Mapping[str, Callable[[float, int, int], Any]]:
    # (peak lr, total steps, warm-up steps) -> a constant or a `step -> lr` schedule
    return MappingProxyType(
        {
            "constant": lambda lr, total, warmup: lr,
            "step": lambda lr, total, warmup: schedules.step_decay(
                lr, every=max(1, total // 3), factor=0.1
            ),
            "cosine": lambda lr, total, warmup: schedules.cosine(lr, total_steps=total),
            "warmup_cosine": lambda lr, total, warmup: schedules.warmup_cosine(
                lr, warmup_steps=warmup, total_steps=total
            ),
            "one_cycle": lambda lr, total, warmup: schedules.one_cycle(lr, total_steps=total),
        }
    )


_SCHEDULES = _schedule_table()
#: The optimizers by name: ``(learning rate or schedule, settings) -> Optimizer``.
_OPTIMIZERS: Mapping[str, Callable[[Any, Any], Optimizer]] = MappingProxyType(
    {
        "sgd": lambda lr, s: sgd(lr),
        "momentum": lambda lr, s: momentum(lr, s.momentum, s.nesterov),
        "adam": lambda lr, s: adam(lr, s.b1, s.b2, s.eps),
        "adamw": lambda lr, s: adamw(lr, s.b1, s.b2, s.eps, weight_decay=s.weight_decay),
    }
)
OPTIMIZERS = tuple(_OPTIMIZERS)
SCHEDULES = tuple(_SCHEDULES)
AUGMENTATIONS = ("none", "affine", "elastic", "affine+elastic")
#: Schedules whose learning rate falls over the run: extending such a run re-plans them.
DECAYING_SCHEDULES = ("step", "cosine", "warmup_cosine", "one_cycle")
#: The learning rate each optimizer uses unless told otherwise.
DEFAULT_LR: Mapping[str, float] = MappingProxyType(
    {"sgd": 0.1, "momentum": 0.05, "adam": 1e-3, "adamw": 1e-3}
)


class Recipe(NamedTuple):
    """A named set of settings: what it changes from the defaults, and why."""

    name: str
    description: str
    changes: Mapping[str, Any]


def _recipe(name: str, description: str, **changes: Any) -> Recipe:
    return Recipe(name, description, MappingProxyType(changes))


#: Srivastava et al. (2014)'s network and regularisation (dropout, max-norm), with this
#: package's Adam and schedule: what best-noaug and fashion-best share.
_SRIVASTAVA: Mapping[str, Any] = MappingProxyType(
    {
        "hidden": (1024, 1024, 1024),
        "epochs": 100,
        "batch_size": 128,
        "optimizer": "adam",
        "lr": 1e-3,
        "schedule": "warmup_cosine",
        "warmup_epochs": 1.0,
        "dropout": 0.5,
        "max_norm": 3.5,
    }
)

RECIPES: Mapping[str, Recipe] = MappingProxyType(
    {
        recipe.name: recipe
        for recipe in (
            _recipe("default", "784-256-128-10 ReLU, Adam 1e-3, 10 epochs, batch 128"),
            _recipe(
                "seed",
                "the seed notebook's model: one sigmoid hidden layer, plain SGD",
                hidden=(64,),
                activation="sigmoid",
                epochs=10,
                batch_size=64,
                optimizer="sgd",
                lr=0.1,
            ),
            _recipe(
                "quick",
                "784-2048-1024-10 ReLU, Adam with warm-up and cosine decay, label "
                "smoothing 0.1, batch 64, 3 epochs",
                hidden=(2048, 1024),
                epochs=3,
                batch_size=64,
                optimizer="adam",
                lr=1e-3,
                schedule="warmup_cosine",
                warmup_epochs=0.2,
                label_smoothing=0.1,
            ),
            _recipe(
                "best",
                "784-1500-1000-500-10 ReLU, rotation, scaling, shifts and elastic "
                "distortion (alpha 36, sigma 6), label smoothing 0.1, Adam with warm-up and "
                "cosine decay, 80 epochs, on all 60,000 training images",
                hidden=(1500, 1000, 500),
                epochs=80,
                batch_size=128,
                optimizer="adam",
                lr=1e-3,
                schedule="warmup_cosine",
                warmup_epochs=1.0,
                label_smoothing=0.1,
                augment="affine+elastic",
                # As Ciresan et al. (2010) distort: no shear, larger scaling, smoother fields.
                max_shear=0.0,
                max_scale=0.15,
                alpha=36.0,
                sigma=6.0,
                # Its settings were chosen on the search's validation split; the final
                # network trains on every training image, as Ciresan et al. (2010) did.
                val_size=0,
            ),
            # Srivastava et al. (2014), 1.06% test error at 784-1024x3-10 ReLU with dropout
            # (0.2 on input pixels, 0.5 on hidden units) and max-norm (c = 3 to 4), no
            # augmentation, with this package's Adam and schedule, and label smoothing
            # (98.76% validation, 98.60% without; docs/search/best-noaug.md).
            _recipe(
                "best-noaug",
                "784-1024-1024-1024-10 ReLU, no augmentation, input dropout 0.2, dropout 0.5, "
                "max-norm 3.5, label smoothing 0.1, Adam with warm-up and cosine decay, "
                "100 epochs",
                **_SRIVASTAVA,
                input_dropout=0.2,
                label_smoothing=0.1,
            ),
            # Srivastava et al.'s network and max-norm on Fashion-MNIST, with small shifts
            # (its garments are centred and upright: no rotation or shear); dropout 0.1
            # instead of 0.5 (91.1% validation against 88.6%, and 90.5% at 0.3;
            # docs/search/fashion-best.md).
            _recipe(
                "fashion-best",
                "Fashion-MNIST: 784-1024-1024-1024-10 ReLU, shifts of up to 2 pixels, dropout "
                "0.1, max-norm 3.5, label smoothing 0.1, Adam with warm-up and cosine decay, "
                "100 epochs",
                dataset="fashion-mnist",
                **{**_SRIVASTAVA, "dropout": 0.1},
                label_smoothing=0.1,
                augment="affine",
                max_shift=2.0,
                max_rotation=0.0,
                max_scale=0.0,
                max_shear=0.0,
            ),
        )
    }
)


def get_recipe(name: str) -> Recipe:
    """The recipe of that name, or an error listing the names there are.

    >>> get_recipe("seed").changes["activation"]
    'sigmoid'
    """
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(
            f"unknown recipe {name!r}: choose one of {', '.join(sorted(RECIPES))}"
        ) from None


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    """``ceil(n / batch_size)``: the last batch may be short (the one place this is computed).

    >>> steps_per_epoch(55_000, 128)
    430
    """
    return math.ceil(n_examples / batch_size)


class Training(NamedTuple):
    """What settings build: the optimizer, and how every epoch trains.

    ``regimen`` holds the batch size, dropout (of hidden units and of inputs), augmentation
    and label smoothing; the rows to train on and the progress callback are the caller's
    (``regimen._replace(rows=...)``).
    Its fields are :func:`mlp_functional.fit`'s keywords of the same names.
    """

    optimizer: Optimizer
    regimen: Regimen


def build(settings: Any, steps_per_epoch: int) -> Training:
    """The optimizer and the epochs' regimen the settings describe.

    Settings are read by attribute (any record with the fields of
    :class:`~mlp_functional.runs.settings.Settings` that are named here will do).

    Args:
      settings: the training settings.
      steps_per_epoch: updates per epoch (:func:`steps_per_epoch`), which the learning
        rate's schedule spreads over all ``epochs``.

    >>> from mlp_functional.runs.settings import Settings
    >>> optimizer, regimen = build(Settings(dropout=0.5, input_dropout=0.2), steps_per_epoch=10)
    >>> regimen.batch_size, regimen.dropout, regimen.input_dropout, regimen.rows is None
    (128, 0.5, 0.2, True)
    """
    regimen = Regimen(
        batch_size=settings.batch_size,
        dropout=settings.dropout,
        augment=_augment(settings),
        label_smoothing=settings.label_smoothing,
        input_dropout=settings.input_dropout,
    )
    return Training(_optimizer(settings, steps_per_epoch), regimen)


def _schedule(settings: Any, steps_per_epoch: int) -> Any:
    """The learning rate as a constant or a ``step -> lr`` schedule over all ``epochs``.

    The one warm-up rule: ``warmup_epochs`` of steps, rounded to whole steps, at least one
    and fewer than all of them (a schedule spans two steps at the least).
    """
    total = max(2, settings.epochs * steps_per_epoch)
    warmup = min(max(1, round(settings.warmup_epochs * steps_per_epoch)), total - 1)
    try:
        schedule = _SCHEDULES[settings.schedule]
    except KeyError:
        raise ValueError(
            f"unknown schedule {settings.schedule!r}: choose one of {', '.join(SCHEDULES)}"
        ) from None
    return schedule(settings.lr, total, warmup)


def _optimizer(settings: Any, steps_per_epoch: int) -> Optimizer:
    """The optimizer the settings describe, with its schedule, L2 penalty, clipping and
    max-norm constraint."""
    lr = _schedule(settings, steps_per_epoch)
    try:
        opt = _OPTIMIZERS[settings.optimizer](lr, settings)
    except KeyError:
        raise ValueError(
            f"unknown optimizer {settings.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}"
        ) from None
    # Clip the raw gradient, then add the penalty's gradient, then take the step, then
    # project the weights back onto the max-norm ball.
    before = [clip_by_global_norm(settings.clip)] if settings.clip else []
    before += [add_l2(settings.l2)] if settings.l2 else []
    after = [max_norm(settings.max_norm)] if settings.max_norm is not None else []
    return chain(*before, opt, *after) if before or after else opt


def _augment(settings: Any) -> Any:
    """``(key, batch) -> batch`` for the settings' augmentation, or ``None``."""
    if settings.augment == "none":
        return None
    if settings.augment not in AUGMENTATIONS:
        raise ValueError(
            f"unknown augmentation {settings.augment!r}: choose one of {', '.join(AUGMENTATIONS)}"
        )
    from ..augment import augment

    affine_on = "affine" in settings.augment
    elastic_on = "elastic" in settings.augment
    return functools.partial(
        augment,
        max_shift=settings.max_shift if affine_on else 0.0,
        max_rotation=settings.max_rotation if affine_on else 0.0,
        scale_range=(1 - settings.max_scale, 1 + settings.max_scale) if affine_on else (1.0, 1.0),
        max_shear=settings.max_shear if affine_on else 0.0,
        alpha=settings.alpha if elastic_on else 0.0,
        sigma=settings.sigma,
    )
