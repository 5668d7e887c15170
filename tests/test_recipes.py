import numpy as np
import pytest

import mlp_functional as mf
from mlp_functional import fast
from mlp_functional.engine.epochs import learning_rate_of
from mlp_functional.runs import recipes
from mlp_functional.runs.recipes import (
    OPTIMIZERS,
    RECIPES,
    get_recipe,
    make_augment,
    make_optimizer,
)
from mlp_functional.runs.settings import Settings, recipe_settings


def described(opt: mf.Optimizer) -> tuple:
    """What an optimizer is, as data: the factory that built it and its arguments."""
    hyper = tuple(
        (k, tuple(map(described, v)) if k == "parts" else v) for k, v in opt.hyper.items()
    )
    return (opt.rule.__name__, hyper)


def test_every_recipe_builds_its_optimizer_and_augmentation_for_the_fast_engine():
    params = mf.init(mf.key(0), [4, 3])
    for recipe in map(recipe_settings, RECIPES):
        opt = make_optimizer(recipe, steps_per_epoch=10)
        assert opt.rule is not None
        assert fast.supports(mf.init_state(mf.key(1), params, opt))  # auto runs it fast
        augment = make_augment(recipe)
        assert (augment is None) == (recipe.augment == "none")


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_the_optimizer_is_a_chain_of_clipping_l2_and_the_base_optimizer(optimizer):
    recipe = Settings(optimizer=optimizer, clip=1.0, l2=1e-4)
    opt = make_optimizer(recipe, steps_per_epoch=10)
    assert opt.rule.__name__ == "chain"
    clip, l2, base = opt.hyper["parts"]
    assert (clip.rule.__name__, clip.hyper["max_norm"]) == ("clip_by_global_norm", 1.0)
    assert (l2.rule.__name__, l2.hyper["rate"]) == ("add_l2", 1e-4)
    plain = make_optimizer(recipe._replace(clip=0.0, l2=0.0), steps_per_epoch=10)
    assert described(base) == described(plain)
    assert fast.supports(mf.init_state(mf.key(1), mf.init(mf.key(0), [4, 3]), opt))


def test_warmup_cosine_recipe_spans_the_whole_run():
    recipe = Settings(epochs=3, lr=0.01, schedule="warmup_cosine", warmup_epochs=1.0)
    opt = make_optimizer(recipe, steps_per_epoch=10)
    assert learning_rate_of(opt, 9) == pytest.approx(0.01)
    assert learning_rate_of(opt, 0) == pytest.approx(0.001)
    assert learning_rate_of(opt, 30) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("changes", "expected_step"),
    [
        ({"optimizer": "sgd"}, lambda p, g: p - 0.1 * g),
        ({"optimizer": "sgd", "l2": 0.5}, lambda p, g: p - 0.1 * (g + 0.5 * p)),
        ({"optimizer": "adamw", "weight_decay": 0.2}, None),
    ],
)
def test_optimizer_settings_are_honoured(changes, expected_step):
    recipe = Settings(lr=0.1, **changes)
    params = mf.init(mf.key(0), [3, 2], dtype="float64")
    grads = mf.tree_map(lambda a: a * 0 + 1.0, params)
    opt = make_optimizer(recipe, steps_per_epoch=5)
    updates, _ = opt.update(grads, opt.init(params), params)
    new = mf.apply_updates(params, updates)
    if expected_step is not None:
        np.testing.assert_allclose(
            mf.ravel(new), expected_step(mf.ravel(params), mf.ravel(grads)), rtol=1e-12
        )
    else:
        reference = mf.adamw(0.1, weight_decay=0.2)
        expected, _ = reference.update(grads, reference.init(params), params)
        np.testing.assert_array_equal(mf.ravel(updates), mf.ravel(expected))


def test_clip_comes_first_so_the_step_has_the_clipped_norm():
    params = mf.init(mf.key(0), [3, 2], dtype="float64")
    huge = mf.tree_map(lambda a: a * 0 + 1e6, params)
    opt = make_optimizer(Settings(clip=1.0, optimizer="sgd", lr=1.0), steps_per_epoch=5)
    updates, _ = opt.update(huge, opt.init(params), params)
    new = mf.apply_updates(params, updates)
    assert np.linalg.norm(mf.ravel(params) - mf.ravel(new)) == pytest.approx(1.0, rel=1e-6)


def test_augmentation_kinds_turn_their_parts_on_and_off():
    x = np.random.default_rng(0).random((4, 784), dtype=np.float32)
    affine_only = make_augment(Settings(augment="affine"))
    elastic_only = make_augment(Settings(augment="elastic"))
    assert affine_only.keywords["alpha"] == 0.0
    assert elastic_only.keywords["max_shift"] == 0.0
    out = affine_only(mf.key(0), x)
    assert out.shape == x.shape and out.dtype == np.float32


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'"),
        ({"schedule": "exp"}, "unknown schedule 'exp'"),
    ],
)
def test_unknown_settings_name_the_choices(changes, message):
    with pytest.raises(ValueError, match=message):
        make_optimizer(Settings(**changes), steps_per_epoch=5)


def test_unknown_recipe_and_augmentation_name_the_choices():
    with pytest.raises(ValueError, match="choose one of best, default, quick, seed"):
        get_recipe("fast")
    with pytest.raises(ValueError, match="unknown augmentation 'blur'"):
        make_augment(Settings(augment="blur"))


def test_steps_per_epoch_counts_the_short_last_batch():
    assert recipes.steps_per_epoch(55000, 128) == 430
