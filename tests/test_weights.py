"""Laws of per-example loss weights (``sample_weight``), in both engines.

The weighted loss of a batch is ``sum_i w_i loss_i / sum_i w_i``. So: weights of all
ones are no weights at all, bit for bit; a weight of 2 is the row written twice (and a
weight of 0 the row left out) when every step sees the whole data; the gradient is the
weighted mean of the examples' own gradients; and the fast engine still equals the
textbook engine.
"""

from __future__ import annotations

import numpy as np
import pytest
from _core_util import frozen, reference_loss_and_grad
from hypothesis import given, settings
from hypothesis import strategies as st
from test_engines import F64, assert_engines_agree_in_float64, leaves, training_runs

import mlp_functional as mf
from mlp_functional.fast.kernels import backprop, workspace
from mlp_functional.fast.state import buffer_views
from mlp_functional.textbook.backward import trace_loss_and_grad

ENGINES = ("fast", "textbook")


@st.composite
def weighted_runs(draw: st.DrawFn):
    """A training run of :func:`test_engines.training_runs` with weights for its rows:
    whole numbers 0..3 or any non-negative floats."""
    state, x, y, fields = draw(training_runs("float64"))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if draw(st.booleans()):
        weights = rng.integers(0, 4, len(x)).astype(np.float64)
    else:
        weights = rng.exponential(1.0, len(x))
    return state, x, y, {**fields, "sample_weight": frozen(weights)}


def last(state, x, y, epochs: int, engine: str, **fields):
    runs = list(mf.fit(state, x, y, epochs=epochs, engine=engine, **fields))
    return runs[-1][0], [log.loss for _, log in runs]


@settings(max_examples=40, deadline=None)
@given(weighted_runs())
def test_fast_engine_equals_textbook_with_weights(run):
    state, x, y, fields = run
    assert_engines_agree_in_float64(state, x, y, fields)


@settings(max_examples=30, deadline=None)
@given(training_runs("float64"), st.sampled_from(ENGINES))
def test_weights_of_one_change_nothing_bit_for_bit(run, engine):
    state, x, y, fields = run
    plain, plain_losses = last(state, x, y, 2, engine, **fields)
    ones, ones_losses = last(state, x, y, 2, engine, **fields, sample_weight=np.ones(len(x)))
    for u, v in zip(leaves(plain), leaves(ones), strict=True):
        np.testing.assert_array_equal(u, v)
    assert plain_losses == ones_losses


@st.composite
def full_batch_runs(draw: st.DrawFn):
    """Every step sees every row (one batch per epoch), no dropout: the order of the rows
    then changes nothing but rounding.

    SGD and momentum only: Adam divides each gradient by its own size, so where the exact
    gradient is 0 (output biases of a dead network on balanced labels) it turns a rounding
    residue of 7e-18 into a step of 7e-12, then 2e-6, then 6e-3, three steps apart (the
    case below); runs that add the same terms in another order then part without bound.
    For Adam the law is the gradient's (the ``..._in_the_gradient`` test)."""
    widths = draw(st.lists(st.integers(1, 6), min_size=0, max_size=2))
    inputs, classes, n = draw(st.integers(1, 5)), draw(st.integers(2, 4)), draw(st.integers(2, 20))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x, y = rng.random((n, inputs)), rng.integers(0, classes, n)
    activation = draw(st.sampled_from(("relu", "tanh", "sigmoid", "leaky_relu")))
    params = mf.init(mf.key(seed), [inputs, *widths, classes], activation=activation)
    optimizer = draw(st.sampled_from((mf.sgd(0.1), mf.momentum(0.05))))
    state = mf.init_state(mf.key(seed + 1), mf.tree_map(np.float64, params), optimizer)
    smoothing = draw(st.sampled_from((0.0, 0.1)))
    return state, x, y, int(rng.integers(n)), smoothing


def assert_weight_is_rows(run, engine: str, weight: float, rows) -> None:
    """Training with one row weighted ``weight`` equals training on the rows ``rows(n, row)``
    (that row written twice, or left out), parameters and losses, to ``F64``."""
    state, x, y, row, smoothing = run
    weights = np.ones(len(x))
    weights[row] = weight
    fields = dict(batch_size=64, label_smoothing=smoothing)
    weighted, weighted_losses = last(state, x, y, 3, engine, sample_weight=weights, **fields)
    kept = rows(len(x), row)
    plain, plain_losses = last(state, x[kept], y[kept], 3, engine, **fields)
    for u, v in zip(leaves(weighted), leaves(plain), strict=True):
        np.testing.assert_allclose(u, v, **F64)
    np.testing.assert_allclose(weighted_losses, plain_losses, **F64)


