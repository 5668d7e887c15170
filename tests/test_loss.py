import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import mlp_functional as mf

logit_rows = arrays(
    np.float64, st.tuples(st.integers(1, 6), st.integers(2, 10)), elements=st.floats(-50, 50)
)


@given(logit_rows)
def test_softmax_rows_are_probabilities(z):
    p = mf.softmax(z)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)


@given(logit_rows, st.floats(-1e3, 1e3))
def test_shift_invariance(z, c):
    np.testing.assert_allclose(mf.softmax(z + c), mf.softmax(z), atol=1e-9)
    y = np.zeros(len(z), np.int64)
    assert math.isclose(
        mf.cross_entropy(z + c, y), mf.cross_entropy(z, y), rel_tol=1e-9, abs_tol=1e-9
    )


@given(logit_rows)
def test_log_softmax_is_log_of_softmax(z):
    np.testing.assert_allclose(np.exp(mf.log_softmax(z)), mf.softmax(z), atol=1e-12)


@given(logit_rows, st.data())
def test_loss_is_non_negative(z, data):
    y = np.array(
        data.draw(st.lists(st.integers(0, z.shape[1] - 1), min_size=len(z), max_size=len(z)))
    )
    assert mf.cross_entropy(z, y) >= 0


@pytest.mark.parametrize("classes", [2, 10, 37])
def test_equal_logits_give_log_classes(classes):
    assert math.isclose(
        mf.cross_entropy(np.zeros((3, classes)), np.zeros(3, int)), math.log(classes)
    )


@pytest.mark.parametrize("magnitude", [1e4, 1e6, 1e30])
def test_huge_logits_stay_finite_without_warnings(magnitude):
    z = np.array([[magnitude, -magnitude, 0.0], [-magnitude, magnitude, 0.0]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ce = mf.cross_entropy(z, np.array([1, 1]))
        lsm = mf.log_softmax(z)
        g = np.empty_like(z)
        fused = mf.softmax_cross_entropy(z, np.array([1, 1]), out=g)
    assert math.isclose(ce, magnitude, rel_tol=1e-6)
    assert math.isclose(fused, ce, rel_tol=1e-6)
    assert np.all(np.isfinite(lsm)) and np.all(np.isfinite(g))


@given(logit_rows, st.data())
def test_fused_gradient_matches_softmax_minus_onehot_and_finite_differences(z, data):
    n, c = z.shape
    y = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    g = np.empty_like(z)
    loss = mf.softmax_cross_entropy(z, y, out=g)
    assert math.isclose(loss, mf.cross_entropy(z, y), rel_tol=1e-12, abs_tol=1e-12)
    expected = (mf.softmax(z) - np.eye(c)[y]) / n
    np.testing.assert_allclose(g, expected, atol=1e-12)
    h = 1e-6
    i, j = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, c - 1))
    zp, zm = z.copy(), z.copy()
    zp[i, j] += h
    zm[i, j] -= h
    numeric = (mf.cross_entropy(zp, y) - mf.cross_entropy(zm, y)) / (2 * h)
    assert abs(numeric - g[i, j]) < 1e-7


def test_labels_out_of_range_name_the_range():
    p = mf.init(mf.key(0), [4, 3])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\), got values in \[0, 7\]"):
        mf.loss(p, np.zeros((2, 4)), np.array([0, 7]))
    with pytest.raises(ValueError, match="integer class labels"):
        mf.loss(p, np.zeros((2, 4)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="one label per example"):
        mf.loss(p, np.zeros((2, 4)), np.array([0]))


def test_loss_of_the_model_is_cross_entropy_of_its_logits():
    p = mf.init(mf.key(0), [4, 5, 3], dtype="float64")
    x, y = np.random.default_rng(1).random((6, 4)), np.arange(6) % 3
    assert math.isclose(mf.loss(p, x, y), mf.cross_entropy(mf.forward(p, x), y))


@given(logit_rows, st.data(), st.floats(0.0, 0.5))
def test_label_smoothing_loss_and_gradient_match_their_definitions(z, data, smoothing):
    n, c = z.shape
    y = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    q = (1 - smoothing) * np.eye(c)[y] + smoothing / c
    expected_loss = float(-(q * mf.log_softmax(z)).sum(axis=1).mean())
    g = np.empty_like(z)
    loss = mf.softmax_cross_entropy(z, y, out=g, smoothing=smoothing)
    assert math.isclose(loss, expected_loss, rel_tol=1e-10, abs_tol=1e-10)
    np.testing.assert_allclose(g, (mf.softmax(z) - q) / n, atol=1e-12)


def test_probabilities_handed_out_are_read_only():
    z = np.zeros((2, 3))
    assert not mf.softmax(z).flags.writeable and not mf.log_softmax(z).flags.writeable
