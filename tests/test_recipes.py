import numpy as np
import pytest

import mlp_functional as mf
from mlp_functional import fast
from mlp_functional.runs import recipes
from mlp_functional.runs.recipes import OPTIMIZERS, RECIPES, build, get_recipe
from mlp_functional.runs.settings import Settings, recipe_settings


def make_optimizer(settings, steps_per_epoch):
    return build(settings, steps_per_epoch).optimizer


def make_augment(settings):
    return build(settings, steps_per_epoch=1).regimen.augment


def updates(opt, steps=3, seed=0):
    """The first ``steps`` updates ``opt`` makes from fixed params and gradients, flattened."""
    params = mf.init(mf.key(seed), [3, 2], dtype="float64")
    grads = [mf.init(mf.key(seed + 1 + i), [3, 2], dtype="float64") for i in range(steps)]
    state, out = opt.init(params), []
    for g in grads:
        update, state = opt.update(g, state, params)
        params = mf.apply_updates(params, update)
        out.append(mf.ravel(update))
    return out


def the_same_steps(a, b):
    for x, y in zip(updates(a), updates(b), strict=True):
        np.testing.assert_array_equal(x, y)


def test_every_recipe_builds_its_optimizer_and_augmentation_for_the_fast_engine():
    params = mf.init(mf.key(0), [4, 3])
    for recipe in map(recipe_settings, RECIPES):
        opt, regimen = build(recipe, steps_per_epoch=10)
        assert fast.supports(mf.init_state(mf.key(1), params, opt))  # auto runs it fast
        assert (regimen.augment is None) == (recipe.augment == "none")
        assert regimen.batch_size == recipe.batch_size
        assert (regimen.dropout, regimen.label_smoothing) == (
            recipe.dropout,
            recipe.label_smoothing,
        )


BASE = {
    "sgd": lambda lr: mf.sgd(lr),
    "momentum": lambda lr: mf.momentum(lr, 0.9),
    "adam": lambda lr: mf.adam(lr),
    "adamw": lambda lr: mf.adamw(lr, weight_decay=0.0),
}


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_the_optimizer_is_a_chain_of_clipping_l2_and_the_base_optimizer(optimizer):
    recipe = Settings(optimizer=optimizer, lr=0.01, clip=1.0, l2=1e-4)
    opt = make_optimizer(recipe, steps_per_epoch=10)
    expected = mf.chain(mf.clip_by_global_norm(1.0), mf.add_l2(1e-4), BASE[optimizer](0.01))
    the_same_steps(opt, expected)
    assert fast.supports(mf.init_state(mf.key(1), mf.init(mf.key(0), [4, 3]), opt))


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_max_norm_ends_the_chain_after_the_base_optimizer(optimizer):
    recipe = Settings(optimizer=optimizer, lr=0.01, l2=1e-4, max_norm=0.5)
    opt = make_optimizer(recipe, steps_per_epoch=10)
    expected = mf.chain(mf.add_l2(1e-4), BASE[optimizer](0.01), mf.max_norm(0.5))
    the_same_steps(opt, expected)
    unconstrained = make_optimizer(recipe._replace(max_norm=None), steps_per_epoch=10)
    assert not np.array_equal(updates(opt)[0], updates(unconstrained)[0])  # it projects here
    assert fast.supports(mf.init_state(mf.key(1), mf.init(mf.key(0), [4, 3]), opt))


@pytest.mark.parametrize(
    ("changes", "direct"),
    [
        ({"optimizer": "momentum", "momentum": 0.5, "nesterov": True}, mf.momentum(0.1, 0.5, True)),
        ({"optimizer": "adam", "b1": 0.8, "b2": 0.99, "eps": 1e-3}, mf.adam(0.1, 0.8, 0.99, 1e-3)),
        (
            {"optimizer": "adamw", "b1": 0.5, "b2": 0.9, "eps": 1e-4, "weight_decay": 0.3},
            mf.adamw(0.1, 0.5, 0.9, 1e-4, weight_decay=0.3),
        ),
    ],
)
def test_the_optimizers_constants_reach_the_optimizer(changes, direct):
    the_same_steps(make_optimizer(Settings(lr=0.1, **changes), steps_per_epoch=5), direct)


def lr_at(opt, step):
    """The learning rate ``opt`` (plain SGD) applies at ``step``: its update for a gradient
    of ones after ``step`` earlier updates."""
    params = mf.init(mf.key(0), [1, 1], dtype="float64")
    ones = mf.tree_map(np.ones_like, params)
    state = opt.init(params)
    for _ in range(step + 1):
        update, state = opt.update(ones, state, params)
    return -float(mf.ravel(update)[0])


def test_warmup_cosine_recipe_spans_the_whole_run():
    recipe = Settings(
        optimizer="sgd", epochs=3, lr=0.01, schedule="warmup_cosine", warmup_epochs=1.0
    )
    opt = make_optimizer(recipe, steps_per_epoch=10)
    assert lr_at(opt, 9) == pytest.approx(0.01)
    assert lr_at(opt, 0) == pytest.approx(0.001)
    assert lr_at(opt, 30) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("epochs", "steps_per_epoch", "warmup_epochs", "warmup_steps", "total_steps"),
    [
        (3, 10, 1.0, 10, 30),  # whole epochs of steps
        (3, 10, 0.25, 2, 30),  # 2.5 steps round to the even 2 (Python's round)
        (3, 10, 0.35, 4, 30),
        (3, 10, 0.0, 1, 30),  # at least one step
        (1, 4, 5.0, 3, 4),  # fewer than all the steps
        (1, 1, 1.0, 1, 2),  # a schedule spans two steps at the least
    ],
)
def test_one_warmup_rule_turns_epochs_into_steps(
    epochs, steps_per_epoch, warmup_epochs, warmup_steps, total_steps
):
    recipe = Settings(
        optimizer="sgd",
        lr=1.0,
        epochs=epochs,
        schedule="warmup_cosine",
        warmup_epochs=warmup_epochs,
    )
    opt = make_optimizer(recipe, steps_per_epoch)
    expected = mf.warmup_cosine(1.0, warmup_steps=warmup_steps, total_steps=total_steps)
    for step in range(total_steps + 2):
        assert lr_at(opt, step) == expected(step)


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
    with pytest.raises(
        ValueError, match="choose one of best, best-noaug, default, fashion-best, quick, seed"
    ):
        get_recipe("fast")
    with pytest.raises(ValueError, match="unknown augmentation 'blur'"):
        make_augment(Settings(augment="blur"))


def test_steps_per_epoch_counts_the_short_last_batch():
    assert recipes.steps_per_epoch(55000, 128) == 430


def test_a_recipe_carries_its_dataset_and_a_flag_or_your_own_data_replace_it():
    from mlp_functional.cli.train import build_parser_for_tests
    from mlp_functional.cli.train import resolve as resolve_flags
    from mlp_functional.runs.settings import resolve

    parse = build_parser_for_tests().parse_args
    assert resolve_flags(parse(["--recipe", "fashion-best"])).dataset == "fashion-mnist"
    assert resolve_flags(parse(["--recipe", "best-noaug"])).dataset == "mnist"
    assert resolve({"recipe": "fashion-best", "dataset": "mnist"}).dataset == "mnist"
    own = resolve({"recipe": "fashion-best", "data": "table.csv"})
    assert own.dataset is None and own.data == "table.csv"
