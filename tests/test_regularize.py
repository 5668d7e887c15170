"""Dropout, its masks and gradients, and the regularisers' effect on training, on both engines.

(The L2 penalty, weight decay and clipping are optimizer transformations now: their
formulas are tested in ``test_optimizers.py``.)
"""

import numpy as np
import pytest
from _core_util import frozen
from hypothesis import given, settings
from hypothesis import strategies as st

import mlp_functional as mf
from mlp_functional.engine.api import dropout
from mlp_functional.engine.boundary import public
from mlp_functional.fast import kernels
from mlp_functional.fast.state import buffer_views
from mlp_functional.textbook import train
from mlp_functional.textbook.backward import trace_loss_and_grad
from mlp_functional.textbook.forward import propagate
from mlp_functional.textbook.random import generator

# The masks as a user of the textbook's function receives them through the public boundary.
dropout_masks = public(train.dropout_masks)

ENGINES = pytest.mark.parametrize("engine", ["textbook", "fast"])


@given(st.floats(0.0, 0.9))
@settings(max_examples=20)
def test_dropout_keeps_the_expected_activation(rate):
    a = np.full((400, 250), 3.0, np.float32)
    out = dropout(mf.key(0), frozen(a), rate)
    assert out.dtype == np.float32 and out.shape == a.shape
    zero_fraction = np.mean(out == 0)
    assert abs(zero_fraction - rate) < 0.01
    assert abs(out.mean() - 3.0) < 0.05 * 3.0 / max(1 - rate, 0.1)
    np.testing.assert_allclose(out[out != 0], 3.0 / (1 - rate), rtol=1e-6)


def test_dropout_is_a_pure_function_of_its_key():
    a = frozen(np.ones((5, 7), np.float32))
    assert np.array_equal(dropout(mf.key(3), a, 0.5), dropout(mf.key(3), a, 0.5))
    assert not np.array_equal(dropout(mf.key(3), a, 0.5), dropout(mf.key(4), a, 0.5))
    assert not dropout(mf.key(3), a, 0.5).flags.writeable


def test_dropout_at_rate_zero_is_a_fresh_read_only_copy_never_its_input():
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    out = dropout(mf.key(3), a, 0.0)
    assert out is not a and not np.shares_memory(out, a)
    assert np.array_equal(out, a) and out.dtype == a.dtype
    assert not out.flags.writeable
    a[0, 0] = 99.0  # the caller's array stays the caller's
    assert out[0, 0] == 0.0


@pytest.mark.parametrize("shape", [(7,), (3, 4, 5), (1, 1)])
def test_dropout_keeps_any_shape_and_dtype(shape):
    a = frozen(np.full(shape, 2.0, np.float64))
    out = dropout(mf.key(0), a, 0.5)
    assert out.shape == shape and out.dtype == np.float64
    assert set(np.unique(out).tolist()) <= {0.0, 4.0}


@pytest.mark.parametrize("rate", [-0.1, 1.0, "0.5"])
def test_bad_dropout_rate_is_refused(rate):
    with pytest.raises(ValueError, match=r"dropout rate must be in \[0, 1\), got rate="):
        dropout(mf.key(0), np.ones(3), rate)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_masks_one_per_hidden_layer_drawn_from_the_key(dtype):
    masks = dropout_masks(mf.key(1), 50, [30, 20], 0.25, dtype)
    assert [m.shape for m in masks] == [(50, 30), (50, 20)]
    assert all(m.dtype == dtype and not m.flags.writeable for m in masks)
    assert all(set(np.unique(m).tolist()) <= {0.0, dtype(1 / 0.75)} for m in masks)
    again = dropout_masks(mf.key(1), 50, [30, 20], 0.25, dtype)
    assert all(np.array_equal(a, b) for a, b in zip(masks, again, strict=True))
    other = dropout_masks(mf.key(2), 50, [30, 20], 0.25, dtype)
    assert not np.array_equal(masks[0], other[0])
    # The first layer's mask does not depend on the layers after it: layer order.
    (first,) = dropout_masks(mf.key(1), 50, [30], 0.25, dtype)
    assert np.array_equal(first, masks[0])
    assert all((m == 1).all() for m in dropout_masks(mf.key(1), 4, [3], 0.0, dtype))


