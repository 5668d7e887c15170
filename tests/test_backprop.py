import numpy as np
import pytest
from _core_util import frozen, reference_loss_and_grad
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import mlp_functional as mf

PIECEWISE = {"relu", "leaky_relu"}


@st.composite
def problems(draw, dtype="float64"):
    hidden = draw(st.lists(st.integers(1, 16), min_size=1, max_size=3))
    features = draw(st.integers(1, 12))
    classes = draw(st.integers(2, 6))
    n = draw(st.integers(1, 8))
    activation = draw(st.sampled_from(sorted(mf.ACTIVATIONS)))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    params = mf.init(mf.key(seed), [features, *hidden, classes], activation=activation, dtype=dtype)
    # Random biases too, so that the check does not only see the zero-bias start.
    flat = mf.ravel(params) + 0.1 * rng.standard_normal(mf.n_params(params))
    params = mf.unravel(flat.astype(dtype), params)
    x = rng.uniform(-1, 1, (n, features))
    y = rng.integers(0, classes, n)
    return params, x, y


def far_from_kinks(params, x, margin=1e-3):
    """Finite differences are only meaningful away from a ReLU's kink at 0."""
    if params.activation.name not in PIECEWISE:
        return True
    trace = mf.forward_trace(params, x)
    return all(np.abs(z).min() > margin for z in trace.pre)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(problems())
def test_gradient_matches_central_finite_differences(problem):
    params, x, y = problem
    assume(far_from_kinks(params, x))
    assert mf.check_grad(params, x, y) < 1e-6


@settings(max_examples=100, deadline=None)
@given(problems())
def test_gradient_agrees_with_an_independent_implementation_to_rounding(problem):
    params, x, y = problem
    loss, grads = mf.loss_and_grad(params, frozen(x), frozen(y))
    ref_loss, ref_w, ref_b = reference_loss_and_grad(params, x, y)
    assert abs(loss - ref_loss) <= 1e-10 * max(1.0, abs(ref_loss))
    for layer, w, b in zip(grads.layers, ref_w, ref_b, strict=True):
        np.testing.assert_allclose(layer.w, w, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.b, b, rtol=1e-10, atol=1e-12)


def test_grad_is_loss_and_grad_second_part_read_only_and_shaped_like_params():
    p = mf.init(mf.key(0), [5, 4, 3])
    x, y = np.random.default_rng(0).random((6, 5)), np.arange(6) % 3
    g = mf.grad(p, x, y)
    assert mf.ravel(g).tobytes() == mf.ravel(mf.loss_and_grad(p, x, y)[1]).tobytes()
    assert [layer.w.shape for layer in g.layers] == [layer.w.shape for layer in p.layers]
    assert g.activation is p.activation
    assert all(not a.flags.writeable for layer in g.layers for a in layer)


def test_float32_gradients_stay_float32_and_close_to_float64():
    p32 = mf.init(mf.key(0), [20, 16, 10])
    p64 = mf.unravel(mf.ravel(p32).astype(np.float64), p32)
    x = np.random.default_rng(0).random((32, 20)).astype(np.float32)
    y = np.arange(32) % 10
    g32 = mf.ravel(mf.grad(p32, x, y))
    g64 = mf.ravel(mf.grad(p64, x.astype(np.float64), y))
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-6)


def test_loss_and_grad_leave_their_inputs_untouched():
    p = mf.init(mf.key(0), [5, 4, 3])
    before = mf.ravel(p).copy()
    x, y = frozen(np.random.default_rng(0).random((6, 5))), frozen(np.arange(6) % 3)
    mf.loss_and_grad(p, x, y)
    assert np.array_equal(mf.ravel(p), before)


def test_uint8_images_give_the_same_gradient_as_scaled_floats():
    p = mf.init(mf.key(0), [16, 8, 3])
    images = np.random.default_rng(0).integers(0, 256, (6, 4, 4), dtype=np.uint8)
    y = np.arange(6) % 3
    a = mf.ravel(mf.grad(p, images, y))
    b = mf.ravel(mf.grad(p, (images.reshape(6, 16) / np.float32(255)).astype(np.float32), y))
    np.testing.assert_array_equal(a, b)


def test_check_grad_on_a_subset_uses_the_key():
    p = mf.init(mf.key(0), [5, 4, 3], dtype="float64")
    x, y = np.random.default_rng(0).random((6, 5)), np.arange(6) % 3
    assert mf.check_grad(p, x, y, max_checks=5, key=mf.key(1)) < 1e-6


@pytest.mark.parametrize("bad_y", [np.array([0, 3]), np.array([[0, 1]])])
def test_bad_labels_are_refused(bad_y):
    with pytest.raises(ValueError):
        mf.grad(mf.init(mf.key(0), [2, 3]), np.zeros((2, 2)), bad_y)
