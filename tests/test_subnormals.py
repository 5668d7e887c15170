"""The fast engine keeps subnormal numbers out of its products and its optimizer pass.

Near the end of a long run, a confident network's wrong-class probabilities, the hidden
gradients they propagate and the squares of its smallest gradients fall below the smallest
normal float (~1.2e-38 in float32). x86 processors compute with such numbers on a slow
path, so the fast engine sets them to zero where they arise: in the logits' gradient and
the hidden layers' (both kernel sets), and inside the compiled optimizer pass. Each test
builds a case whose exact result is subnormal, checks that it is (so the test can fail),
and checks that the fast engine gives zero there and the textbook's values elsewhere.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mlp_functional as mf
from mlp_functional.fast import backend, kernels
from mlp_functional.textbook.params import Layer, Params

native = pytest.importorskip("mlp_functional.fast.native")

DTYPES = (np.float32, np.float64)
# the gaps between logits at which a wrong class's probability is subnormal
SUBNORMAL_GAPS = {np.float32: (88.0, 102.0), np.float64: (709.0, 740.0)}


def _native_softmax_cross_entropy(logits, labels):
    predicted = np.empty(len(logits), np.int64)
    bias_grad = np.empty(logits.shape[1], logits.dtype)
    empty = np.zeros(0, logits.dtype)
    return native.softmax_cross_entropy(logits, labels, 0.0, predicted, bias_grad, empty)


@pytest.mark.parametrize("kernel", [kernels.softmax_cross_entropy, _native_softmax_cross_entropy])
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_subnormal_entries_of_the_logits_gradient_are_zero(kernel, dtype, data) -> None:
    low, high = SUBNORMAL_GAPS[dtype]
    gaps = data.draw(st.lists(st.floats(low, high), min_size=1, max_size=5))
    z = np.array([[0.0, -gap, data.draw(st.floats(-3, 3))] for gap in gaps], dtype)
    y = np.zeros(len(z), np.int64)
    expected = mf.cross_entropy_grad(z.astype(np.float64), y)
    tiny = np.finfo(dtype).tiny
    assert np.all(np.abs(expected[:, 1]) < tiny)  # the case the test is about
    grad = z.copy()
    kernel(grad, y)
    assert np.all(grad[:, 1] == 0)
    np.testing.assert_allclose(grad[:, [0, 2]], expected[:, [0, 2]], rtol=1e-5, atol=0)


@pytest.mark.parametrize("kernel_set", ["native", "numpy"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_subnormal_entries_of_a_hidden_gradient_are_zero(kernel_set, dtype, monkeypatch) -> None:
    # logits (0, -40): the output gradient is about +-4e-18; times output weights of 1e-22
    # and 3e-22 (float32) or 1e-291 and 3e-291 (float64), the hidden gradient is subnormal
    small = 1e-22 if dtype == np.float32 else 1e-291
    w1 = np.eye(2, dtype=dtype)
    w2 = np.array([[small, 3 * small], [1.0, 1.0]], dtype)
    params = Params((Layer(w1, np.zeros(2, dtype)), Layer(w2, np.array([0, -40], dtype))), mf.relu)
    x, y = np.array([[1.0, 0.0]], dtype), np.array([0])
    _, expected = mf.loss_and_grad(params, x, y)
    tiny = np.finfo(dtype).tiny
    assert 0 < abs(expected.layers[0].b[0]) < tiny  # the case the test is about
    monkeypatch.setattr(backend, "compiled", lambda: native if kernel_set == "native" else None)
    grads = Params(
        tuple(Layer(np.empty_like(w), np.empty_like(b)) for w, b in params.layers), mf.relu
    )
    kernels.backprop(params, x, y, grads, kernels.workspace(params, 1))
    assert grads.layers[0].b[0] == 0 and np.all(grads.layers[0].w[:, 0] == 0)
    for got, want in zip(grads.layers, expected.layers, strict=True):
        np.testing.assert_allclose(got.w, want.w, rtol=1e-6, atol=tiny)
        np.testing.assert_allclose(got.b, want.b, rtol=1e-6, atol=tiny)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_compiled_optimizer_pass_reads_and_writes_subnormals_as_zero(dtype) -> None:
    tiny = np.finfo(dtype).tiny
    root = np.sqrt(tiny) / 4  # its square is subnormal
    p = np.ones(3, dtype)
    g = np.array([root, 0.0, 1.0], dtype)
    m1 = np.zeros(3, dtype)
    m2 = np.array([0.0, tiny / 8, 0.0], dtype)  # a subnormal moment
    assert 0 < root * root < tiny and 0 < m2[1] < tiny  # the case the test is about
    native.fused_update(p, g, m1, m2, 3, 1.0, 0.0, (0.9, 0.999), 1e-8, -0.001, 0.0)
    assert m2[0] == 0 and m2[1] == 0  # b2 * m2 + g^2: both terms subnormal, so zero
    assert m1[0] == root  # a small normal number is kept
    np.testing.assert_allclose(m2[2], 1.0 + 0.999 * 0.0)
    # the caller's arithmetic is as before: subnormal numbers survive it
    assert np.multiply(np.array(tiny / 8, dtype), 1) != 0


@given(
    st.lists(
        st.sampled_from([0.0, -0.0, 1e-45, -1e-40, 1e-39, 1.2e-38, -1.0, 3.5, 1e-30]),
        min_size=1,
        max_size=64,
    )
)
def test_the_numpy_flush_zeroes_exactly_the_subnormal_entries(values):
    a = np.array(values, np.float32)
    expected = np.where(np.abs(a) < np.finfo(np.float32).tiny, np.float32(0), a)
    kernels.zero_subnormals(a)
    np.testing.assert_array_equal(a, expected)
    assert not np.any((a != 0) & (np.abs(a) < np.finfo(np.float32).tiny))


_GRADIENT_ENTRIES = [0.0, -0.0, 1e-45, -1e-40, 1e-39, -1.2e-38, 1.2e-38, -1.0, 3.5, 1e-30]


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_the_in_place_relu_derivative_is_the_textbooks_then_the_flush(dtype, data):
    shape = data.draw(st.tuples(st.integers(1, 6), st.integers(1, 9)))
    size = shape[0] * shape[1]
    entries = st.lists(st.sampled_from(_GRADIENT_ENTRIES), min_size=size, max_size=size)
    delta = np.array(data.draw(entries), dtype).reshape(shape)
    if dtype == np.float64:
        delta *= 1e-270  # the same pattern of normal and subnormal entries in float64
    z = np.array(data.draw(st.lists(st.floats(-2, 2), min_size=size, max_size=size)), dtype)
    z = z.reshape(shape)
    a = mf.relu.value(z)
    expected = delta * mf.relu.derivative(z, a)
    kernels.zero_subnormals(expected)
    got = delta.copy()
    kernels.IN_PLACE[kernels.textbook_activation(mf.relu)].times_derivative(got, z, a)
    np.testing.assert_array_equal(got, expected)
    assert not np.any((got != 0) & (np.abs(got) < np.finfo(dtype).tiny))


def test_the_in_place_relu_writes_the_textbooks_activation_into_the_workspace():
    z = np.array([[-1.0, 0.0, 2.5], [3.0, -0.0, -7.0]], np.float32)
    out = np.full_like(z, np.nan)
    kernels.IN_PLACE[kernels.textbook_activation(mf.relu)].value(z, out)
    np.testing.assert_array_equal(out, mf.relu.value(z))
