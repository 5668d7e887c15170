import numpy as np
import pytest
from _core_util import frozen

import mlp_functional as mf


def manual_forward(p, x):
    a = x
    for layer in p.layers[:-1]:
        a = p.activation.value(a @ layer.w + layer.b)
    return a @ p.layers[-1].w + p.layers[-1].b


@pytest.mark.parametrize("activation", sorted(mf.ACTIVATIONS))
def test_forward_matches_the_equations(activation):
    p = mf.init(mf.key(1), [6, 5, 4, 3], activation=activation, dtype="float64")
    x = np.random.default_rng(0).random((7, 6))
    np.testing.assert_allclose(mf.forward(p, frozen(x)), manual_forward(p, x), rtol=1e-12)


def test_trace_keeps_what_backprop_needs():
    p = mf.init(mf.key(1), [6, 5, 4, 3], dtype="float64")
    x = np.random.default_rng(0).random((7, 6))
    t = mf.forward_trace(p, x)
    assert [a.shape for a in t.inputs] == [(7, 6), (7, 5), (7, 4)]
    assert [z.shape for z in t.pre] == [(7, 5), (7, 4)]
    np.testing.assert_allclose(t.inputs[1], np.maximum(t.pre[0], 0))
    np.testing.assert_allclose(t.logits, mf.forward(p, x))
    assert not any(a.flags.writeable for a in (*t.inputs, *t.pre, t.logits))


def test_uint8_images_equal_floats_divided_by_255():
    p = mf.init(mf.key(0), [16, 8, 3])
    images = np.random.default_rng(0).integers(0, 256, (5, 4, 4), dtype=np.uint8)
    by_images = mf.forward(p, frozen(images))
    by_floats = mf.forward(p, (images.reshape(5, 16) / np.float32(255)).astype(np.float32))
    np.testing.assert_array_equal(by_images, by_floats)


def test_float32_stays_float32_and_float64_stays_float64():
    x = np.random.default_rng(0).random((3, 4))
    assert mf.forward(mf.init(mf.key(0), [4, 2]), x).dtype == np.float32
    assert mf.forward(mf.init(mf.key(0), [4, 2], dtype="float64"), x).dtype == np.float64


def test_output_is_fresh_and_read_only_and_input_untouched():
    p = mf.init(mf.key(0), [4, 2])
    x = frozen(np.random.default_rng(0).random((3, 4)).astype(np.float32))
    out = mf.forward(p, x)
    assert not out.flags.writeable
    assert not np.shares_memory(out, x)


def test_wrong_feature_count_names_expected_and_actual():
    p = mf.init(mf.key(0), [784, 10])
    with pytest.raises(ValueError, match=r"x has 10 features per example \(shape \(2, 10\)\).*784"):
        mf.forward(p, np.zeros((2, 10)))


def test_one_dimensional_input_is_refused_with_a_fix():
    with pytest.raises(ValueError, match=r"reshape\(1, -1\)"):
        mf.forward(mf.init(mf.key(0), [4, 2]), np.zeros(4))


def test_raw_pixels_as_floats_warn_not_normalised():
    with pytest.warns(mf.NotNormalisedWarning, match="not normalised"):
        mf.forward(mf.init(mf.key(0), [4, 2]), np.full((1, 4), 200.0))


def test_non_finite_and_non_numeric_inputs_are_refused():
    p = mf.init(mf.key(0), [2, 2])
    with pytest.raises(ValueError, match="NaN or infinity"):
        mf.forward(p, np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="must hold numbers"):
        mf.forward(p, np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="must be uint8"):
        mf.forward(p, np.array([[1, 2]], np.int64))
