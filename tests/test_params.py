import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlp_functional as mf

sizes_strategy = st.lists(st.integers(1, 40), min_size=2, max_size=5)


@given(st.integers(0, 1000), sizes_strategy, st.sampled_from(sorted(mf.ACTIVATIONS)))
def test_declared_shapes_are_the_actual_shapes(seed, sizes, activation):
    p = mf.init(mf.key(seed), sizes, activation=activation)
    assert p.sizes == tuple(sizes)
    assert [layer.w.shape for layer in p.layers] == list(itertools.pairwise(sizes))
    assert [layer.b.shape for layer in p.layers] == [(s,) for s in sizes[1:]]
    assert mf.n_params(p) == sum(i * o + o for i, o in itertools.pairwise(sizes))


@given(st.integers(0, 1000), sizes_strategy)
def test_same_key_gives_bit_identical_params(seed, sizes):
    a = mf.init(mf.key(seed), sizes)
    b = mf.init(mf.key(seed), sizes)
    assert mf.ravel(a).tobytes() == mf.ravel(b).tobytes()


def test_different_keys_give_different_params():
    a, b = mf.init(mf.key(0), [5, 5]), mf.init(mf.key(1), [5, 5])
    assert not np.array_equal(mf.ravel(a), mf.ravel(b))


def test_params_are_read_only_float32_with_zero_biases():
    p = mf.init(mf.key(0), [6, 4, 3])
    assert p.dtype == np.float32
    for layer in p.layers:
        assert layer.w.dtype == np.float32 and layer.b.dtype == np.float32
        assert not np.any(layer.b)
        with pytest.raises(ValueError, match="read-only"):
            layer.w[0, 0] = 1.0


def test_float64_on_request():
    assert mf.init(mf.key(0), [3, 2], dtype=np.float64).layers[1 - 1].w.dtype == np.float64


def test_he_init_has_variance_two_over_fan_in():
    p = mf.init(mf.key(0), [500, 400], activation="relu", dtype="float64")
    w = p.layers[0].w
    assert abs(w.var() - 2 / 500) < 0.05 * (2 / 500)
    assert abs(w.mean()) < 0.01 * np.sqrt(2 / 500) * 10


def test_glorot_init_is_uniform_within_the_limit_for_tanh():
    p = mf.init(mf.key(0), [300, 200], activation="tanh", dtype="float64")
    w = p.layers[0].w
    limit = np.sqrt(6 / 500)
    assert np.abs(w).max() <= limit
    assert abs(w.var() - limit**2 / 3) < 0.05 * limit**2 / 3


def test_ravel_unravel_round_trip_and_views():
    p = mf.init(mf.key(0), [4, 3, 2])
    flat = mf.ravel(p)
    q = mf.unravel(flat, p)
    assert np.array_equal(mf.ravel(q), flat)
    assert np.shares_memory(q.layers[1].b, flat)
    assert not flat.flags.writeable and not q.layers[1].b.flags.writeable
    mine = np.zeros(mf.n_params(p), p.dtype)
    views = mf.unravel(mine, p)
    assert mine.flags.writeable and not views.layers[0].w.flags.writeable  # a view is frozen
    with pytest.raises(ValueError, match="needs"):
        mf.unravel(flat[:-1], p)


def test_tree_map_applies_to_every_array_and_returns_read_only():
    p = mf.init(mf.key(0), [4, 3, 2])
    doubled = mf.tree_map(lambda a, b: a + b, p, p)
    np.testing.assert_array_equal(mf.ravel(doubled), 2 * mf.ravel(p))
    assert doubled.activation is p.activation
    assert not doubled.layers[0].w.flags.writeable


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ([784], "at least two"),
        ([784, 0, 10], "positive"),
        ([784, 2.5, 10], "integers"),
        ("ab", "integers"),
    ],
)
def test_bad_sizes_name_the_problem(sizes, message):
    with pytest.raises(ValueError, match=message):
        mf.init(mf.key(0), sizes)


def test_bad_activation_and_dtype_are_refused():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        mf.init(mf.key(0), [3, 2], activation="swish")
    with pytest.raises(ValueError, match="float32 or float64"):
        mf.init(mf.key(0), [3, 2], dtype=np.int32)


@settings(max_examples=20)
@given(st.integers(0, 100))
def test_init_does_not_touch_global_numpy_random_state(seed):
    before = np.random.get_state()[1].copy()
    mf.init(mf.key(seed), [5, 4, 3])
    assert np.array_equal(before, np.random.get_state()[1])
