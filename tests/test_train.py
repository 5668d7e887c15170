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


ENGINES = ("fast", "textbook")


def recording_sgd(params: mf.Params, seen: list) -> mf.Optimizer:
    """SGD at rate 0 written by hand (so it runs on the textbook engine) that records
    which examples each step's gradient came from: with one-hot inputs and a single
    linear layer, the weight gradient's nonzero rows are exactly the batch's examples."""
    inner = mf.sgd(0.0)

    def update(grads, state, p):
        seen.append(tuple(np.flatnonzero(np.abs(grads.layers[0].w).sum(axis=1))))
        return inner.update(grads, state, p)

    return mf.Optimizer(inner.init, update)


def test_train_epoch_visits_every_example_exactly_once():
    n, batch = 37, 8
    x = np.eye(n, dtype=np.float32)
    y = np.arange(n) % 3
    params = mf.init(mf.key(0), [n, 3])
    seen: list = []
    state = mf.init_state(mf.key(2), params, recording_sgd(params, seen))
    state, log = mf.train_epoch(state, x, y, batch_size=batch)
    assert sorted(i for batch_rows in seen for i in batch_rows) == list(range(n))
    assert log.steps == math.ceil(n / batch) == state.step


def test_epochs_shuffle_differently_and_deterministically():
    n = 20
    x, y = np.eye(n, dtype=np.float32), np.arange(n) % 2
    params = mf.init(mf.key(0), [n, 2])
    orders: list = []
    state = mf.init_state(mf.key(5), params, recording_sgd(params, orders))
    for _ in mf.fit(state, x, y, batch_size=5, epochs=2):
        pass
    first, second = orders[:4], orders[4:]
    assert first != second
    orders.clear()
    for _ in mf.fit(state, x, y, batch_size=5, epochs=1):
        pass
    assert orders == first


def test_a_users_optimizer_without_a_count_still_trains_and_counts_steps():
    x, y = spirals(20)
    plain = mf.Optimizer(lambda p: (), lambda g, s, p: (mf.tree_map(lambda a: -0.1 * a, g), s))
    state = mf.init_state(mf.key(0), mf.init(mf.key(1), [2, 8, 2]), plain)
    assert mf.engine.table.resolve_engine("auto", state) == "textbook"
    trained, log = mf.train_epoch(state, x, y, batch_size=10)
    assert trained.step == log.steps == 4
    assert not np.array_equal(mf.ravel(trained.params), mf.ravel(state.params))


def test_train_epoch_is_a_reduce_of_train_step_over_the_minibatches():
    x = np.random.default_rng(0).random((24, 5)).astype(np.float32)
    y = np.arange(24) % 2
    state = mf.init_state(mf.key(0), mf.init(mf.key(1), [5, 4, 2]), mf.sgd(0.1))
    keys = mf.engine.epochs.epoch_keys(state.key)
    plan = mf.engine.epochs.Regimen(batch_size=8)
    manual = state._replace(key=keys.next)
    for batch in mf.minibatches(x, y, keys, plan, np.float32):
        manual = mf.train_step(manual, batch)
    epoch, _ = mf.train_epoch(state, x, y, batch_size=8, engine="textbook")
    assert mf.ravel(epoch.params).tobytes() == mf.ravel(manual.params).tobytes()
    assert epoch.step == manual.step == 3 and epoch.key == manual.key


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 100), st.integers(1, 40), st.sampled_from(ENGINES))
def test_train_epoch_is_pure_and_deterministic(seed, batch_size, engine):
    rng = np.random.default_rng(seed)
    x = frozen(rng.random((30, 6)).astype(np.float32))
    y = frozen(rng.integers(0, 3, 30))
    state = mf.init_state(mf.key(seed), mf.init(mf.key(seed + 1), [6, 5, 3]), mf.adam(0.01))
    adam_state = state.opt_state[0]
    snapshot = [mf.ravel(t).copy() for t in (state.params, adam_state.mu, adam_state.nu)]
    a, log_a = mf.train_epoch(state, x, y, batch_size=batch_size, engine=engine)
    b, log_b = mf.train_epoch(state, x, y, batch_size=batch_size, engine=engine)
    after = [mf.ravel(t) for t in (state.params, adam_state.mu, adam_state.nu)]
    assert all(np.array_equal(u, v) for u, v in zip(snapshot, after, strict=True))
    assert mf.ravel(a.params).tobytes() == mf.ravel(b.params).tobytes()
    assert (log_a.loss, log_a.accuracy) == (log_b.loss, log_b.accuracy)
    assert a.key != state.key and a.key == b.key
    for tree in (a.params, a.opt_state[0].mu, a.opt_state[0].nu):
        assert all(not arr.flags.writeable for layer in tree.layers for arr in layer)
    assert a.params.dtype == np.float32


