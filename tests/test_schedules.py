import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mlp_functional as mf
from mlp_functional.engine.epochs import learning_rate_of


def test_constant_and_step_decay():
    assert [mf.constant(0.5)(s) for s in (0, 10**6)] == [0.5, 0.5]
    s = mf.step_decay(1.0, every=3, factor=0.1)
    assert [s(t) for t in (0, 2, 3, 6)] == pytest.approx([1.0, 1.0, 0.1, 0.01])


@given(st.integers(1, 10_000), st.floats(1e-5, 10.0))
def test_cosine_endpoints_and_midpoint(total, lr):
    s = mf.cosine(lr, total_steps=total)
    assert s(0) == pytest.approx(lr)
    assert s(total) == pytest.approx(0.0, abs=1e-12)
    assert s(10 * total) == pytest.approx(0.0, abs=1e-12)
    if total % 2 == 0:
        assert s(total // 2) == pytest.approx(lr / 2)


@given(st.integers(1, 100), st.integers(1, 1000))
def test_warmup_rises_linearly_then_decays_monotonically(warmup, rest):
    total = warmup + rest
    s = mf.warmup_cosine(1.0, warmup_steps=warmup, total_steps=total)
    assert s(warmup - 1) == pytest.approx(1.0)
    assert s(0) == pytest.approx(1 / warmup)
    values = [s(t) for t in range(warmup, total + 1)]
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(values))
    assert values[-1] == pytest.approx(0.0, abs=1e-12)


def test_one_cycle_known_values():
    s = mf.one_cycle(1.0, total_steps=100, warmup_fraction=0.3, start_div=25, final_div=1e4)
    assert s(0) == pytest.approx(0.04)
    assert s(30) == pytest.approx(1.0)
    assert s(15) == pytest.approx(0.04 + (1 - 0.04) * 0.5)
    assert s(100) == pytest.approx(1 / 25e4)


@pytest.mark.parametrize(
    "build",
    [
        lambda: mf.constant(0.0),
        lambda: mf.cosine(0.1, total_steps=0),
        lambda: mf.step_decay(0.1, every=-1),
        lambda: mf.warmup_cosine(0.1, warmup_steps=10, total_steps=10),
        lambda: mf.one_cycle(0.1, total_steps=10, warmup_fraction=1.5),
    ],
)
def test_bad_schedule_arguments_are_refused(build):
    with pytest.raises(ValueError, match="must be"):
        build()


def test_every_optimizer_accepts_a_schedule():
    s = mf.cosine(0.1, total_steps=10)
    for make in (mf.sgd, mf.momentum, mf.adam, mf.adamw):
        opt = make(s)
        assert math.isclose(learning_rate_of(opt, 5), s(5))
        lr_parts = [part for part in opt.hyper.get("parts", (opt,)) if "lr" in part.hyper]
        assert [part.hyper["lr"] for part in lr_parts] == [s]


def test_optimizers_step_by_their_schedule():
    params = mf.init(mf.key(0), [2, 1], dtype="float64")
    ones = mf.tree_map(np.ones_like, params)
    s = mf.step_decay(1.0, every=2, factor=0.5)
    opt = mf.sgd(s)
    state, moved = opt.init(params), []
    for _ in range(5):
        updates, state = opt.update(ones, state, params)
        moved.append(-float(mf.ravel(updates)[0]))
    assert moved == [s(t) for t in range(5)] == [1.0, 1.0, 0.5, 0.5, 0.25]
