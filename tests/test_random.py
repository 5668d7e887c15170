import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlp_functional import Key, generator, key, split


@given(st.integers(0, 2**63))
def test_same_seed_same_key_and_stream(seed):
    assert key(seed) == key(seed)
    a = generator(key(seed)).random(5)
    b = generator(key(seed)).random(5)
    assert np.array_equal(a, b)


@given(st.integers(0, 2**32), st.integers(1, 8))
def test_split_children_are_distinct_deterministic_and_differ_from_parent(seed, n):
    k = key(seed)
    children = split(k, n)
    assert len(children) == n
    assert children == split(k, n)
    assert len(set(children)) == n
    assert k not in children
    assert all(isinstance(c, Key) for c in children)


def test_split_streams_are_not_the_parent_stream():
    k = key(3)
    parent = generator(k).random(4)
    child = generator(split(k)[0]).random(4)
    assert not np.array_equal(parent, child)


def test_distinct_seeds_give_distinct_keys():
    assert len({key(s) for s in range(100)}) == 100


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True, None])
def test_bad_seed_is_refused(bad):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        key(bad)


def test_split_needs_positive_n():
    with pytest.raises(ValueError, match="n >= 1"):
        split(key(0), 0)