def dropped_out_problem():
    rng = np.random.default_rng(0)
    params = mf.init(mf.key(0), [6, 8, 7, 3], activation="tanh", dtype="float64")
    x, y = rng.random((5, 6)), rng.integers(0, 3, 5)
    masks = dropout_masks(mf.key(5), 5, [8, 7], 0.4, np.float64)
    assert any((m == 0).any() for m in masks)
    return params, x, y, masks


def textbook_dropout_grads(params, x, y, masks):
    _, _, grads = trace_loss_and_grad(params, x, y, masks)
    return mf.ravel(grads)


def fast_dropout_grads(params, x, y, masks):
    flat = np.empty(mf.n_params(params))
    kernels.backprop(
        params, x, y, buffer_views(flat, params), kernels.workspace(params, len(x)), masks
    )
    return flat


@pytest.mark.parametrize(
    "gradients", [textbook_dropout_grads, fast_dropout_grads], ids=["textbook", "fast"]
)
def test_backprop_through_dropout_matches_finite_differences(gradients):
    params, x, y, masks = dropped_out_problem()
    grads = gradients(params, x, y, masks)
    flat = mf.ravel(params)

    def masked_loss(values):
        logits = propagate(mf.unravel(values, params), x, masks).logits
        return mf.cross_entropy(logits, y)

    rng = np.random.default_rng(1)
    h = 1e-5
    for i in rng.choice(flat.size, 40, replace=False):
        up, down = flat.copy(), flat.copy()
        up[i] += h
        down[i] -= h
        numeric = (masked_loss(up) - masked_loss(down)) / (2 * h)
        assert abs(numeric - grads[i]) < 1e-8 + 1e-6 * abs(numeric)


def test_both_engines_give_the_same_gradient_through_the_same_masks():
    params, x, y, masks = dropped_out_problem()
    textbook = textbook_dropout_grads(params, x, y, masks)
    np.testing.assert_allclose(
        fast_dropout_grads(params, x, y, masks), textbook, rtol=1e-12, atol=1e-15
    )
    unmasked = textbook_dropout_grads(params, x, y, None)
    assert not np.allclose(textbook, unmasked)


def small_problem():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (60, 4, 4), dtype=np.uint8), rng.integers(0, 3, 60)


def test_training_with_dropout_is_deterministic_and_the_fast_engine_equals_the_textbook():
    x, y = small_problem()
    params = mf.init(mf.key(0), [16, 12, 8, 3], dtype="float64")
    state = mf.init_state(mf.key(1), params, mf.adam(0.01))
    a, _ = mf.train_epoch(state, x, y, batch_size=16, dropout=0.3, engine="fast")
    again, _ = mf.train_epoch(state, x, y, batch_size=16, dropout=0.3, engine="fast")
    b, _ = mf.train_epoch(state, x, y, batch_size=16, dropout=0.3, engine="textbook")
    b_again, _ = mf.train_epoch(state, x, y, batch_size=16, dropout=0.3, engine="textbook")
    none, _ = mf.train_epoch(state, x, y, batch_size=16, engine="fast")
    assert mf.ravel(a.params).tobytes() == mf.ravel(again.params).tobytes()
    assert mf.ravel(b.params).tobytes() == mf.ravel(b_again.params).tobytes()
    np.testing.assert_allclose(mf.ravel(a.params), mf.ravel(b.params), rtol=1e-12, atol=1e-14)
    assert not np.allclose(mf.ravel(a.params), mf.ravel(none.params))


@ENGINES
def test_augment_hook_gets_a_key_per_batch_and_sees_features_not_labels(engine):
    x, y = small_problem()
    params = mf.init(mf.key(0), [16, 8, 3])
    calls = []

    def identity(key, batch):
        calls.append((key, batch.shape, batch.dtype))
        return batch

    state = mf.init_state(mf.key(1), params, mf.sgd(0.1))
    hooked, _ = mf.train_epoch(state, x, y, batch_size=16, augment=identity, engine=engine)
    plain, _ = mf.train_epoch(state, x, y, batch_size=16, engine=engine)
    assert mf.ravel(hooked.params).tobytes() == mf.ravel(plain.params).tobytes()
    assert [shape for _, shape, _ in calls] == [(16, 16)] * 3 + [(12, 16)]
    assert all(dtype == np.float32 for _, _, dtype in calls)
    assert len({k for k, _, _ in calls}) == 4


