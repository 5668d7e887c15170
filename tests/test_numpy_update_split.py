"""The NumPy form of the fused step, split between two threads, against one thread."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import mlp_functional as mf
from mlp_functional.fast import to_fast
from mlp_functional.fast.rules import SPLIT_FROM, fused_chain, weight_shapes
from mlp_functional.fast.state import rule_chain

CHAINS = {
    "adam": lambda: mf.adam(0.01),
    "clip, l2, adam, max-norm": lambda: mf.chain(
        mf.clip_by_global_norm(0.1), mf.add_l2(1e-2), mf.adam(0.01), mf.max_norm(0.6)
    ),
    "nesterov": lambda: mf.momentum(0.1, beta=0.8, nesterov=True),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CHAINS))
def test_two_threads_write_the_same_bits_as_one(name: str, dtype: str) -> None:
    params = mf.init(mf.key(0), [400, 330, 10], dtype=dtype)
    state = mf.init_state(mf.key(1), params, CHAINS[name]())
    chain, shapes = rule_chain(state), weight_shapes(params)
    one = fused_chain(chain, kernels=None, shapes=shapes)
    two = fused_chain(chain, kernels=None, shapes=shapes)
    assert one is not None and two is not None
    one.threads, two.threads = 1, 2
    fast = to_fast(state)
    assert fast.p.size >= SPLIT_FROM  # the split runs
    p1, p2 = fast.p.copy(), fast.p.copy()
    slots1 = [list(s.values) for s in fast.slots]
    slots2 = copy.deepcopy(slots1)
    rng = np.random.default_rng(0)
    for _ in range(4):
        g = rng.standard_normal(p1.size).astype(dtype)
        one.step(p1, g.copy(), slots1, np.empty_like(g))
        two.step(p2, g.copy(), slots2, np.empty_like(g))
        np.testing.assert_array_equal(p2, p1)
    assert not np.array_equal(p1, fast.p)  # the steps moved the parameters
    for a, b in zip(slots1, slots2, strict=True):
        for u, v in zip(a, b, strict=True):
            np.testing.assert_array_equal(v, u)


def test_the_split_follows_the_blas_threads(monkeypatch) -> None:
    from mlp_functional.fast import backend

    chain = rule_chain(mf.init_state(mf.key(1), mf.init(mf.key(0), [3, 2]), mf.adam(0.1)))
    for threads, expected in ((1, 1), (2, 2), (8, 2)):
        monkeypatch.setattr(backend, "blas_threads", lambda t=threads: t)
        fused = fused_chain(chain, kernels=None, shapes=[(3, 2)])
        assert fused is not None and fused._numpy_threads() == expected
