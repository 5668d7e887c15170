"""Tests of the pure per-batch transforms: features, statistics, standardisation, splits."""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlp_functional.features
from mlp_functional import key, split
from mlp_functional.data import (
    PixelStats,
    Split,
    load,
    pixel_stats,
    preprocess,
    standardize,
    take,
    to_features,
    train_val_split,
)

uint8_images = hnp.arrays(np.uint8, hnp.array_shapes(min_dims=3, max_dims=3, max_side=6))


def frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def test_to_features_is_the_engine_function_not_a_copy_of_it():
    assert to_features is mlp_functional.features.to_features


@settings(max_examples=100, deadline=None)
@given(images=uint8_images)
def test_pixel_stats_match_a_float64_computation(images):
    stats = pixel_stats(frozen(images))
    x = images.astype(np.float64) / 255.0
    assert stats.mean == pytest.approx(x.mean(), abs=1e-12)
    assert stats.std == pytest.approx(x.std(), abs=1e-12)


def test_pixel_stats_refuse_floats_and_empty_input():
    with pytest.raises(ValueError, match=r"needs uint8 images, got dtype float32; pass the"):
        pixel_stats(np.zeros((1, 2, 2), np.float32))
    with pytest.raises(ValueError, match="at least one pixel"):
        pixel_stats(np.zeros((0, 2, 2), np.uint8))


@settings(max_examples=100, deadline=None)
@given(images=uint8_images.filter(lambda a: a.size > 1 and a.min() != a.max()))
def test_standardized_features_have_zero_mean_and_unit_std(images):
    stats = pixel_stats(images)
    x = preprocess(frozen(images), stats, dtype=np.float64)
    assert x.shape == (images.shape[0], images.shape[1] * images.shape[2])
    assert x.mean() == pytest.approx(0.0, abs=1e-9)
    assert x.std() == pytest.approx(1.0, rel=1e-9)


def test_preprocess_without_stats_is_to_features():
    images = frozen(np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3))
    np.testing.assert_array_equal(preprocess(images), to_features(images))
    assert preprocess(images).dtype == np.float32


def test_preprocess_never_writes_into_float_input_and_reuses_out():
    stats = PixelStats(0.5, 0.25)
    features = frozen(np.array([[0.0, 1.0]], np.float32))
    np.testing.assert_array_equal(preprocess(features, stats), [[-2.0, 2.0]])
    out = np.empty((1, 4), np.float32)
    result = preprocess(frozen(np.full((1, 2, 2), 255, np.uint8)), stats, out=out)
    assert result is out
    np.testing.assert_array_equal(out, [[2.0, 2.0, 2.0, 2.0]])


def test_standardize_keeps_the_dtype_and_checks_its_inputs():
    x = frozen(np.array([[0.25, 0.75]], np.float32))
    y = standardize(x, PixelStats(0.5, 0.5))
    assert y.dtype == np.float32 and y.tolist() == [[-0.5, 0.5]]
    with pytest.raises(ValueError, match=r"std must be > 0, got std=0\.0"):
        standardize(x, PixelStats(0.5, 0.0))
    with pytest.raises(ValueError, match=r"needs float features, got dtype uint8"):
        standardize(np.zeros((1, 2), np.uint8), PixelStats(0.5, 0.5))


@settings(max_examples=150, deadline=None)
@given(n=st.integers(0, 60), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_train_val_split_is_a_deterministic_partition(n, data, seed):
    val_size = data.draw(st.integers(0, n) | st.floats(0.01, 0.99), label="val_size")
    images, labels = frozen(np.zeros((n, 2, 2), np.uint8)), frozen(np.zeros(n, np.uint8))
    k = key(seed)
    s = train_val_split(k, images, labels, val_size)
    expected = round(n * val_size) if isinstance(val_size, float) else val_size
    assert len(s.val) == expected and len(s.train) == n - expected
    assert sorted(np.concatenate([s.train, s.val]).tolist()) == list(range(n))
    assert np.all(np.diff(s.train) > 0) and np.all(np.diff(s.val) > 0)
    again = train_val_split(k, images, labels, val_size)
    np.testing.assert_array_equal(s.train, again.train)
    np.testing.assert_array_equal(s.val, again.val)


def test_different_keys_give_different_splits():
    images, labels = np.zeros((100, 2, 2), np.uint8), np.zeros(100, np.uint8)
    a, b = (train_val_split(k, images, labels, 10).val for k in split(key(0)))
    assert a.tolist() != b.tolist()


@pytest.mark.parametrize(
    ("val_size", "message"),
    [
        (11, r"val_size must be in \[0, 10\] for 10 rows, got val_size=11"),
        (-1, r"val_size must be in \[0, 10\]"),
        (1.0, r"fractional val_size must be in \(0, 1\), got val_size=1\.0"),
        (True, r"int count or a float fraction, got val_size=True"),
        ("5", r"int count or a float fraction, got val_size='5'"),
    ],
)
def test_train_val_split_rejects_bad_sizes(val_size, message):
    with pytest.raises(ValueError, match=message):
        train_val_split(key(0), np.zeros((10, 1, 1), np.uint8), np.zeros(10, np.uint8), val_size)


def test_train_val_split_needs_matching_lengths():
    with pytest.raises(ValueError, match=r"got 3 images and 2 labels"):
        train_val_split(key(0), np.zeros((3, 1, 1), np.uint8), np.zeros(2, np.uint8), 1)


def test_take_gathers_rows_into_a_new_split():
    s = Split(
        frozen(np.arange(4, dtype=np.uint8).reshape(4, 1, 1)), frozen(np.arange(4, dtype=np.uint8))
    )
    part = take(s, np.array([3, 1]))
    assert part.images.ravel().tolist() == [3, 1] and part.labels.tolist() == [3, 1]
    assert not np.shares_memory(part.images, s.images)


@pytest.mark.slow
def test_real_mnist_pixel_statistics(mnist_dir):
    stats = pixel_stats(load("mnist", data_dir=mnist_dir).train.images)
    assert stats.mean == pytest.approx(0.1307, abs=5e-5)
    assert stats.std == pytest.approx(0.3081, abs=5e-5)
