"""Named training recipes, and the builders that turn settings into an optimizer, a
learning-rate schedule and an augmentation function.

A recipe is a name, a description and the settings it changes from the defaults of
:class:`~mlp_functional.runs.settings.Settings`; ``mlp-functional train --recipe NAME``
starts from it and any flag overrides a field. Every recipe was chosen on a validation
split carved from the training set; the test set is only reported
(``scripts/run_recipes.py`` reruns them and writes the README table).

The builders read settings by attribute, so any record with the fields they name works.
The name lists (:data:`OPTIMIZERS`, :data:`SCHEDULES`, :data:`AUGMENTATIONS`) are the keys
of the builders' own tables, so a name is valid exactly when something builds it.

>>> RECIPES["quick"].changes["epochs"]
3
>>> from mlp_functional.runs.settings import recipe_settings
>>> from mlp_functional.engine.epochs import learning_rate_of
>>> opt = make_optimizer(recipe_settings("quick"), steps_per_epoch=430)
>>> round(learning_rate_of(opt, 0), 6) > 0
True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from ..engine import api as schedules
from ..engine.api import adam, adamw, add_l2, chain, clip_by_global_norm, momentum, sgd
from ..textbook.optimizers import Optimizer

__all__ = [
    "AUGMENTATIONS",
    "DEFAULT_LR",
    "OPTIMIZERS",
    "RECIPES",
    "SCHEDULES",
    "Recipe",
    "get_recipe",
    "make_augment",
    "make_optimizer",
    "make_schedule",
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
                lr, warmup_steps=min(warmup, total - 1) or 1, total_steps=max(total, 2)
            ),
            "one_cycle": lambda lr, total, warmup: schedules.one_cycle(lr, total_steps=total),
        }
    )


_SCHEDULES = _schedule_table()
#: The optimizers by name: ``(learning rate or schedule, settings) -> Optimizer``.
_OPTIMIZERS: Mapping[str, Callable[[Any, Any], Optimizer]] = MappingProxyType(
    {
        "sgd": lambda lr, s: sgd(lr),
        "momentum": lambda lr, s: momentum(lr, s.momentum),
        "adam": lambda lr, s: adam(lr),
        "adamw": lambda lr, s: adamw(lr, weight_decay=s.weight_decay),
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
                "cosine decay, 80 epochs",
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


def make_schedule(settings: Any, steps_per_epoch: int) -> Any:
    """The learning rate as a constant or a ``step -> lr`` schedule over all ``epochs``."""
    total = max(1, settings.epochs * steps_per_epoch)
    warmup = max(1, round(settings.warmup_epochs * steps_per_epoch))
    try:
        build = _SCHEDULES[settings.schedule]
    except KeyError:
        raise ValueError(
            f"unknown schedule {settings.schedule!r}: choose one of {', '.join(SCHEDULES)}"
        ) from None
    return build(settings.lr, total, warmup)


def make_optimizer(settings: Any, steps_per_epoch: int) -> Optimizer:
    """The optimizer the settings describe, with its schedule, L2 penalty and clipping."""
    lr = make_schedule(settings, steps_per_epoch)
    try:
        opt = _OPTIMIZERS[settings.optimizer](lr, settings)
    except KeyError:
        raise ValueError(
            f"unknown optimizer {settings.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}"
        ) from None
    # Clip the raw gradient, then add the penalty's gradient, then take the step.
    before = [clip_by_global_norm(settings.clip)] if settings.clip else []
    before += [add_l2(settings.l2)] if settings.l2 else []
    return chain(*before, opt) if before else opt


def make_augment(settings: Any) -> Any:
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
