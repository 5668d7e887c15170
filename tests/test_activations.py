import warnings

import numpy as np
import pytest
from _core_util import frozen
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import mlp_functional as mf

NAMES = sorted(mf.ACTIVATIONS)
smooth_points = arrays(np.float64, 20, elements=st.floats(-6, 6).filter(lambda v: abs(v) > 1e-3))


@pytest.mark.parametrize("name", NAMES)
@given(z=smooth_points)
def test_derivative_matches_central_differences(name, z):
    act = mf.ACTIVATIONS[name]
    h = 1e-6
    numeric = (act.value(z + h) - act.value(z - h)) / (2 * h)
    analytic = act.derivative(z, act.value(z))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_no_overflow_or_warning_for_huge_inputs(name):
    act = mf.ACTIVATIONS[name]
    z = np.array([-1e4, -1e3, 0.0, 1e3, 1e4], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = act.value(frozen(z))
        d = act.derivative(z, a)
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(d))
    assert a.dtype == np.float32 and d.dtype == np.float32


def test_known_values():
    z = np.array([-2.0, 0.0, 3.0])
    assert mf.relu.value(z).tolist() == [0.0, 0.0, 3.0]
    assert mf.leaky_relu.value(z).tolist() == [-0.02, 0.0, 3.0]
    np.testing.assert_allclose(mf.sigmoid.value(np.array([0.0, 1e4, -1e4])), [0.5, 1.0, 0.0])
    np.testing.assert_allclose(mf.tanh.value(z), np.tanh(z))


def test_a_user_activation_works_end_to_end_and_passes_check_grad():
    softplus = mf.Activation(
        "softplus", lambda z: np.logaddexp(0, z), lambda z, a: 0.5 * (1 + np.tanh(0.5 * z))
    )
    p = mf.init(mf.key(0), [4, 6, 3], activation=softplus, dtype="float64")
    x = np.random.default_rng(0).random((10, 4))
    y = np.arange(10) % 3
    assert mf.check_grad(p, x, y) < 1e-6


def test_a_wrong_derivative_is_caught_by_check_grad():
    wrong = mf.Activation("bad_tanh", np.tanh, lambda z, a: 1 - a)  # should be 1 - a**2
    p = mf.init(mf.key(0), [4, 6, 3], activation=wrong, dtype="float64")
    x = np.random.default_rng(0).random((10, 4))
    assert mf.check_grad(p, x, np.arange(10) % 3) > 1e-2


def test_get_activation_names_the_choices():
    with pytest.raises(ValueError, match="leaky_relu, relu, sigmoid, tanh"):
        mf.get_activation("gelu")
