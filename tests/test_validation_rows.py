"""``fit(validation=(x, y, rows))``: the held-out rows of the training arrays are scored
where they lie, with the same figures as a copy of them, and without the copy."""

import tracemalloc

import numpy as np
import pytest
import toolz
from hypothesis import given, settings
from hypothesis import strategies as st

import mlp_functional as mf
from mlp_functional.engine import inference as textbook_inference
from mlp_functional.fast import inference as fast_inference


def images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


@pytest.mark.parametrize("engine", ["fast", "textbook"])
def test_fit_scores_validation_rows_as_it_scores_their_copy(engine):
    x, y = images(700)
    rows = np.random.default_rng(1).permutation(700)[:600]  # more than one batch of 512
    state = mf.init_state(mf.key(0), mf.init(mf.key(1), [784, 16, 10]), mf.adam(1e-3))

    def logs(validation):
        stream = mf.fit(state, x, y, epochs=2, batch_size=64, validation=validation, engine=engine)
        return [(log.val_loss, log.val_accuracy) for _, log in stream]

    assert logs((x, y, rows)) == logs((x[rows], y[rows]))


@settings(max_examples=30, deadline=None)
@given(
    picks=st.lists(st.integers(0, 39), min_size=0, max_size=90),
    batch_size=st.integers(1, 50),
)
def test_fast_evaluate_of_rows_equals_the_textbook_on_their_copy(picks, batch_size):
    x, y = images(40, seed=2)
    params = mf.init(mf.key(3), [784, 8, 10])
    rows = np.array(picks, dtype=np.int64)
    fast = fast_inference.evaluate(params, x, y, batch_size, rows=rows)
    # the same batches taken from a copy: bit for bit
    assert fast == fast_inference.evaluate(params, x[rows], y[rows], batch_size)
    # the other engine, one pass over the copy
    reference = textbook_inference.evaluate(params, x[rows], y[rows])
    np.testing.assert_allclose(fast, reference, rtol=1e-5, atol=1e-6)


def test_fast_evaluate_of_rows_does_not_copy_them():
    x, y = images(20_000)
    rows = np.arange(0, 20_000, 2)
    params = mf.init(mf.key(0), [784, 8, 10])
    copy_bytes = x[rows].nbytes  # 7.8 MB
    tracemalloc.start()
    try:
        fast_inference.evaluate(params, x, y, rows=rows)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < copy_bytes / 2


@pytest.mark.parametrize(
    ("validation", "message"),
    [
        ((np.zeros((4, 784)), np.zeros(4, int), [4]), "validation rows must index the 4"),
        ((np.zeros((4, 784)), np.zeros(4, int), [[0]]), "validation rows must be a 1-D"),
        ((np.zeros((4, 784)),), r"validation must be \(x_val, y_val\)"),
    ],
)
def test_bad_validation_is_refused_with_what_to_pass(validation, message):
    state = mf.init_state(mf.key(0), mf.init(mf.key(1), [784, 10]), mf.sgd(0.1))
    x, y = images(8)
    with pytest.raises(ValueError, match=message):
        toolz.first(mf.fit(state, x, y, epochs=1, validation=validation))
