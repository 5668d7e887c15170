import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mlp_functional.features import to_features


@given(arrays(np.uint8, st.tuples(st.integers(1, 5), st.integers(1, 6), st.integers(1, 6))))
def test_uint8_images_become_float32_rows_divided_by_255(images):
    out = to_features(images)
    assert out.dtype == np.float32
    assert out.shape == (len(images), images.shape[1] * images.shape[2])
    expected = images.reshape(len(images), -1).astype(np.float64) / 255.0
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert out.min() >= 0 and out.max() <= 1


def test_float_rows_of_the_right_dtype_are_not_copied_but_handed_out_read_only():
    x = np.ones((3, 4), np.float32)
    rows = to_features(x)
    assert np.shares_memory(rows, x) and rows is not x
    assert not rows.flags.writeable and x.flags.writeable


@given(arrays(np.uint8, st.tuples(st.integers(1, 3), st.integers(1, 4))))
def test_every_result_without_out_is_read_only(pixels):
    for x in (pixels, pixels.astype(np.float64), pixels.astype(np.float32)):
        assert not to_features(x).flags.writeable


def test_float64_is_cast_down_to_float32_not_up():
    assert to_features(np.ones((2, 3))).dtype == np.float32


def test_out_buffer_is_filled_and_returned():
    out = np.empty((2, 4), np.float32)
    result = to_features(np.full((2, 2, 2), 255, np.uint8), out=out)
    assert result is out
    assert np.array_equal(out, np.ones((2, 4), np.float32))