def test_both_engines_hand_the_augmentation_the_same_keys():
    x, y = small_problem()
    state = mf.init_state(mf.key(1), mf.init(mf.key(0), [16, 8, 3]), mf.sgd(0.1))
    seen = {"textbook": [], "fast": []}
    for engine, keys in seen.items():
        mf.train_epoch(
            state,
            x,
            y,
            batch_size=16,
            engine=engine,
            augment=lambda k, b, keys=keys: keys.append(k) or b,
        )
    assert seen["textbook"] == seen["fast"] and len(seen["fast"]) == 4


@ENGINES
def test_augmentation_changes_training_deterministically(engine):
    x, y = small_problem()
    state = mf.init_state(mf.key(1), mf.init(mf.key(0), [16, 8, 3]), mf.sgd(0.1))

    def jitter(key, batch):
        return np.clip(batch + 0.1 * mf.generator(key).standard_normal(batch.shape), 0, 1).astype(
            batch.dtype
        )

    a, _ = mf.train_epoch(state, x, y, batch_size=16, augment=jitter, engine=engine)
    b, _ = mf.train_epoch(state, x, y, batch_size=16, augment=jitter, engine=engine)
    plain, _ = mf.train_epoch(state, x, y, batch_size=16, engine=engine)
    assert mf.ravel(a.params).tobytes() == mf.ravel(b.params).tobytes()
    assert mf.ravel(a.params).tobytes() != mf.ravel(plain.params).tobytes()


@ENGINES
def test_label_smoothing_trains_differently_and_refuses_bad_values(engine):
    x, y = small_problem()
    state = mf.init_state(mf.key(1), mf.init(mf.key(0), [16, 8, 3]), mf.sgd(0.1))
    smooth, _ = mf.train_epoch(state, x, y, batch_size=16, label_smoothing=0.1, engine=engine)
    plain, _ = mf.train_epoch(state, x, y, batch_size=16, engine=engine)
    assert mf.ravel(smooth.params).tobytes() != mf.ravel(plain.params).tobytes()
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\)"):
        mf.train_epoch(state, x, y, label_smoothing=1.0, engine=engine)


def batches_of(x, y, key, dtype, **settings):
    """One epoch's batches as the textbook engine trains on them, under ``settings``."""
    from mlp_functional.engine.epochs import epoch_keys, regimen

    plan = regimen(len(x), **settings)
    return list(mf.minibatches(x, y, epoch_keys(key), plan, dtype))


@ENGINES
def test_input_dropout_at_rate_zero_is_training_without_it(engine):
    x, y = small_problem()
    params = mf.init(mf.key(0), [16, 12, 8, 3], dtype="float64")
    state = mf.init_state(mf.key(1), params, mf.adam(0.01))
    for hidden in (0.0, 0.3):
        plain, log = mf.train_epoch(state, x, y, batch_size=16, dropout=hidden, engine=engine)
        zero, zero_log = mf.train_epoch(
            state, x, y, batch_size=16, dropout=hidden, input_dropout=0.0, engine=engine
        )
        assert mf.ravel(zero.params).tobytes() == mf.ravel(plain.params).tobytes()
        assert zero.key == plain.key and zero_log.loss == log.loss
    dropped, _ = mf.train_epoch(state, x, y, batch_size=16, input_dropout=0.2, engine=engine)
    assert not np.allclose(mf.ravel(dropped.params), mf.ravel(plain.params))


def test_the_input_rate_leaves_the_hidden_masks_and_the_batches_as_they_were():
    x, y = small_problem()
    plain = batches_of(x, y, mf.key(4), np.float32, batch_size=16, dropout=0.3)
    for rate in (0.0, 0.4):
        batches = batches_of(
            x, y, mf.key(4), np.float32, batch_size=16, dropout=0.3, input_dropout=rate
        )
        assert [b.dropout_key for b in batches] == [b.dropout_key for b in plain]
        assert [b.y.tolist() for b in batches] == [b.y.tolist() for b in plain]
        same = [b.x.tobytes() == p.x.tobytes() for b, p in zip(batches, plain, strict=True)]
        assert all(same) if rate == 0 else not any(same)
    # Input dropout alone keys each batch as hidden dropout would: one key per batch.
    alone = batches_of(x, y, mf.key(4), np.float32, batch_size=16, input_dropout=0.4)
    assert [b.dropout_key for b in alone] == [b.dropout_key for b in plain]