@pytest.mark.parametrize("engine", ENGINES)
def test_uint8_images_train_exactly_like_scaled_floats(engine):
    images = np.random.default_rng(0).integers(0, 256, (40, 3, 3), dtype=np.uint8)
    y = np.arange(40) % 2
    floats = (images.reshape(40, 9) / np.float32(255)).astype(np.float32)
    state = mf.init_state(mf.key(0), mf.init(mf.key(1), [9, 6, 2]), mf.adam(0.01))
    a, _ = mf.train_epoch(state, images, y, batch_size=16, engine=engine)
    b, _ = mf.train_epoch(state, floats, y, batch_size=16, engine=engine)
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


@pytest.mark.parametrize("engine", ENGINES)
def test_a_divergent_learning_rate_raises_with_the_last_good_state(engine):
    x, y = spirals(50)

    def exploding_rate(step: int) -> float:  # 10**(8 step): infinite from step 39 on
        with np.errstate(over="ignore"):
            return float(np.float64(10.0) ** (8 * step))

    exploding = mf.sgd(exploding_rate)
    params = mf.init(mf.key(1), [2, 32, 2], dtype="float64")  # engines agree to 1e-12 there
    state = mf.init_state(mf.key(0), params, exploding)
    with pytest.raises(mf.DivergenceError, match="smaller learning rate") as caught:
        for _ in mf.fit(state, x, y, batch_size=2, epochs=5, engine=engine):
            pass
    error = caught.value
    good = error.last_good
    assert isinstance(good, mf.TrainState)
    assert 3 <= good.step == error.step - 1 < len(x) // 2  # within the first epoch
    assert np.all(np.isfinite(mf.ravel(good.params)))
    # The last good state is exactly where step-by-step training stood one step earlier.
    keys, plan = mf.engine.epochs.epoch_keys(state.key), mf.engine.epochs.Regimen(2)
    replay = state
    for batch in list(mf.minibatches(x, y, keys, plan, np.float64))[: good.step]:
        replay = mf.train_step(replay, batch)
    np.testing.assert_allclose(mf.ravel(good.params), mf.ravel(replay.params), rtol=1e-9)


def test_train_step_on_a_state_that_already_fails_has_no_last_good():
    params = mf.init(mf.key(1), [2, 2])
    broken = mf.unravel(np.full(mf.n_params(params), np.float32(3e38)), params)
    state = mf.init_state(mf.key(0), broken, mf.sgd(0.1))
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(mf.DivergenceError) as caught:
        mf.train_step(state, mf.Batch(np.ones((2, 2), np.float32), np.array([0, 1])))
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


@pytest.mark.parametrize("engine", ENGINES)
def test_rows_restrict_training_to_a_subset_without_copying(engine):
    x, y = spirals(30)
    rows = np.arange(0, 60, 2)
    state = mf.init_state(mf.key(0), mf.init(mf.key(1), [2, 8, 2]), mf.sgd(0.1))
    on_rows, log = mf.train_epoch(state, x, y, batch_size=7, rows=rows, engine=engine)
    on_copy, copy_log = mf.train_epoch(state, x[rows], y[rows], batch_size=7, engine=engine)
    # Same shuffle of the same 30 examples: position k of the permutation picks rows[k].
    assert log.steps == copy_log.steps == 5
    assert mf.ravel(on_rows.params).tobytes() == mf.ravel(on_copy.params).tobytes()
    with pytest.raises(ValueError, match="rows must index the 60 examples"):
        mf.train_epoch(state, x, y, rows=np.array([0, 60]))


@pytest.mark.parametrize("engine", ENGINES)
def test_progress_is_told_each_batch_size_and_changes_nothing(engine):
    x, y = spirals(25)
    state = mf.init_state(mf.key(0), mf.init(mf.key(1), [2, 8, 2]), mf.adam(0.01))
    sizes = []
    told, _ = mf.train_epoch(state, x, y, batch_size=16, progress=sizes.append, engine=engine)
    silent, _ = mf.train_epoch(state, x, y, batch_size=16, engine=engine)
    assert sizes == [16, 16, 16, 2]
    assert mf.ravel(told.params).tobytes() == mf.ravel(silent.params).tobytes()


@pytest.mark.parametrize("input_dropout", [0.0, 0.2])
def test_the_textbook_engine_trains_as_the_textbooks_own_fit(input_dropout):
    """The engine's textbook epochs (with their checks, tally and replay) take the very
    steps of ``textbook.train.fit``, the specification, bit for bit."""
    import toolz

    from mlp_functional.textbook import train as textbook

    rng = np.random.default_rng(4)
    x, y = rng.random((30, 3)).astype(np.float32), rng.integers(0, 3, 30)
    start = mf.init_state(mf.key(5), mf.init(mf.key(6), [3, 7, 3]), mf.adam(0.02))
    regimen = {"dropout": 0.25, "label_smoothing": 0.1, "input_dropout": input_dropout}
    spec = toolz.nth(3, textbook.fit(start, x, y, 8, **regimen))
    *_, (engine, _) = mf.fit(start, x, y, batch_size=8, epochs=3, engine="textbook", **regimen)
    assert mf.ravel(engine.params).tobytes() == mf.ravel(spec.params).tobytes()
    assert engine.key == spec.key and engine.step == spec.step == 12
