"""Cross-entropy on both engines: the textbook functions of ``loss.py`` and the fast
engine's fused ``softmax_cross_entropy``, against their definitions and finite differences."""

import math
import warnings

import numpy as np
import pytest
from _core_util import frozen
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import mlp_functional as mf
from mlp_functional.engine.api import targets
from mlp_functional.fast.kernels import softmax_cross_entropy

logit_rows = arrays(
    np.float64, st.tuples(st.integers(1, 6), st.integers(2, 10)), elements=st.floats(-50, 50)
)


def labels_for(z, data):
    n, c = z.shape
    return np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))


def fused(z, y, smoothing=0.0):
    """The fast engine's loss and gradient; it overwrites its logits, so give it a copy."""
    g = np.array(z, copy=True)
    return softmax_cross_entropy(g, y, smoothing), g


def textbook(z, y, smoothing=0.0):
    return mf.cross_entropy(z, y, smoothing), mf.cross_entropy_grad(z, y, smoothing)


BOTH = pytest.mark.parametrize("loss_and_grad", [textbook, fused], ids=["textbook", "fast"])


@given(logit_rows)
def test_softmax_rows_are_probabilities(z):
    p = mf.softmax(z)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)


@given(logit_rows)
def test_logsumexp_is_its_definition(z):
    expected = np.log(np.exp(z).sum(axis=1, keepdims=True))
    out = mf.logsumexp(frozen(z))
    assert out.shape == (len(z), 1)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@given(logit_rows, st.floats(-1e3, 1e3), st.data())
def test_shift_invariance(z, c, data):
    np.testing.assert_allclose(mf.softmax(z + c), mf.softmax(z), atol=1e-9)
    y = labels_for(z, data)
    for loss_and_grad in (textbook, fused):
        shifted, g_shifted = loss_and_grad(z + c, y)
        plain, g_plain = loss_and_grad(z, y)
        assert math.isclose(shifted, plain, rel_tol=1e-9, abs_tol=1e-9)
        np.testing.assert_allclose(g_shifted, g_plain, atol=1e-9)


@given(logit_rows)
def test_log_softmax_is_log_of_softmax(z):
    np.testing.assert_allclose(np.exp(mf.log_softmax(z)), mf.softmax(z), atol=1e-12)
    np.testing.assert_allclose(mf.log_softmax(z), z - mf.logsumexp(z), atol=1e-12)


@given(logit_rows, st.data())
def test_loss_is_non_negative(z, data):
    y = labels_for(z, data)
    assert mf.cross_entropy(z, y) >= 0
    assert fused(z, y)[0] >= 0


@BOTH
@pytest.mark.parametrize("classes", [2, 10, 37])
def test_equal_logits_give_log_classes(loss_and_grad, classes):
    loss, _ = loss_and_grad(np.zeros((3, classes)), np.zeros(3, int))
    assert math.isclose(loss, math.log(classes), rel_tol=1e-15)


@BOTH
@pytest.mark.parametrize("magnitude", [1e4, 1e6, 1e30])
def test_huge_logits_stay_finite_without_warnings(loss_and_grad, magnitude):
    z = np.array([[magnitude, -magnitude, 0.0], [-magnitude, magnitude, 0.0]], np.float32)
    y = np.array([1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, g = loss_and_grad(z, y)
        lsm = mf.log_softmax(z)
        lse = mf.logsumexp(z)
    # Row 0 puts all its mass on class 0, two magnitudes above the label's logit.
    assert math.isclose(loss, magnitude, rel_tol=1e-6)
    assert np.all(np.isfinite(lsm)) and np.all(np.isfinite(lse)) and np.all(np.isfinite(g))
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], atol=1e-7)


