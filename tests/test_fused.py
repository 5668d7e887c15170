"""The compiled fused optimizer pass (the C kernels) against its NumPy form, chain by chain."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import mlp_functional as mf
from mlp_functional.fast import to_fast
from mlp_functional.fast.rules import fused_chain
from mlp_functional.fast.state import rule_chain
from mlp_functional.textbook import optimizers as tb

compiled = pytest.importorskip("mlp_functional.fast.native")

CHAINS = {
    "sgd": lambda: mf.sgd(0.1),
    "momentum": lambda: mf.momentum(0.1, beta=0.9),
    "nesterov": lambda: mf.momentum(mf.cosine(0.1, total_steps=5), beta=0.8, nesterov=True),
    "adam": lambda: mf.adam(0.01),
    "adamw": lambda: mf.adamw(0.01, weight_decay=0.05),
    "clip, l2, adam": lambda: mf.chain(mf.clip_by_global_norm(0.1), mf.add_l2(1e-2), mf.adam(0.01)),
    "l2, clip, momentum": lambda: mf.chain(
        mf.add_l2(1e-2), mf.clip_by_global_norm(0.1), mf.momentum(0.1)
    ),
    "clip, sgd with decay": lambda: mf.chain(
        mf.clip_by_global_norm(0.5), mf.add_decayed_weights(0.1), mf.sgd(0.1)
    ),
}


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_the_fused_step_equals_the_numpy_passes(name: str) -> None:
    params = mf.init(mf.key(0), [5, 7, 3], dtype="float64")
    state = mf.init_state(mf.key(1), params, CHAINS[name]())
    chain = rule_chain(state)
    fused = fused_chain(chain, kernels=compiled)
    numpy_form = fused_chain(chain, kernels=None)
    assert fused is not None and numpy_form is not None
    reference = numpy_form.step
    fast = to_fast(state)
    p1, p2 = fast.p.copy(), fast.p.copy()
    slots1 = [list(s.values) for s in fast.slots]
    slots2 = copy.deepcopy(slots1)
    rng = np.random.default_rng(0)
    for _ in range(6):
        g = rng.standard_normal(p1.size)
        reference(p1, g.copy(), slots1, np.empty_like(g))
        fused.step(p2, g.copy(), slots2, np.empty_like(g))
        np.testing.assert_allclose(p2, p1, rtol=1e-12, atol=1e-14)
    for a, b in zip(slots1, slots2, strict=True):
        for u, v in zip(a, b, strict=True):
            np.testing.assert_allclose(v, u, rtol=1e-12, atol=1e-14)


def test_a_chain_with_two_moments_is_left_to_numpy() -> None:
    assert fused_chain([(tb.trace_momentum, {}), (tb.scale_by_adam, {})]) is None
    assert fused_chain([(tb.scale_by_adam, {}), (tb.clip_by_global_norm, {})]) is None
