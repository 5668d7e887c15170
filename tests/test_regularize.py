import numpy as np
import pytest
from _core_util import frozen
from hypothesis import given, settings
from hypothesis import strategies as st

import mlp_functional as mf
from mlp_functional.backprop import backprop
from mlp_functional.forward import propagate
from mlp_functional.regularize import add_l2, clip_by_global_norm, dropout, dropout_mask


@given(st.floats(0.0, 0.9))
@settings(max_examples=20)
def test_dropout_keeps_the_expected_activation(rate):
    a = np.full((400, 250), 3.0, np.float32)
    out = dropout(mf.key(0), frozen(a), rate)
    assert out.dtype == np.float32
    zero_fraction = np.mean(out == 0)
    assert abs(zero_fraction - rate) < 0.01
    assert abs(out.mean() - 3.0) < 0.05 * 3.0 / max(1 - rate, 0.1)
    np.testing.assert_allclose(out[out != 0], 3.0 / (1 - rate), rtol=1e-6)


def test_dropout_is_a_pure_function_of_its_key():
    a = np.ones((5, 7), np.float32)
    assert np.array_equal(dropout(mf.key(3), a, 0.5), dropout(mf.key(3), a, 0.5))
    assert not np.array_equal(dropout(mf.key(3), a, 0.5), dropout(mf.key(4), a, 0.5))
    assert dropout(mf.key(3), a, 0.0) is a


@pytest.mark.parametrize("rate", [-0.1, 1.0, "0.5"])
def test_bad_dropout_rate_is_refused(rate):
    with pytest.raises(ValueError, match=r"dropout rate must be in \[0, 1\)"):
        dropout(mf.key(0), np.ones(3), rate)


def test_backprop_through_dropout_matches_finite_differences():
    rng = np.random.default_rng(0)
    params = mf.init(mf.key(0), [6, 8, 7, 3], activation="tanh", dtype="float64")
    x, y = rng.random((5, 6)), rng.integers(0, 3, 5)
    masks = [dropout_mask(rng, (5, w), 0.4, np.dtype(np.float64)) for w in (8, 7)]
    grads = mf.unravel(np.empty(mf.n_params(params)), params)
    backprop(params, x, y, grads, masks=masks)
    flat = mf.ravel(params)

    def masked_loss(values):
        logits = propagate(mf.unravel(values, params), x, masks=masks).logits
        return mf.cross_entropy(logits, y)

    h = 1e-5
    for i in rng.choice(flat.size, 40, replace=False):
        up, down = flat.copy(), flat.copy()
        up[i] += h
        down[i] -= h
        numeric = (masked_loss(up) - masked_loss(down)) / (2 * h)
        assert abs(numeric - mf.ravel(grads)[i]) < 1e-8 + 1e-6 * abs(numeric)


def torch_adamw(p, grads, lr, b1, b2, eps, wd):
    m, v, out = np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(grads, start=1):
        p = p * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr / (1 - b1**t) * m / (np.sqrt(v) / np.sqrt(1 - b2**t) + eps)
        out.append(p)
    return out


def trajectory(opt, params, grads):
    state, out = opt.init(params), []
    for g in grads:
        params, state = opt.update(g, state, params)
        out.append(mf.ravel(params).copy())
    return out


def random_grads(params, n, seed=0):
    rng = np.random.default_rng(seed)
    return [mf.unravel(rng.standard_normal(mf.n_params(params)), params) for _ in range(n)]


def test_adamw_follows_torch_adamw_and_equals_adam_without_decay():
    p = mf.init(mf.key(0), [4, 3, 2], dtype="float64")
    grads = random_grads(p, 12)
    ours = trajectory(mf.adamw(0.01, weight_decay=0.1), p, grads)
    ref = torch_adamw(mf.ravel(p), [mf.ravel(g) for g in grads], 0.01, 0.9, 0.999, 1e-8, 0.1)
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    no_decay = trajectory(mf.adamw(0.01, weight_decay=0.0), p, grads)
    plain = trajectory(mf.adam(0.01), p, grads)
    assert all(np.array_equal(a, b) for a, b in zip(no_decay, plain, strict=True))


def test_l2_penalty_is_sgd_on_the_penalised_gradient():
    p = mf.init(mf.key(0), [4, 3, 2], dtype="float64")
    (g,) = random_grads(p, 1)
    (after,) = trajectory(add_l2(mf.sgd(0.1), 0.5), p, [g])
    expected = mf.ravel(p) - 0.1 * (mf.ravel(g) + 0.5 * mf.ravel(p))
    np.testing.assert_allclose(after, expected, rtol=1e-14)