@settings(max_examples=40, deadline=None)
@given(full_batch_runs(), st.sampled_from(ENGINES))
def test_a_weight_of_two_is_the_row_written_twice(run, engine):
    assert_weight_is_rows(run, engine, 2.0, lambda n, row: np.append(np.arange(n), row))


@settings(max_examples=40, deadline=None)
@given(full_batch_runs())
def test_a_weight_of_two_is_the_row_written_twice_in_the_gradient(run):
    state, x, y, row, smoothing = run
    weights = np.ones(len(x))
    weights[row] = 2.0
    twice = np.append(np.arange(len(x)), row)
    loss_w, _, grad_w = trace_loss_and_grad(state.params, x, y, None, smoothing, weights)
    loss_2, _, grad_2 = trace_loss_and_grad(state.params, x[twice], y[twice], None, smoothing)
    assert loss_w == pytest.approx(loss_2, rel=F64["rtol"], abs=F64["atol"])
    np.testing.assert_allclose(mf.ravel(grad_w), mf.ravel(grad_2), **F64)


def test_adam_parts_a_weighted_run_from_a_doubled_one_where_the_exact_gradient_is_zero():
    """Why the training laws above leave Adam out: the found case, a dead ReLU unit whose
    output biases' exact gradient is 0 (6 rows of each label once row 1 is doubled)."""
    rng = np.random.default_rng(1)
    x, y = rng.random((11, 1)), rng.integers(0, 2, 11)
    params = mf.init(mf.key(1), [1, 1, 2], activation="relu", dtype="float64")
    twice = np.append(np.arange(11), 1)
    weights = np.ones(11)
    weights[1] = 2.0
    _, _, grad_w = trace_loss_and_grad(params, x, y, None, 0.0, weights)
    _, _, grad_2 = trace_loss_and_grad(params, x[twice], y[twice])
    assert np.bincount(y[twice]).tolist() == [6, 6]  # tied logits: the exact gradient is 0
    assert max(np.abs(grad_w.layers[1].b).max(), np.abs(grad_2.layers[1].b).max()) < 1e-16
    fields = dict(batch_size=64, label_smoothing=0.0)
    distances = {}
    for name, optimizer in (("sgd", mf.sgd(0.01)), ("adam", mf.adam(0.01))):
        state = mf.init_state(mf.key(2), params, optimizer)
        weighted, _ = last(state, x, y, 3, "textbook", sample_weight=weights, **fields)
        doubled, _ = last(state, x[twice], y[twice], 3, "textbook", **fields)
        distances[name] = np.abs(mf.ravel(weighted.params) - mf.ravel(doubled.params)).max()
    assert distances["sgd"] < 1e-12 < 1e-3 < distances["adam"], distances


@settings(max_examples=40, deadline=None)
@given(full_batch_runs(), st.sampled_from(ENGINES))
def test_a_weight_of_zero_is_the_row_left_out(run, engine):
    assert_weight_is_rows(run, engine, 0.0, lambda n, row: np.delete(np.arange(n), row))


@settings(max_examples=40, deadline=None)
@given(weighted_runs())
def test_the_weighted_gradient_is_the_weighted_mean_of_each_examples_own(run):
    state, x, y, fields = run
    params, weights = state.params, fields["sample_weight"]
    features = mf.to_features(x, np.float64)
    per_example = [
        reference_loss_and_grad(params, features[i : i + 1], y[i : i + 1]) for i in range(len(x))
    ]
    total = weights.sum() or 1.0
    expected_loss = (
        sum(w * loss for w, (loss, _, _) in zip(weights, per_example, strict=True)) / total
    )
    flat = [
        np.concatenate([a.ravel() for pair in zip(gw, gb, strict=True) for a in pair])
        for _, gw, gb in per_example
    ]
    expected = (weights[:, None] * np.array(flat)).sum(axis=0) / total
    value, _, grads = mf.textbook.backward.trace_loss_and_grad(
        params, features, y, None, 0.0, weights
    )
    assert value == pytest.approx(expected_loss, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(mf.ravel(grads), expected, rtol=1e-9, atol=1e-12)
    g = np.empty(mf.n_params(params))
    loss, _ = backprop(
        params,
        features.copy(),
        y,
        buffer_views(g, params),
        workspace(params, len(x)),
        weights=weights,
    )
    assert loss == pytest.approx(expected_loss, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(g, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([1.0, 2.0], r"one weight per example: 3 expected, got shape \(2,\)"),
        ([1.0, np.nan, 1.0], "got NaN or infinity"),
        ([1.0, -1.0, 1.0], "got values below 0"),
    ],
)
def test_bad_weights_are_refused_with_the_reason(weights, message):
    state = mf.init_state(mf.key(0), mf.init(mf.key(1), [2, 2]), mf.sgd(0.1))
    with pytest.raises(ValueError, match=message):
        mf.train_epoch(state, np.ones((3, 2)), np.zeros(3, int), sample_weight=weights)
