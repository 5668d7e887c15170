"""The compiled fused optimizer pass (the C kernels) against its NumPy form, chain by chain."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import mlp_functional as mf
from mlp_functional.fast import to_fast
from mlp_functional.fast.rules import FusedChain, fused_chain, weight_shapes
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
    "adam, max-norm": lambda: mf.chain(mf.adam(0.01), mf.max_norm(0.6)),
    "momentum, two max-norms": lambda: mf.chain(
        mf.momentum(0.1), mf.max_norm(0.9), mf.max_norm(0.7)
    ),
}


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_the_fused_step_equals_the_numpy_passes(name: str) -> None:
    params = mf.init(mf.key(0), [5, 7, 3], dtype="float64")
    state = mf.init_state(mf.key(1), params, CHAINS[name]())
    chain = rule_chain(state)
    shapes = weight_shapes(params)
    fused = fused_chain(chain, kernels=compiled, shapes=shapes)
    numpy_form = fused_chain(chain, kernels=None, shapes=shapes)
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


def test_max_norm_ends_a_fused_chain_and_needs_the_layers_shapes() -> None:
    radius = {"radius": 1.0}
    ending = [(tb.scale_by_adam, {}), (tb.max_norm, radius), (tb.count_updates, {})]
    assert fused_chain(ending, shapes=[(3, 2)]) is not None
    assert fused_chain([(tb.max_norm, radius), (tb.scale_by_adam, {})], shapes=[(3, 2)]) is None
    with pytest.raises(ValueError, match="needs the layers' shapes"):
        FusedChain(ending, kernels=None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_compiled_projection_equals_the_numpy_one(dtype) -> None:
    from mlp_functional.fast.rules import max_norm_columns

    w = np.random.default_rng(0).standard_normal((40, 30)).astype(dtype)
    norms = np.linalg.norm(w.astype(np.float64), axis=0)
    radius = dtype(np.median(norms))
    a, b = w.copy(), w.copy()
    compiled.max_norm_columns(a, radius)
    max_norm_columns(b, radius)
    np.testing.assert_allclose(a, b, rtol=4 * np.finfo(dtype).eps)
    within = norms < radius * (1 - 1e-5)
    assert within.any() and np.array_equal(a[:, within], w[:, within])
