import math

import numpy as np
import pytest
import toolz
from _core_util import frozen
from hypothesis import given, settings
from hypothesis import strategies as st

import mlp_functional as mf


def spirals(n_per_class=100, seed=0):
    """Two interleaved spirals: not separable by any line, a classic MLP test."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.random(n_per_class)) * 3 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    x = np.concatenate([arm, -arm]).astype(np.float32)
    y = np.repeat([0, 1], n_per_class)
    return x, y


def test_a_small_mlp_learns_two_spirals_perfectly():
    x, y = spirals()
    state = mf.init_state(mf.key(0), mf.init(mf.key(1), [2, 64, 64, 2]), mf.adam(0.01))
    final, _ = toolz.last(mf.fit(state, x, y, batch_size=32, epochs=200))
    assert mf.accuracy(final.params, x, y) == 1.0


def test_train_epoch_visits_every_example_exactly_once():
    # One-hot inputs and a single linear layer: the weight gradient's nonzero rows are
    # exactly the examples of the batch. A flat rule that records them sees the epoch.
    n, batch = 37, 8
    x = np.eye(n, dtype=np.float32)
    y = np.arange(n) % 3
    params = mf.init(mf.key(0), [n, 3])
    seen = []

    def record(p, g, slots, step, scratch):
        rows = mf.unravel(g, params).layers[0].w
        seen.extend(np.flatnonzero(np.abs(rows).sum(axis=1)).tolist())

    spy = mf.from_rule(mf.FlatRule(mf.SgdState, record, lambda step: 0.0))
    state, log = mf.train_epoch(mf.init_state(mf.key(2), params, spy), x, y, batch_size=batch)
    assert sorted(seen) == list(range(n))
    assert log.steps == math.ceil(n / batch) == state.step


def test_epochs_shuffle_differently_and_deterministically():
    n = 20
    x, y = np.eye(n, dtype=np.float32), np.arange(n) % 2
    params = mf.init(mf.key(0), [n, 2])
    orders = []

    def record(p, g, slots, step, scratch):
        rows = mf.unravel(g, params).layers[0].w
        orders.append(tuple(np.flatnonzero(np.abs(rows).sum(axis=1))))

    spy = mf.from_rule(mf.FlatRule(mf.SgdState, record, lambda step: 0.0))
    state = mf.init_state(mf.key(5), params, spy)
    for _ in mf.fit(state, x, y, batch_size=5, epochs=2):
        pass
    first, second = orders[:4], orders[4:]
    assert first != second
    orders.clear()
    for _ in mf.fit(state, x, y, batch_size=5, epochs=1):
        pass
    assert orders == first


def test_fast_loop_equals_step_by_step_pure_updates():
    x = np.random.default_rng(0).integers(0, 256, (50, 4, 4), dtype=np.uint8)
    y = np.arange(50) % 3
    params = mf.init(mf.key(0), [16, 8, 3], dtype="float64")
    for opt in (mf.sgd(0.1), mf.momentum(0.05, nesterov=True), mf.adam(0.01)):
        fast, fast_log = mf.train_epoch(mf.init_state(mf.key(1), params, opt), x, y, batch_size=16)
        plain_opt = opt._replace(rule=None)
        slow, slow_log = mf.train_epoch(
            mf.init_state(mf.key(1), params, plain_opt), x, y, batch_size=16
        )
        np.testing.assert_allclose(
            mf.ravel(fast.params), mf.ravel(slow.params), rtol=1e-12, atol=1e-14
        )
        for a, b in zip(fast.opt_state[1:], slow.opt_state[1:], strict=True):
            np.testing.assert_allclose(mf.ravel(a), mf.ravel(b), rtol=1e-12, atol=1e-14)
        assert fast.opt_state.step == slow.opt_state.step == fast.step == 4
        assert fast_log.loss == pytest.approx(slow_log.loss, rel=1e-12)
        assert fast_log.accuracy == slow_log.accuracy


def test_train_step_then_epoch_chain_matches_manual_reduce():
    x = np.random.default_rng(0).random((24, 5)).astype(np.float32)
    y = np.arange(24) % 2
    state = mf.init_state(mf.key(0), mf.init(mf.key(1), [5, 4, 2]), mf.sgd(0.1))
    manual = state
    order = mf.generator(mf.split(state.key)[1]).permutation(24)
    for idx in mf.minibatches(order, 8):
        manual = mf.train_step(manual, x[idx], y[idx])
    epoch, _ = mf.train_epoch(state, x, y, batch_size=8)
    np.testing.assert_allclose(mf.ravel(epoch.params), mf.ravel(manual.params), rtol=1e-6)
    assert epoch.step == manual.step == 3


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 100), st.integers(1, 40))
def test_train_epoch_is_pure_and_deterministic(seed, batch_size):
    rng = np.random.default_rng(seed)
    x = frozen(rng.random((30, 6)).astype(np.float32))
    y = frozen(rng.integers(0, 3, 30))
    state = mf.init_state(mf.key(seed), mf.init(mf.key(seed + 1), [6, 5, 3]), mf.adam(0.01))
    snapshot = [mf.ravel(state.params).copy(), *(mf.ravel(s).copy() for s in state.opt_state[1:])]
    a, log_a = mf.train_epoch(state, x, y, batch_size=batch_size)
    b, log_b = mf.train_epoch(state, x, y, batch_size=batch_size)
    after = [mf.ravel(state.params), *(mf.ravel(s) for s in state.opt_state[1:])]
    assert all(np.array_equal(u, v) for u, v in zip(snapshot, after, strict=True))
    assert mf.ravel(a.params).tobytes() == mf.ravel(b.params).tobytes()
    assert (log_a.loss, log_a.accuracy) == (log_b.loss, log_b.accuracy)
    assert a.key != state.key and a.key == b.key
    for tree in (a.params, *a.opt_state[1:]):
        assert all(not arr.flags.writeable for layer in tree.layers for arr in layer)
    assert a.params.dtype == np.float32


def test_uint8_images_train_exactly_like_scaled_floats():
    images = np.random.default_rng(0).integers(0, 256, (40, 3, 3), dtype=np.uint8)
    y = np.arange(40) % 2
    floats = (images.reshape(40, 9) / np.float32(255)).astype(np.float32)
    state = mf.init_state(mf.key(0), mf.init(mf.key(1), [9, 6, 2]), mf.adam(0.01))
    a, _ = mf.train_epoch(state, images, y, batch_size=16)
    b, _ = mf.train_epoch(state, floats, y, batch_size=16)
    assert mf.ravel(a.params).tobytes() == mf.ravel(b.params).tobytes()


def test_fit_is_lazy_and_resumable():
    x, y = spirals(20)
    state = mf.init_state(mf.key(0), mf.init(mf.key(1), [2, 8, 2]), mf.sgd(0.1))
    epochs = mf.fit(state, x, y, batch_size=10)
    first_state, first_log = next(epochs)
    second_state, second_log = next(epochs)
    assert (first_log.epoch, second_log.epoch) == (1, 2)
    resumed_state, _ = next(mf.fit(first_state, x, y, batch_size=10))
    assert mf.ravel(resumed_state.params).tobytes() == mf.ravel(second_state.params).tobytes()


def test_fit_reports_validation_and_learning_rate():
    x, y = spirals(30)
    state = mf.init_state(
        mf.key(0), mf.init(mf.key(1), [2, 8, 2]), mf.adam(mf.cosine(0.01, total_steps=12))
    )
    logs = [log for _, log in mf.fit(state, x, y, batch_size=20, epochs=4, validation=(x, y))]
    final_state = list(mf.fit(state, x, y, batch_size=20, epochs=4))[-1][0]
    loss, acc = mf.evaluate(final_state.params, x, y)
    assert logs[-1].val_loss == pytest.approx(loss) and logs[-1].val_accuracy == acc
    assert logs[0].learning_rate == pytest.approx(mf.cosine(0.01, total_steps=12)(2))
    assert all(log.seconds > 0 for log in logs)


def test_a_divergent_learning_rate_raises_with_the_last_good_state():
    x, y = spirals(50)
    exploding = mf.sgd(lambda step: 3.0 ** (2 * step))
    state = mf.init_state(mf.key(0), mf.init(mf.key(1), [2, 32, 2]), exploding)
    with pytest.raises(mf.DivergenceError, match="smaller learning rate") as caught:
        for _ in mf.fit(state, x, y, batch_size=2, epochs=5):
            pass
    error = caught.value
    good = error.last_good
    assert isinstance(good, mf.TrainState)
    assert 3 <= good.step == error.step - 1 < len(x) // 2  # within the first epoch
    assert np.all(np.isfinite(mf.ravel(good.params)))
    # The last good state is exactly where step-by-step training stood one step earlier.
    replay = state
    order = mf.generator(mf.split(state.key)[1]).permutation(len(x))
    for idx in list(mf.minibatches(order, 2))[: good.step]:
        replay = mf.train_step(replay, x[idx], y[idx])
    np.testing.assert_allclose(mf.ravel(good.params), mf.ravel(replay.params), rtol=1e-5)


def test_train_step_on_a_state_that_already_fails_has_no_last_good():
    params = mf.init(mf.key(1), [2, 2])
    broken = mf.unravel(np.full(mf.n_params(params), np.float32(3e38)), params)
    state = mf.init_state(mf.key(0), broken, mf.sgd(0.1))
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(mf.DivergenceError) as caught:
        mf.train_step(state, np.ones((2, 2), np.float32), np.array([0, 1]))
    assert caught.value.last_good is None and caught.value.step == 0


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_batch_size_is_refused(bad):
    state = mf.init_state(mf.key(0), mf.init(mf.key(1), [2, 2]), mf.sgd(0.1))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        mf.train_epoch(state, np.zeros((4, 2)), np.zeros(4, int), batch_size=bad)


def test_bad_epochs_is_refused():
    state = mf.init_state(mf.key(0), mf.init(mf.key(1), [2, 2]), mf.sgd(0.1))
    with pytest.raises(ValueError, match="epochs must be"):
        next(mf.fit(state, np.zeros((4, 2)), np.zeros(4, int), epochs=-1))


def test_rows_restrict_training_to_a_subset_without_copying():
    x, y = spirals(30)
    rows = np.arange(0, 60, 2)
    state = mf.init_state(mf.key(0), mf.init(mf.key(1), [2, 8, 2]), mf.sgd(0.1))
    on_rows, log = mf.train_epoch(state, x, y, batch_size=7, rows=rows)
    on_copy, copy_log = mf.train_epoch(state, x[rows], y[rows], batch_size=7)
    # Same shuffle of the same 30 examples: position k of the permutation picks rows[k].
    assert log.steps == copy_log.steps == 5
    assert mf.ravel(on_rows.params).tobytes() == mf.ravel(on_copy.params).tobytes()
    with pytest.raises(ValueError, match="rows must index the 60 examples"):
        mf.train_epoch(state, x, y, rows=np.array([0, 60]))


def test_progress_is_told_each_batch_size_and_changes_nothing():
    x, y = spirals(25)
    state = mf.init_state(mf.key(0), mf.init(mf.key(1), [2, 8, 2]), mf.adam(0.01))
    sizes = []
    told, _ = mf.train_epoch(state, x, y, batch_size=16, progress=sizes.append)
    silent, _ = mf.train_epoch(state, x, y, batch_size=16)
    assert sizes == [16, 16, 16, 2]
    assert mf.ravel(told.params).tobytes() == mf.ravel(silent.params).tobytes()
