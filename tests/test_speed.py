"""Timings of the hot path's pieces at the reference shapes, for spotting regressions.

Skipped in the normal suite (``--benchmark-skip`` in pyproject.toml); run them with
``make speed`` and compare runs with ``pytest-benchmark compare``. No timing is
asserted: each benchmark checks the result of what it timed, and the times go to the
report. The job is the speed issue's: 784-256-128-10 ReLU, batch 128, float32, Adam.
The fast engine's pieces are timed (forward and back propagation through a workspace,
the compiled optimizer step) and a whole training step on each engine.
"""

from __future__ import annotations

import numpy as np
import pytest

import mlp_functional as mf
from mlp_functional.fast.kernels import backprop, propagate, workspace
from mlp_functional.fast.loop import optimizer_step
from mlp_functional.fast.state import buffer_views

SIZES = [784, 256, 128, 10]
BATCH = 128


@pytest.fixture(scope="module")
def job():
    rng = np.random.default_rng(0)
    params = mf.init(mf.key(0), SIZES)
    x = rng.random((BATCH, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)
    return params, x, y


def test_forward(benchmark, job) -> None:
    params, x, _ = job
    space = workspace(params, BATCH)
    trace = benchmark(propagate, params, x, space.z)
    np.testing.assert_allclose(trace.logits, mf.forward(params, x), rtol=1e-5, atol=1e-6)


def test_grad(benchmark, job) -> None:
    params, x, y = job
    flat = np.empty(mf.n_params(params), np.float32)
    grads = buffer_views(flat, params)
    space = workspace(params, BATCH)
    loss, _ = benchmark(backprop, params, x, y, grads, space)
    expected_loss, expected = mf.loss_and_grad(params, x, y)
    assert loss == pytest.approx(expected_loss, rel=1e-6)
    np.testing.assert_allclose(flat, mf.ravel(expected), rtol=1e-5, atol=1e-7)


def test_adam_update(benchmark, job) -> None:
    params, x, y = job
    state = mf.init_state(mf.key(1), params, mf.adam(1e-3))
    step, p, slots = optimizer_step(state)
    gradient = mf.ravel(mf.grad(params, x, y))
    start = mf.ravel(params)
    g, scratch = np.empty_like(start), np.empty_like(start)

    def first_step():
        np.copyto(p, start)
        np.copyto(g, gradient)  # the step overwrites the gradient's buffer
        for slot in slots:  # counts back to 0, moments back to zero
            for i, value in enumerate(slot):
                if isinstance(value, np.ndarray):
                    value.fill(0)
                else:
                    slot[i] = 0
        return (p, g, slots, scratch), {}

    benchmark.pedantic(step, setup=first_step, rounds=200)
    # A first Adam step from zero moments moves each weight by lr * g / (|g| + eps),
    # up to float32 rounding of the weights themselves.
    g64 = gradient.astype(np.float64)
    expected = 1e-3 * g64 / (np.abs(g64) + 1e-8)
    rounding = 2 * float(np.spacing(np.abs(start)).max())
    np.testing.assert_allclose(start - p, expected, rtol=1e-5, atol=rounding)
    assert [slot[0] for slot in slots] == [1, 1]


def test_train_step_textbook(benchmark, job) -> None:
    params, x, y = job
    state = mf.init_state(mf.key(1), params, mf.adam(1e-3))
    after = benchmark(mf.train_step, state, mf.Batch(x, y))
    assert after.step == 1
    assert mf.loss(after.params, x, y) < mf.loss(params, x, y)


def test_train_step_fast(benchmark, job) -> None:
    params, x, y = job
    state = mf.init_state(mf.key(1), params, mf.adam(1e-3))
    # One batch of BATCH examples: an epoch of one step, with the fast engine's copy
    # into its flat buffers and back.
    after, log = benchmark(mf.train_epoch, state, x, y, batch_size=BATCH, engine="fast")
    assert after.step == log.steps == 1
    assert mf.loss(after.params, x, y) < mf.loss(params, x, y)