@BOTH
@given(z=logit_rows, data=st.data())
def test_gradient_is_softmax_minus_onehot_over_n_and_matches_finite_differences(
    loss_and_grad, z, data
):
    n, c = z.shape
    y = labels_for(z, data)
    loss, g = loss_and_grad(frozen(z), y) if loss_and_grad is textbook else loss_and_grad(z, y)
    assert math.isclose(loss, mf.cross_entropy(z, y), rel_tol=1e-12, abs_tol=1e-12)
    expected = (mf.softmax(z) - np.eye(c)[y]) / n
    np.testing.assert_allclose(g, expected, atol=1e-12)
    h = 1e-6
    i, j = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, c - 1))
    zp, zm = z.copy(), z.copy()
    zp[i, j] += h
    zm[i, j] -= h
    numeric = (loss_and_grad(zp, y)[0] - loss_and_grad(zm, y)[0]) / (2 * h)
    assert abs(numeric - g[i, j]) < 1e-7


@BOTH
@given(z=logit_rows, data=st.data(), smoothing=st.floats(0.0, 0.5))
def test_label_smoothing_loss_and_gradient_match_their_definitions(
    loss_and_grad, z, data, smoothing
):
    n, c = z.shape
    y = labels_for(z, data)
    q = (1 - smoothing) * np.eye(c)[y] + smoothing / c
    expected_loss = float(-(q * mf.log_softmax(z)).sum(axis=1).mean())
    loss, g = loss_and_grad(z, y, smoothing)
    assert math.isclose(loss, expected_loss, rel_tol=1e-10, abs_tol=1e-10)
    np.testing.assert_allclose(g, (mf.softmax(z) - q) / n, atol=1e-12)


@given(st.integers(0, 9), st.sampled_from([0.0, 0.1, 0.5]), st.integers(2, 10))
def test_targets_are_a_smoothed_distribution(label, smoothing, classes):
    label = label % classes
    q = targets(np.array([label]), classes, smoothing, np.float64)
    assert q.shape == (1, classes) and not q.flags.writeable
    assert math.isclose(q.sum(), 1.0, rel_tol=1e-15)
    assert math.isclose(q[0, label], 1 - smoothing + smoothing / classes, rel_tol=1e-15)
    assert np.allclose(np.delete(q[0], label), smoothing / classes, rtol=1e-15)


def test_the_fused_kernel_overwrites_its_logits_with_the_gradient():
    z = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]], np.float32)
    y = np.array([0, 2])
    expected_loss, expected_grad = textbook(z, y)
    logits = z.copy()
    loss = softmax_cross_entropy(logits, y)
    assert isinstance(loss, float) and math.isclose(loss, expected_loss, rel_tol=1e-6)
    np.testing.assert_allclose(logits, expected_grad, rtol=1e-6)
    assert logits.dtype == np.float32


def test_labels_out_of_range_name_the_range():
    p = mf.init(mf.key(0), [4, 3])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\), got values in \[0, 7\]"):
        mf.loss(p, np.zeros((2, 4)), np.array([0, 7]))
    with pytest.raises(ValueError, match="integer class labels"):
        mf.loss(p, np.zeros((2, 4)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="one label per example"):
        mf.loss(p, np.zeros((2, 4)), np.array([0]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        mf.cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\)"):
        mf.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), label_smoothing=1.0)


def test_loss_of_the_model_is_cross_entropy_of_its_logits():
    p = mf.init(mf.key(0), [4, 5, 3], dtype="float64")
    x, y = np.random.default_rng(1).random((6, 4)), np.arange(6) % 3
    assert math.isclose(mf.loss(p, x, y), mf.cross_entropy(mf.forward(p, x), y))
    assert math.isclose(mf.loss(p, x, y, 0.2), mf.cross_entropy(mf.forward(p, x), y, 0.2))


def test_arrays_handed_out_are_read_only():
    z = frozen(np.zeros((2, 3)))
    y = np.array([0, 1])
    handed_out = [mf.softmax(z), mf.log_softmax(z), mf.cross_entropy_grad(z, y)]
    assert all(not a.flags.writeable for a in handed_out)
