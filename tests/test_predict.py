import numpy as np
import pytest
from _core_util import frozen

import mlp_functional as mf


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    params = mf.init(mf.key(0), [16, 12, 5], dtype="float64")
    params = mf.unravel(mf.ravel(params) + 0.3 * rng.standard_normal(mf.n_params(params)), params)
    return params, rng.random((103, 16)), rng.integers(0, 5, 103)


def test_predict_proba_is_softmax_of_forward_in_any_batch_size(problem):
    params, x, _ = problem
    expected = mf.softmax(mf.forward(params, x))
    for batch_size in (1, 7, 103, 1000):
        np.testing.assert_allclose(
            mf.predict_proba(params, frozen(x), batch_size=batch_size), expected, rtol=1e-12
        )


def test_predict_is_argmax_and_accuracy_is_the_matching_fraction(problem):
    params, x, y = problem
    labels = mf.predict(params, x, batch_size=10)
    assert np.array_equal(labels, mf.forward(params, x).argmax(axis=1))
    assert mf.accuracy(params, x, y, batch_size=10) == pytest.approx(np.mean(labels == y))


def test_evaluate_loss_equals_the_full_batch_loss(problem):
    params, x, y = problem
    loss, _ = mf.evaluate(params, x, y, batch_size=9)
    assert loss == pytest.approx(mf.loss(params, x, y), rel=1e-12)


def test_hardest_are_the_highest_loss_examples(problem):
    params, x, y = problem
    h = mf.hardest(params, x, y, k=5)
    log_p = mf.log_softmax(mf.forward(params, x))
    losses = -log_p[np.arange(len(y)), y]
    assert np.array_equal(np.sort(h.indices), np.sort(np.argsort(-losses)[:5]))
    np.testing.assert_allclose(h.losses, losses[h.indices], rtol=1e-9)
    assert np.all(np.diff(h.losses) <= 0)
    assert np.array_equal(h.labels, y[h.indices])
    assert np.array_equal(h.predicted, h.probabilities.argmax(axis=1))
    assert h.probabilities.shape == (5, 5)


def test_outputs_are_read_only_and_float32_by_default():
    params = mf.init(mf.key(0), [4, 3])
    probs = mf.predict_proba(params, np.zeros((2, 4)))
    assert probs.dtype == np.float32 and not probs.flags.writeable
    assert not mf.predict(params, np.zeros((2, 4))).flags.writeable


def test_empty_input_gives_empty_output():
    params = mf.init(mf.key(0), [4, 3])
    assert mf.predict(params, np.zeros((0, 4))).shape == (0,)
