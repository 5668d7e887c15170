"""The C kernels against independent NumPy computations, and their refusals.

The engine laws (tests/test_engines.py) hold the whole fast engine to the textbook; here
each kernel is checked alone, in both dtypes and for every activation, against the
formula written in NumPy, and bad arguments are refused before anything is written.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

native = pytest.importorskip("mlp_functional.fast.native")

DTYPES = (np.float32, np.float64)
KINDS = dict(native.ACTIVATION_CODES)


def activation(name: str, z: np.ndarray) -> np.ndarray:
    return {
        "relu": lambda: np.maximum(z, 0),
        "leaky_relu": lambda: np.where(z > 0, z, z * z.dtype.type(0.01)),
        "tanh": lambda: np.tanh(z),
        "sigmoid": lambda: 1 / (1 + np.exp(-z)),
    }[name]()


def derivative(name: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    return {
        "relu": lambda: (z > 0).astype(z.dtype),
        "leaky_relu": lambda: np.where(z > 0, 1, 0.01).astype(z.dtype),
        "tanh": lambda: 1 - a * a,
        "sigmoid": lambda: a * (1 - a),
    }[name]()


def tolerance(dtype: type) -> dict[str, float]:
    return {"rtol": 2e-6, "atol": 2e-7} if dtype == np.float32 else {"rtol": 1e-13, "atol": 1e-15}


shapes = st.tuples(st.integers(1, 40), st.integers(1, 40))


@settings(max_examples=30)
@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(KINDS))
def test_bias_activation_is_z_plus_b_then_f(name, dtype, shape, seed) -> None:
    rng = np.random.default_rng(seed)
    z = (4 * rng.standard_normal(shape)).astype(dtype)
    b = rng.standard_normal(shape[1]).astype(dtype)
    expected_z = z + b
    out = np.empty_like(z)
    native.bias_activation(z, b, KINDS[name], out)
    np.testing.assert_array_equal(z, expected_z)
    np.testing.assert_allclose(out, activation(name, expected_z), **tolerance(dtype))


def test_relu_keeps_a_nan_a_nan_and_gives_plus_zero() -> None:
    z = np.array([[np.nan, -1.0, 2.0]])
    out = np.empty_like(z)
    native.bias_activation(z, np.zeros(3), KINDS["relu"], out)
    assert np.isnan(out[0, 0]) and out[0, 2] == 2.0
    assert out[0, 1] == 0.0 and not np.signbit(out[0, 1])


@settings(max_examples=30)
@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(KINDS))
def test_activation_backward_is_delta_times_the_derivative(name, dtype, shape, seed) -> None:
    rng = np.random.default_rng(seed)
    z = (3 * rng.standard_normal(shape)).astype(dtype)
    a = activation(name, z).astype(dtype)
    delta = rng.standard_normal(shape).astype(dtype)
    expected = delta * derivative(name, z, a)
    bias_grad = np.full(shape[1], np.nan, dtype)
    native.activation_backward(delta, z, a, KINDS[name], bias_grad)
    np.testing.assert_allclose(delta, expected, **tolerance(dtype))
    np.testing.assert_allclose(bias_grad, expected.sum(axis=0), **tolerance(dtype))


@settings(max_examples=40)
@given(
    n=st.integers(1, 30),
    classes=st.integers(2, 12),
    smoothing=st.sampled_from([0.0, 0.1]),
    weighted=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("label_dtype", [np.uint8, np.int32, np.int64])
def test_softmax_cross_entropy_matches_its_formula(
    label_dtype, dtype, n, classes, smoothing, weighted, seed
) -> None:
    rng = np.random.default_rng(seed)
    z = (5 * rng.standard_normal((n, classes))).astype(dtype)
    labels = rng.integers(0, classes, n).astype(label_dtype)
    w = rng.random(n).astype(dtype) if weighted else np.ones(n, dtype)
    z64 = z.astype(np.float64)
    log_p = z64 - z64.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    q = np.full((n, classes), smoothing / classes)
    q[np.arange(n), labels] += 1 - smoothing
    losses = -(q * log_p).sum(1)
    grad = (np.exp(log_p) - q) * (w / w.sum())[:, None]
    predicted = np.full(n + 3, -1, np.int64)
    bias_grad = np.empty(classes, dtype)
    total = native.softmax_cross_entropy(
        z, labels, smoothing, predicted, bias_grad, w if weighted else np.zeros(0, dtype)
    )
    tol = tolerance(dtype)
    np.testing.assert_allclose(total, (w * losses).sum(), rtol=tol["rtol"] * 10, atol=1e-5)
    np.testing.assert_allclose(z, grad, rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)
    np.testing.assert_allclose(bias_grad, grad.sum(0), rtol=tol["rtol"] * 10, atol=1e-6)
    np.testing.assert_array_equal(predicted[:n], z64.argmax(1))
    assert (predicted[n:] == -1).all()  # only the first n are written


def test_the_argmax_is_the_first_largest_logit() -> None:
    z = np.array([[1.0, 3.0, 3.0], [0.0, 0.0, 0.0]])
    predicted = np.empty(2, np.int64)
    native.softmax_cross_entropy(z, np.array([0, 1]), 0.0, predicted, np.empty(3), np.zeros(0))
    assert predicted.tolist() == [1, 0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_features_is_take_then_divide(dtype) -> None:
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 256, (50, 17), dtype=np.uint8)
    idx = rng.integers(0, 50, 9)
    out = np.empty((9, 17), dtype)
    native.gather_features(rows, idx, 255.0, out)
    np.testing.assert_array_equal(out, rows[idx].astype(dtype) / dtype(255))


@pytest.mark.parametrize("dtype", DTYPES)
def test_update_norm_is_the_norm_of_a_g_plus_c_p(dtype) -> None:
    rng = np.random.default_rng(1)
    g, p = rng.standard_normal(101).astype(dtype), rng.standard_normal(101).astype(dtype)
    expected = np.linalg.norm(dtype(0.5) * g + dtype(-0.25) * p)
    assert native.update_norm(g, p, 0.5, -0.25) == pytest.approx(expected, rel=1e-6)


def test_a_wrong_dtype_or_shape_is_refused_before_writing() -> None:
    z, b, out = np.ones((2, 3)), np.ones(3), np.full((2, 3), 7.0)
    with pytest.raises(TypeError, match="out"):
        native.bias_activation(z, b, 0, out.astype(np.float32))
    with pytest.raises(ValueError, match="shapes differ"):
        native.bias_activation(z, np.ones(4), 0, out)
    with pytest.raises(ValueError, match="contiguous"):
        native.bias_activation(z[:, ::2], b[:2], 0, out[:, :2])
    assert (z == 1).all() and (out == 7).all()


def test_an_out_of_range_label_or_index_is_refused_before_writing() -> None:
    z = np.zeros((2, 3))
    with pytest.raises(IndexError, match="label"):
        native.softmax_cross_entropy(
            z, np.array([0, 3]), 0.0, np.empty(2, np.int64), np.empty(3), np.zeros(0)
        )
    with pytest.raises(IndexError, match="label"):
        native.softmax_cross_entropy(
            z, np.array([0, -1]), 0.0, np.empty(2, np.int64), np.empty(3), np.zeros(0)
        )
    assert (z == 0).all()
    out = np.full((1, 2), 5.0)
    with pytest.raises(IndexError, match="index"):
        native.gather_features(np.zeros((3, 2), np.uint8), np.array([3]), 255.0, out)
    assert (out == 5).all()


def test_a_read_only_output_is_refused() -> None:
    out = np.empty((1, 2))
    out.flags.writeable = False
    with pytest.raises((TypeError, BufferError, ValueError)):
        native.bias_activation(np.zeros((1, 2)), np.zeros(2), 0, out)


@pytest.mark.parametrize("dtype", DTYPES)
def test_flush_subnormals_zeroes_exactly_the_subnormals(dtype) -> None:
    tiny = np.finfo(dtype).tiny
    x = np.array([tiny / 3, -tiny / 2, tiny, -tiny, -1.0, 0.0, np.nan, np.inf], dtype)
    expected = np.where(np.abs(x) < tiny, 0, x)
    native.flush_subnormals(x)
    np.testing.assert_array_equal(x, expected)
