"""Named training recipes, and the builders that turn settings into an optimizer and
an augmentation function.

A recipe is a complete set of training settings; ``mlp-functional train --recipe
NAME`` starts from it and any flag overrides a field. Every recipe was chosen on a
validation split carved from the training set; the test set is only reported
(``scripts/run_recipes.py`` reruns them and writes the README table).

>>> RECIPES["quick"].epochs
3
>>> from mlp_functional.train import learning_rate_of
>>> opt = make_optimizer(RECIPES["quick"], steps_per_epoch=430)
>>> round(learning_rate_of(opt, 0), 6) > 0
True
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

from . import schedules
from .optimizers import Optimizer, adam, adamw, add_l2, chain, clip_by_global_norm, momentum, sgd

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
]

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine", "warmup_cosine", "one_cycle")
AUGMENTATIONS = ("none", "affine", "elastic", "affine+elastic")
#: The learning rate each optimizer uses unless told otherwise.
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "adam": 1e-3, "adamw": 1e-3}


class Recipe(NamedTuple):
    """Every setting of a training run (the command line's flags have the same names)."""

    name: str = "default"
    description: str = "784-256-128-10 ReLU, Adam 1e-3, 10 epochs, batch 128"
    hidden: tuple[int, ...] = (256, 128)
    activation: str = "relu"
    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    weight_decay: float = 0.0
    l2: float = 0.0
    clip: float = 0.0
    dropout: float = 0.0
    label_smoothing: float = 0.0
    augment: str = "none"
    max_shift: float = 2.0
    max_rotation: float = 15.0
    max_scale: float = 0.1
    max_shear: float = 0.3
    alpha: float = 34.0
    sigma: float = 4.0


RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(),
        Recipe(
            name="seed",
            description="the seed notebook's model: one sigmoid hidden layer, plain SGD",
            hidden=(64,),
            activation="sigmoid",
            epochs=10,
            batch_size=64,
            optimizer="sgd",
            lr=0.1,
        ),
        Recipe(
            name="quick",
            description="784-2048-1024-10 ReLU, Adam with warm-up and cosine decay, label "
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
        Recipe(
            name="best",
            description="784-1500-1000-500-10 ReLU, rotation, scaling, shifts and elastic "
            "distortion (alpha 36, sigma 6), label smoothing 0.1, Adam with warm-up and cosine "
            "decay, 80 epochs",
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


def get_recipe(name: str) -> Recipe:
    """The recipe of that name, or an error listing the names there are."""
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(
            f"unknown recipe {name!r}: choose one of {', '.join(sorted(RECIPES))}"
        ) from None


def make_schedule(recipe: Recipe, steps_per_epoch: int) -> Any:
    """The learning rate as a constant or a ``step -> lr`` schedule over the whole run."""
    total = max(1, recipe.epochs * steps_per_epoch)
    warmup = max(1, round(recipe.warmup_epochs * steps_per_epoch))
    if recipe.schedule == "constant":
        return recipe.lr
    if recipe.schedule == "step":
        return schedules.step_decay(recipe.lr, every=max(1, total // 3), factor=0.1)
    if recipe.schedule == "cosine":
        return schedules.cosine(recipe.lr, total_steps=total)
    if recipe.schedule == "warmup_cosine":
        return schedules.warmup_cosine(
            recipe.lr, warmup_steps=min(warmup, total - 1) or 1, total_steps=max(total, 2)
        )
    if recipe.schedule == "one_cycle":
        return schedules.one_cycle(recipe.lr, total_steps=total)
    raise ValueError(f"unknown schedule {recipe.schedule!r}: choose one of {', '.join(SCHEDULES)}")


def make_optimizer(recipe: Recipe, steps_per_epoch: int) -> Optimizer:
    """The optimizer a recipe describes, with its schedule, L2 penalty and clipping."""
    lr = make_schedule(recipe, steps_per_epoch)
    if recipe.optimizer == "sgd":
        opt = sgd(lr)
    elif recipe.optimizer == "momentum":
        opt = momentum(lr, recipe.momentum)
    elif recipe.optimizer == "adam":
        opt = adam(lr)
    elif recipe.optimizer == "adamw":
        opt = adamw(lr, weight_decay=recipe.weight_decay)
    else:
        raise ValueError(
            f"unknown optimizer {recipe.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}"
        )
    # Clip the raw gradient, then add the penalty's gradient, then take the step.
    before = [clip_by_global_norm(recipe.clip)] if recipe.clip else []
    before += [add_l2(recipe.l2)] if recipe.l2 else []
    return chain(*before, opt) if before else opt


def make_augment(recipe: Recipe) -> Any:
    """``(key, batch) -> batch`` for the recipe's augmentation, or ``None``."""
    if recipe.augment == "none":
        return None
    if recipe.augment not in AUGMENTATIONS:
        raise ValueError(
            f"unknown augmentation {recipe.augment!r}: choose one of {', '.join(AUGMENTATIONS)}"
        )
    from .augment import augment

    affine_on = "affine" in recipe.augment
    elastic_on = "elastic" in recipe.augment
    return functools.partial(
        augment,
        max_shift=recipe.max_shift if affine_on else 0.0,
        max_rotation=recipe.max_rotation if affine_on else 0.0,
        scale_range=(1 - recipe.max_scale, 1 + recipe.max_scale) if affine_on else (1.0, 1.0),
        max_shear=recipe.max_shear if affine_on else 0.0,
        alpha=recipe.alpha if elastic_on else 0.0,
        sigma=recipe.sigma,
    )


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    """``ceil(n / batch_size)``: the last batch may be short."""
    return math.ceil(n_examples / batch_size)