@pytest.mark.parametrize("rate", [0.1, 0.2, 0.5, 0.8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_dropout_zeroes_about_its_rate_and_scales_the_kept_features(rate, dtype):
    rng = np.random.default_rng(2)
    x, y = 0.5 + rng.random((1000, 40)) / 2, rng.integers(0, 3, 1000)  # no feature is 0
    raw = batches_of(x, y, mf.key(6), dtype, batch_size=64)
    dropped = batches_of(x, y, mf.key(6), dtype, batch_size=64, input_dropout=rate)
    kept = np.concatenate([b.x.ravel() != 0 for b in dropped])
    # 40 000 independent draws: the zeroed fraction is within 5 standard deviations.
    assert abs((1 - kept.mean()) - rate) < 5 * np.sqrt(rate * (1 - rate) / kept.size)
    before = np.concatenate([b.x.ravel() for b in raw])
    after = np.concatenate([b.x.ravel() for b in dropped])
    assert after.dtype == dtype
    np.testing.assert_array_equal(after[kept], before[kept] * dtype(1 / (1 - rate)))
    assert x.flags.writeable and (x >= 0.5).all()  # the caller's array is as it was


@ENGINES
def test_a_step_with_input_dropout_descends_the_loss_of_the_masked_input(engine):
    """One full-batch step of SGD at rate 1 moves the parameters by minus the gradient;
    it matches finite differences of the loss on ``x * r_0``, with ``r_0`` drawn here as
    :func:`~mlp_functional.textbook.train.input_mask` documents and the hidden masks from
    the batch's dropout key itself."""
    rng = np.random.default_rng(0)
    params = mf.init(mf.key(0), [6, 8, 7, 3], activation="tanh", dtype="float64")
    x, y = rng.random((5, 6)), rng.integers(0, 3, 5)
    rates = {"input_dropout": 0.4, "dropout": 0.3}
    state = mf.init_state(mf.key(1), params, mf.sgd(1.0))
    stepped, _ = mf.train_epoch(state, x, y, batch_size=5, engine=engine, **rates)
    grads = mf.ravel(params) - mf.ravel(stepped.params)
    (batch,) = batches_of(x, y, mf.key(1), np.float64, batch_size=5, dropout=0.3)
    # r_0 as the docstring has it: the first key split from the batch's dropout key draws
    # uniforms, each kept when >= the rate and scaled by 1 / (1 - rate).
    uniforms = generator(mf.split(batch.dropout_key, 1)[0]).random((5, 6), dtype=np.float32)
    r0 = (uniforms >= 0.4) / 0.6
    masks = train.dropout_masks(batch.dropout_key, 5, [8, 7], 0.3, np.float64)
    assert (r0 == 0).any() and (r0 != 0).any()
    masked = batch.x * r0

    def masked_loss(values):
        return mf.cross_entropy(
            propagate(mf.unravel(values, params), masked, masks).logits, batch.y
        )

    flat, h = mf.ravel(params), 1e-5
    for i in range(flat.size):
        up, down = flat.copy(), flat.copy()
        up[i] += h
        down[i] -= h
        numeric = (masked_loss(up) - masked_loss(down)) / (2 * h)
        assert abs(numeric - grads[i]) < 1e-8 + 1e-6 * abs(numeric)


@pytest.mark.parametrize("rate", [-0.1, 1.0, "0.2"])
def test_a_bad_input_dropout_rate_is_refused_by_name(rate):
    x, y = small_problem()
    state = mf.init_state(mf.key(1), mf.init(mf.key(0), [16, 3]), mf.sgd(0.1))
    with pytest.raises(ValueError, match=r"dropout rate must be in \[0, 1\), got input_dropout="):
        mf.train_epoch(state, x, y, input_dropout=rate)
