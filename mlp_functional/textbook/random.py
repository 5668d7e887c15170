"""Explicit, splittable random keys, as ``jax.random`` has them: no global random state.

A key is an immutable value built on :class:`numpy.random.SeedSequence`, whose spawned
children are independent streams: the same key always gives the same numbers.

>>> a, b = split(key(0))
>>> a == split(key(0))[0], a == b
(True, False)
"""

from typing import NamedTuple

import numpy as np


class Key(NamedTuple):
    """A random key: four 32-bit words of SeedSequence state."""

    words: tuple[int, int, int, int]


def _key_of(seq: np.random.SeedSequence) -> Key:
    w = seq.generate_state(4, dtype=np.uint32)
    return Key((int(w[0]), int(w[1]), int(w[2]), int(w[3])))


def key(seed: int) -> Key:
    """The key of a non-negative integer seed.

    >>> key(42) == key(42)
    True
    """
    return _key_of(np.random.SeedSequence(int(seed)))


def split(k: Key, n: int = 2) -> tuple[Key, ...]:
    """``n`` independent keys derived from ``k``.

    >>> len(split(key(1), 3))
    3
    """
    return tuple(_key_of(np.random.SeedSequence(list(k.words), spawn_key=(i,))) for i in range(n))


def generator(k: Key) -> np.random.Generator:
    """A fresh NumPy generator seeded by ``k`` (the same stream every call).

    >>> int(generator(key(0)).integers(10)) == int(generator(key(0)).integers(10))
    True
    """
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(k.words))))