@given(st.floats(0.01, 10.0), st.floats(0.01, 100.0))
@settings(max_examples=30)
def test_clipping_bounds_the_norm_and_leaves_short_gradients_alone(max_norm, scale):
    p = mf.init(mf.key(0), [4, 3, 2], dtype="float64")
    (g,) = random_grads(p, 1)
    g = mf.tree_map(lambda a: a * scale, g)
    (after,) = trajectory(clip_by_global_norm(mf.sgd(1.0), max_norm), p, [g])
    step = mf.ravel(p) - after
    norm = np.linalg.norm(mf.ravel(g))
    assert np.linalg.norm(step) <= max_norm * (1 + 1e-9)
    if norm <= max_norm:
        np.testing.assert_allclose(step, mf.ravel(g), rtol=1e-12)
    else:
        np.testing.assert_allclose(step, mf.ravel(g) * max_norm / (norm + 1e-6), rtol=1e-9)


def test_wrappers_refuse_optimizers_without_a_rule_and_bad_values():
    bare = mf.sgd(0.1)._replace(rule=None)
    with pytest.raises(ValueError, match="FlatRule"):
        add_l2(bare, 0.1)
    with pytest.raises(ValueError, match="max_norm must be"):
        clip_by_global_norm(mf.sgd(0.1), 0.0)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        mf.adamw(0.1, weight_decay=-1.0)


def small_problem():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (60, 4, 4), dtype=np.uint8), rng.integers(0, 3, 60)


def test_training_with_dropout_is_deterministic_and_the_fast_loop_equals_the_plain_one():
    x, y = small_problem()
    params = mf.init(mf.key(0), [16, 12, 8, 3], dtype="float64")
    fast_state = mf.init_state(mf.key(1), params, mf.adam(0.01))
    plain_state = mf.init_state(mf.key(1), params, mf.adam(0.01)._replace(rule=None))
    a, _ = mf.train_epoch(fast_state, x, y, batch_size=16, dropout=0.3)
    again, _ = mf.train_epoch(fast_state, x, y, batch_size=16, dropout=0.3)
    b, _ = mf.train_epoch(plain_state, x, y, batch_size=16, dropout=0.3)
    none, _ = mf.train_epoch(fast_state, x, y, batch_size=16)
    assert mf.ravel(a.params).tobytes() == mf.ravel(again.params).tobytes()
    np.testing.assert_allclose(mf.ravel(a.params), mf.ravel(b.params), rtol=1e-12, atol=1e-14)
    assert not np.allclose(mf.ravel(a.params), mf.ravel(none.params))


def test_augment_hook_gets_a_key_per_batch_and_sees_features_not_labels():
    x, y = small_problem()
    params = mf.init(mf.key(0), [16, 8, 3])
    calls = []

    def identity(key, batch):
        calls.append((key, batch.shape, batch.dtype))
        return batch

    state = mf.init_state(mf.key(1), params, mf.sgd(0.1))
    hooked, _ = mf.train_epoch(state, x, y, batch_size=16, augment=identity)
    plain, _ = mf.train_epoch(state, x, y, batch_size=16)
    assert mf.ravel(hooked.params).tobytes() == mf.ravel(plain.params).tobytes()
    assert [shape for _, shape, _ in calls] == [(16, 16)] * 3 + [(12, 16)]
    assert all(dtype == np.float32 for _, _, dtype in calls)
    assert len({k for k, _, _ in calls}) == 4


def test_augmentation_changes_training_deterministically():
    x, y = small_problem()
    state = mf.init_state(mf.key(1), mf.init(mf.key(0), [16, 8, 3]), mf.sgd(0.1))

    def jitter(key, batch):
        return np.clip(batch + 0.1 * mf.generator(key).standard_normal(batch.shape), 0, 1).astype(
            batch.dtype
        )

    a, _ = mf.train_epoch(state, x, y, batch_size=16, augment=jitter)
    b, _ = mf.train_epoch(state, x, y, batch_size=16, augment=jitter)
    plain, _ = mf.train_epoch(state, x, y, batch_size=16)
    assert mf.ravel(a.params).tobytes() == mf.ravel(b.params).tobytes()
    assert mf.ravel(a.params).tobytes() != mf.ravel(plain.params).tobytes()


def test_label_smoothing_trains_differently_and_refuses_bad_values():
    x, y = small_problem()
    state = mf.init_state(mf.key(1), mf.init(mf.key(0), [16, 8, 3]), mf.sgd(0.1))
    smooth, _ = mf.train_epoch(state, x, y, batch_size=16, label_smoothing=0.1)
    plain, _ = mf.train_epoch(state, x, y, batch_size=16)
    assert mf.ravel(smooth.params).tobytes() != mf.ravel(plain.params).tobytes()
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\)"):
        mf.train_epoch(state, x, y, label_smoothing=1.0)
