"""Optimizers on both engines: PyTorch's formulas, the laws of STYLE.md, purity and errors.

Every trajectory is run twice: by the textbook engine (``opt.update`` then
``mf.apply_updates``) and by the fast engine's compiled chain on flat buffers
(:class:`mlp_functional.fast.rules.FusedChain`, Adam's moments held as sums), from
the same gradients. Both must follow the same reference to 1e-10 in float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _core_util import frozen
from hypothesis import given, settings
from hypothesis import strategies as st

import mlp_functional as mf
from mlp_functional import fast
from mlp_functional.fast import rules
from mlp_functional.fast.loop import optimizer_step
from mlp_functional.fast.rules import FLUSH_EVERY, adam_sums, flush_subnormals
from mlp_functional.fast.state import FastState, Slot, from_fast, leaves, to_fast
from mlp_functional.textbook.optimizers import scale_by_adam, step_count


def model(dtype="float64", seed=0, sizes=(4, 3, 2)):
    return mf.init(mf.key(seed), list(sizes), dtype=dtype)


def grads_like(params, rng, scale=1.0):
    return mf.unravel(scale * rng.standard_normal(mf.n_params(params)).astype(params.dtype), params)


def textbook_run(optimizer, params, grad_seq, inspect=None):
    """``update`` then ``apply_updates`` for each gradient: the flat params after each step."""
    state = optimizer.init(params)
    trajectory = []
    for g in grad_seq:
        updates, state = optimizer.update(g, state, params)
        params = mf.apply_updates(params, updates)
        trajectory.append(mf.ravel(params))
    return trajectory, state


def fast_run(optimizer, params, grad_seq, inspect=None):
    """The same steps through the fast engine's compiled chain, in place on flat buffers.

    As the fast training loop does, Adam's moments run as sums and come back as moments
    at the end; the returned state is the textbook form (``from_fast``). ``inspect`` is
    called after each step with the step's index and the flat slots.
    """
    state = mf.init_state(mf.key(0), params, optimizer)
    step, p, slots = optimizer_step(state)
    chain = [opt for opt, _ in leaves(state.optimizer, state.opt_state)]
    adams = [
        (slot, o.hyper) for slot, o in zip(slots, chain, strict=True) if o.rule is scale_by_adam
    ]
    for slot, hyper in adams:
        adam_sums(slot, hyper["b1"], hyper["b2"], into_sums=True)
    scratch = np.empty_like(p)
    trajectory = []
    for i, g in enumerate(grad_seq):
        step(p, np.array(mf.ravel(g)), slots, scratch)  # a buffer step may overwrite
        trajectory.append(p.copy())
        if inspect is not None:
            inspect(i, slots)
    for slot, hyper in adams:
        adam_sums(slot, hyper["b1"], hyper["b2"], into_sums=False)
    kinds = to_fast(state).slots
    fast = FastState(p, tuple(Slot(k.kind, tuple(v)) for k, v in zip(kinds, slots, strict=True)))
    return trajectory, from_fast(fast, state).opt_state


both_engines = pytest.mark.parametrize("run", [textbook_run, fast_run], ids=["textbook", "fast"])


# Reference updates written from the PyTorch documentation's pseudo-code
# (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW), independent of the library.
def torch_sgd_momentum(p, grads, lr, mu, nesterov, weight_decay=0.0):
    b, out = None, []
    for g in grads:
        g = g + weight_decay * p
        b = g.copy() if b is None else mu * b + g
        step = g + mu * b if nesterov else b
        p = p - lr * step
        out.append(p)
    return out


def torch_adam(p, grads, lr, b1, b2, eps, weight_decay=0.0):
    m, v, out = np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(p)
    return out


def torch_adamw(p, grads, lr, b1, b2, eps, wd):
    m, v, out = np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(grads, start=1):
        p = p * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr / (1 - b1**t) * m / (np.sqrt(v) / np.sqrt(1 - b2**t) + eps)
        out.append(p)
    return out


def assert_trajectories_close(ours, reference, rtol=1e-10, atol=1e-12):
    assert len(ours) == len(reference)
    for a, b in zip(ours, reference, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def same_bits(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


# ---- PyTorch's formulas -----------------------------------------------------------------


@both_engines
@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 1000),
    st.floats(1e-4, 1.0),
    st.floats(0.0, 0.99),
    st.booleans(),
    st.sampled_from([0.0, 1e-3, 0.5]),
)
def test_momentum_follows_torch_sgd_to_rounding(run, seed, lr, beta, nesterov, weight_decay):
    rng = np.random.default_rng(seed)
    p = model()
    grads = [grads_like(p, rng) for _ in range(15)]
    opt = mf.momentum(lr, beta, nesterov)
    if weight_decay:  # torch.optim.SGD's weight_decay is the L2 penalty's gradient
        opt = mf.chain(mf.add_l2(weight_decay), opt)
    ours, _ = run(opt, p, grads)
    flat = [mf.ravel(g) for g in grads]
    assert_trajectories_close(
        ours, torch_sgd_momentum(mf.ravel(p), flat, lr, beta, nesterov, weight_decay)
    )


@both_engines
@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 1000),
    st.floats(1e-4, 0.1),
    st.floats(0.0, 0.99),
    st.floats(0.9, 0.9999),
    st.sampled_from([1e-8, 1e-6, 1e-3]),
    st.sampled_from([1e-3, 1.0, 100.0]),
    st.sampled_from([0.0, 1e-2]),
)
def test_adam_follows_torch_adam_to_rounding(run, seed, lr, b1, b2, eps, scale, weight_decay):
    rng = np.random.default_rng(seed)
    p = model()
    grads = [grads_like(p, rng, scale) for _ in range(15)]
    opt = mf.adam(lr, b1, b2, eps)
    if weight_decay:  # torch.optim.Adam's weight_decay is L2, added to the gradient
        opt = mf.chain(mf.add_l2(weight_decay), opt)
    ours, state = run(opt, p, grads)
    flat = [mf.ravel(g) for g in grads]
    assert_trajectories_close(ours, torch_adam(mf.ravel(p), flat, lr, b1, b2, eps, weight_decay))
    assert step_count(state) == 15


@both_engines
@settings(max_examples=20, deadline=None)
@given(st.integers(0, 1000), st.floats(1e-4, 0.1), st.floats(0.0, 0.5))
def test_adamw_follows_torch_adamw_and_equals_adam_without_decay(run, seed, lr, weight_decay):
    p = model()
    rng = np.random.default_rng(seed)
    grads = [grads_like(p, rng) for _ in range(12)]
    ours, _ = run(mf.adamw(lr, weight_decay=weight_decay), p, grads)
    flat = [mf.ravel(g) for g in grads]
    reference = torch_adamw(mf.ravel(p), flat, lr, 0.9, 0.999, 1e-8, weight_decay)
    assert_trajectories_close(ours, reference)
    no_decay, _ = run(mf.adamw(lr, weight_decay=0.0), p, grads)
    plain, _ = run(mf.adam(lr), p, grads)
    assert same_bits(no_decay, plain)


@both_engines
def test_agrees_with_torch_itself_when_installed(run):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    p = model()
    grads = [grads_like(p, rng) for _ in range(10)]
    for ours_opt, make in [
        (mf.adam(0.01), lambda t: torch.optim.Adam([t], lr=0.01)),
        (
            mf.adamw(0.01, weight_decay=0.1),
            lambda t: torch.optim.AdamW([t], lr=0.01, weight_decay=0.1),
        ),
        (
            mf.momentum(0.1, 0.9, True),
            lambda t: torch.optim.SGD([t], lr=0.1, momentum=0.9, nesterov=True),
        ),
        (
            mf.chain(mf.add_l2(0.01), mf.momentum(0.1, 0.9)),
            lambda t: torch.optim.SGD([t], lr=0.1, momentum=0.9, weight_decay=0.01),
        ),
    ]:
        t = torch.tensor(mf.ravel(p), requires_grad=True)
        opt = make(t)
        ours, _ = run(ours_opt, p, grads)
        for g, a in zip(grads, ours, strict=True):
            t.grad = torch.tensor(mf.ravel(g))
            opt.step()
            np.testing.assert_allclose(a, t.detach().numpy(), rtol=1e-10, atol=1e-12)


@both_engines
def test_plain_sgd_step_is_p_minus_lr_g(run):
    p = model()
    g = grads_like(p, np.random.default_rng(0))
    (after,), state = run(mf.sgd(0.3), p, [g])
    np.testing.assert_allclose(after, mf.ravel(p) - 0.3 * mf.ravel(g), rtol=1e-15)
    assert state == mf.LearningRateState(1)


@both_engines
def test_schedules_are_used_step_by_step(run):
    p = model()
    g = mf.tree_map(np.ones_like, p)
    ours, _ = run(mf.sgd(lambda step: 0.1 * (step + 1)), p, [g, g, g])
    steps = [mf.ravel(p)[0] - ours[0][0], ours[0][0] - ours[1][0], ours[1][0] - ours[2][0]]
    np.testing.assert_allclose(steps, [0.1, 0.2, 0.3], rtol=1e-12)


# ---- the laws ---------------------------------------------------------------------------

OPTIMIZERS = {
    "sgd": lambda lr: mf.sgd(lr),
    "momentum": lambda lr: mf.momentum(lr),
    "nesterov": lambda lr: mf.momentum(lr, 0.9, nesterov=True),
    "adam": lambda lr: mf.adam(lr),
    "adamw": lambda lr: mf.adamw(lr, weight_decay=0.1),
    "clip+l2+adam": lambda lr: mf.chain(mf.clip_by_global_norm(0.5), mf.add_l2(1e-2), mf.adam(lr)),
}
#: With max-norm, whose projection moves the parameters even at a zero learning rate.
CONSTRAINED = {**OPTIMIZERS, "adam+max-norm": lambda lr: mf.chain(mf.adam(lr), mf.max_norm(0.5))}


@both_engines
@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam"])
def test_zero_gradient_leaves_params_unchanged(run, name):
    p = model()
    zeros = mf.tree_map(np.zeros_like, p)
    ours, _ = run(OPTIMIZERS[name](0.1), p, [zeros] * 3)
    assert all(np.array_equal(a, mf.ravel(p)) for a in ours)


@both_engines
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_zero_learning_rate_leaves_params_unchanged(run, name):
    p = model()
    grads = [grads_like(p, np.random.default_rng(i)) for i in range(3)]
    ours, _ = run(OPTIMIZERS[name](0.0), p, grads)
    assert all(np.array_equal(a, mf.ravel(p)) for a in ours)


@both_engines
@settings(max_examples=25, deadline=None)
@given(st.integers(0, 1000), st.floats(1e-4, 1.0), st.booleans())
def test_momentum_with_beta_zero_is_exactly_sgd(run, seed, lr, nesterov):
    rng = np.random.default_rng(seed)
    p = model()
    grads = [grads_like(p, rng) for _ in range(8)]
    a, _ = run(mf.momentum(lr, beta=0.0, nesterov=nesterov), p, grads)
    b, _ = run(mf.sgd(lr), p, grads)
    assert same_bits(a, b)


@both_engines
@settings(max_examples=25, deadline=None)
@given(st.integers(0, 1000), st.floats(1e-4, 0.1), st.sampled_from([1e-3, 1.0, 100.0]))
def test_adam_first_step_moves_each_weight_by_lr_times_g_over_abs_g_plus_eps(run, seed, lr, scale):
    rng = np.random.default_rng(seed)
    p = model()
    g = grads_like(p, rng, scale)
    (after,), _ = run(mf.adam(lr), p, [g])
    expected = lr * mf.ravel(g) / (np.abs(mf.ravel(g)) + 1e-8)
    np.testing.assert_allclose(mf.ravel(p) - after, expected, rtol=1e-9, atol=1e-15)


@both_engines
@pytest.mark.parametrize("name", sorted(CONSTRAINED))
def test_chaining_identity_changes_nothing(run, name):
    p = model()
    rng = np.random.default_rng(1)
    grads = [grads_like(p, rng) for _ in range(5)]
    alone, alone_state = run(CONSTRAINED[name](0.05), p, grads)
    after, after_state = run(mf.chain(CONSTRAINED[name](0.05), mf.identity()), p, grads)
    before, _ = run(mf.chain(mf.identity(), CONSTRAINED[name](0.05)), p, grads)
    assert same_bits(alone, after) and same_bits(alone, before)
    assert after_state[1] == mf.EmptyState()
    assert step_count(after_state) == step_count(alone_state) == 5


@both_engines
def test_l2_penalty_is_sgd_on_the_penalised_gradient(run):
    p = model()
    g = grads_like(p, np.random.default_rng(0))
    (after,), _ = run(mf.chain(mf.add_l2(0.5), mf.sgd(0.1)), p, [g])
    expected = mf.ravel(p) - 0.1 * (mf.ravel(g) + 0.5 * mf.ravel(p))
    np.testing.assert_allclose(after, expected, rtol=1e-14)


@both_engines
def test_decoupled_decay_equals_l2_for_sgd_but_not_for_adam(run):
    # Loshchilov & Hutter's point: the two coincide for SGD and differ once the
    # gradient is rescaled adaptively, because L2 goes through Adam's scaling.
    p = model()
    rng = np.random.default_rng(2)
    grads = [grads_like(p, rng) for _ in range(4)]
    l2, _ = run(mf.chain(mf.add_l2(0.3), mf.sgd(0.1)), p, grads)
    decayed, _ = run(mf.chain(mf.add_decayed_weights(0.3), mf.sgd(0.1)), p, grads)
    assert same_bits(l2, decayed)
    adam_l2, _ = run(mf.chain(mf.add_l2(0.3), mf.adam(0.1)), p, grads)
    adamw, _ = run(mf.adamw(0.1, weight_decay=0.3), p, grads)
    assert not np.allclose(adam_l2[-1], adamw[-1])


@both_engines
@settings(max_examples=30, deadline=None)
@given(st.floats(0.01, 10.0), st.floats(0.01, 100.0), st.integers(0, 1000))
def test_clipping_follows_torch_clip_grad_norm(run, max_norm, scale, seed):
    p = model()
    g = grads_like(p, np.random.default_rng(seed), scale)
    (after,), _ = run(mf.chain(mf.clip_by_global_norm(max_norm), mf.sgd(1.0)), p, [g])
    step = mf.ravel(p) - after
    # The step is read back as a difference of parameters: ``p - step`` was rounded to
    # the parameter's precision, so an entry is known to within eps |p|, whatever its size.
    readback = 2 * np.finfo(np.float64).eps * np.abs(mf.ravel(p)).max()
    norm = np.linalg.norm(mf.ravel(g))
    assert np.linalg.norm(step) <= max_norm * (1 + 1e-9)
    if norm <= max_norm:  # short gradients are left alone
        np.testing.assert_allclose(step, mf.ravel(g), rtol=1e-12, atol=readback)
    else:  # torch.nn.utils.clip_grad_norm_: g * max_norm / (||g|| + 1e-6)
        expected = mf.ravel(g) * max_norm / (norm + 1e-6)
        np.testing.assert_allclose(step, expected, rtol=1e-9, atol=readback)


def test_clipping_agrees_with_torch_itself_when_installed():
    torch = pytest.importorskip("torch")
    p = model()
    g = grads_like(p, np.random.default_rng(0), 10.0)
    clip = mf.clip_by_global_norm(1.0)
    clipped, _ = clip.update(g, clip.init(p), p)
    t = torch.zeros(mf.n_params(p), dtype=torch.float64, requires_grad=True)
    t.grad = torch.tensor(mf.ravel(g))
    torch.nn.utils.clip_grad_norm_([t], max_norm=1.0)
    np.testing.assert_allclose(mf.ravel(clipped), t.grad.numpy(), rtol=1e-12)


# ---- max-norm ---------------------------------------------------------------------------

MAX_NORM_SIZES = (6, 9, 5, 3)


def projected_columns(flat, params, radius):
    """Every layer's weight columns longer than ``radius`` scaled back to it, biases as
    they are: the projection written the long way, column by column."""
    out = []
    for layer in mf.unravel(flat, params).layers:
        w = np.array(layer.w)
        for j in range(w.shape[1]):
            norm = math.sqrt(math.fsum(v * v for v in w[:, j]))
            if norm > radius:
                w[:, j] = w[:, j] * (radius / norm)
        out += [w.ravel(), layer.b]
    return np.concatenate(out)


def column_norms(flat, params):
    return [np.linalg.norm(layer.w, axis=0) for layer in mf.unravel(flat, params).layers]


@both_engines
@settings(max_examples=20, deadline=None)
@given(st.integers(0, 1000), st.sampled_from([0.3, 1.0, 1.5]), st.floats(0.01, 1.0))
def test_max_norm_is_the_step_then_each_columns_projection_onto_the_ball(run, seed, radius, lr):
    rng = np.random.default_rng(seed)
    p = model(sizes=MAX_NORM_SIZES)
    grads = [grads_like(p, rng) for _ in range(4)]
    ours, _ = run(mf.chain(mf.sgd(lr), mf.max_norm(radius)), p, grads)
    expected = mf.ravel(p)
    for g, after in zip(grads, ours, strict=True):
        expected = projected_columns(expected - lr * mf.ravel(g), p, radius)
        np.testing.assert_allclose(after, expected, rtol=1e-12, atol=1e-15)
        assert all(norms.max() <= radius * (1 + 1e-12) for norms in column_norms(after, p))


@both_engines
def test_max_norm_leaves_columns_within_the_ball_and_the_biases_as_the_step_left_them(run):
    p = model(sizes=MAX_NORM_SIZES)
    g = grads_like(p, np.random.default_rng(0))
    (free,), _ = run(mf.adam(0.1), p, [g])
    norms = column_norms(free, p)
    ordered = np.sort(np.concatenate(norms))
    middle = len(ordered) // 2
    radius = float(ordered[middle - 1] + ordered[middle]) / 2  # half the columns are over
    (bound,), _ = run(mf.chain(mf.adam(0.1), mf.max_norm(radius)), p, [g])
    layers = zip(mf.unravel(free, p).layers, mf.unravel(bound, p).layers, norms, strict=True)
    for a, b, n in layers:
        within = n < radius
        assert np.array_equal(b.w[:, within], a.w[:, within])
        assert np.array_equal(b.b, a.b)
        np.testing.assert_allclose(np.linalg.norm(b.w[:, ~within], axis=0), radius, rtol=1e-13)
        # projected, not clipped entry by entry: each column keeps its direction
        np.testing.assert_allclose(b.w[:, ~within] * n[~within] / radius, a.w[:, ~within])


def test_max_norm_anywhere_but_the_end_of_a_chain_is_left_to_the_textbook_engine():
    p = model(sizes=MAX_NORM_SIZES)
    first = mf.init_state(mf.key(0), p, mf.chain(mf.max_norm(1.0), mf.sgd(0.1)))
    last = mf.init_state(mf.key(0), p, mf.chain(mf.sgd(0.1), mf.max_norm(1.0)))
    assert not fast.supports(first) and fast.supports(last)
    x, y = np.random.default_rng(0).random((8, 6)), np.arange(8) % 3
    trained, _ = mf.train_epoch(first, x, y, batch_size=4)  # auto: the textbook engine
    assert trained.step == 2


# ---- states under the papers' names ----------------------------------------------------


def test_states_use_the_papers_names():
    assert mf.AdamState._fields == ("count", "mu", "nu")
    assert mf.MomentumState._fields == ("velocity",)
    assert mf.LearningRateState._fields == ("count",)
    p = model()
    adam_state, lr_state = mf.adam(0.1).init(p)
    assert isinstance(adam_state, mf.AdamState) and adam_state.count == 0
    assert not mf.ravel(adam_state.mu).any() and not mf.ravel(adam_state.nu).any()
    assert lr_state == mf.LearningRateState(0)
    (velocity_state, _) = mf.momentum(0.1).init(p)
    assert isinstance(velocity_state, mf.MomentumState)


@both_engines
def test_adam_state_holds_pytorchs_moments(run):
    rng = np.random.default_rng(3)
    p = model()
    grads = [grads_like(p, rng) for _ in range(7)]
    b1, b2 = 0.8, 0.99
    _, (state, lr_state) = run(mf.adam(1e-2, b1, b2), p, grads)
    m = v = 0.0
    for g in (mf.ravel(g) for g in grads):  # PyTorch's exp_avg and exp_avg_sq
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
    assert isinstance(state, mf.AdamState) and state.count == 7 and lr_state.count == 7
    np.testing.assert_allclose(mf.ravel(state.mu), m, rtol=1e-12)
    np.testing.assert_allclose(mf.ravel(state.nu), v, rtol=1e-12)


@both_engines
def test_momentum_state_holds_pytorchs_momentum_buffer(run):
    rng = np.random.default_rng(4)
    p = model()
    grads = [grads_like(p, rng) for _ in range(6)]
    _, (state, _) = run(mf.momentum(0.1, 0.7), p, grads)
    buf = None
    for g in (mf.ravel(g) for g in grads):  # torch.optim.SGD's momentum_buffer
        buf = g.copy() if buf is None else 0.7 * buf + g
    assert isinstance(state, mf.MomentumState)
    np.testing.assert_allclose(mf.ravel(state.velocity), buf, rtol=1e-13)


def test_the_fast_engine_runs_adams_moments_as_sums_and_converts_back():
    rng = np.random.default_rng(5)
    p = model()
    b1, b2 = 0.8, 0.99
    grads = [grads_like(p, rng) for _ in range(5)]
    seen = []
    _, (state, _) = fast_run(
        mf.adam(1e-2, b1, b2), p, grads, inspect=lambda i, slots: seen.append(slots[0][1].copy())
    )
    # Inside the loop, S = mu / (1 - b1) with S <- b1 S + g: no multiply of g.
    s = 0.0
    for g, during in zip((mf.ravel(g) for g in grads), seen, strict=True):
        s = b1 * s + g
        np.testing.assert_allclose(during, s, rtol=1e-12)
    np.testing.assert_allclose(mf.ravel(state.mu), (1 - b1) * s, rtol=1e-12)
    slot = [3, np.array([0.2, -0.4]), np.array([0.01, 0.09])]
    adam_sums(slot, b1, b2, into_sums=True)
    np.testing.assert_allclose(slot[1], [0.2 / (1 - b1), -0.4 / (1 - b1)], rtol=1e-15)
    np.testing.assert_allclose(slot[2], [0.01 / (1 - b2), 0.09 / (1 - b2)], rtol=1e-15)
    adam_sums(slot, b1, b2, into_sums=False)
    np.testing.assert_allclose(slot[1], [0.2, -0.4], rtol=1e-15)
    assert slot[0] == 3


# ---- purity, read-only results, dtypes ---------------------------------------------------


def frozen_tree(tree):
    return mf.tree_map(frozen, tree)


def frozen_state(state):
    """Every Params inside an optimizer state replaced by a frozen copy."""
    if isinstance(state, mf.Params):
        return frozen_tree(state)
    if isinstance(state, tuple):
        values = [frozen_state(v) for v in state]
        return type(state)(*values) if hasattr(state, "_fields") else tuple(values)
    return state


def state_arrays(state):
    if isinstance(state, mf.Params):
        return [a for layer in state.layers for a in layer]
    if isinstance(state, tuple):
        return [a for v in state for a in state_arrays(v)]
    return []


@pytest.mark.parametrize("name", sorted(CONSTRAINED))
def test_update_never_writes_into_its_inputs_and_hands_out_read_only_arrays(name):
    p = frozen_tree(model(dtype="float32"))
    g = frozen_tree(grads_like(p, np.random.default_rng(0)))
    opt = CONSTRAINED[name](0.1)
    _, warm = opt.update(g, opt.init(p), p)  # moments that are not all zero
    state = frozen_state(warm)
    before = [a.copy() for a in state_arrays((p, g, state))]
    updates, new_state = opt.update(g, state, p)
    new_params = mf.apply_updates(p, updates)
    assert all(
        np.array_equal(a, b) for a, b in zip(before, state_arrays((p, g, state)), strict=True)
    )
    handed_out = state_arrays((updates, new_state, new_params))
    assert handed_out and all(a.dtype == np.float32 for a in handed_out)
    assert all(not a.flags.writeable for a in handed_out)
    again, again_state = opt.update(g, state, p)
    assert same_bits([mf.ravel(again)], [mf.ravel(updates)])
    assert same_bits(state_arrays(again_state), state_arrays(new_state))


@pytest.mark.parametrize("name", sorted(CONSTRAINED))
def test_the_fast_engine_reads_frozen_inputs_and_hands_back_read_only_arrays(name):
    p = frozen_tree(model(dtype="float32"))
    g = frozen_tree(grads_like(p, np.random.default_rng(0)))
    trajectory, state = fast_run(CONSTRAINED[name](0.1), p, [g, g])
    assert all(a.dtype == np.float32 for a in trajectory)
    arrays = state_arrays(state)
    assert all(a.dtype == np.float32 and not a.flags.writeable for a in arrays)
    textbook, _ = textbook_run(CONSTRAINED[name](0.1), p, [g, g])
    np.testing.assert_allclose(trajectory[-1], textbook[-1], rtol=1e-5, atol=1e-6)


# ---- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: mf.sgd(-0.1), r"learning rate must be a finite number >= 0.*lr=-0.1"),
        (lambda: mf.sgd(float("nan")), r"learning rate must be .*lr=nan"),
        (lambda: mf.momentum(0.1, beta=1.0), r"beta must be in \[0, 1\), got beta=1.0"),
        (lambda: mf.adam(0.1, b1=1.2), r"b1 must be in \[0, 1\), got b1=1.2"),
        (lambda: mf.adam(0.1, b2=-0.1), r"b2 must be in \[0, 1\), got b2=-0.1"),
        (lambda: mf.adam(0.1, eps=0.0), "eps must be > 0, got eps=0.0"),
        (
            lambda: mf.adamw(0.1, weight_decay=-1.0),
            r"weight_decay must be a finite number >= 0, got weight_decay=-1.0",
        ),
        (lambda: mf.add_l2(-1e-4), r"strength must be a finite number >= 0, got strength=-0.0001"),
        (lambda: mf.add_decayed_weights(math.inf), r"weight_decay must be .*weight_decay=inf"),
        (
            lambda: mf.clip_by_global_norm(0.0),
            r"max_norm must be a finite number > 0, got max_norm=0.0",
        ),
        (lambda: mf.clip_by_global_norm(math.nan), r"max_norm must be .*max_norm=nan"),
        (lambda: mf.max_norm(0.0), r"radius must be a finite number > 0, got radius=0.0"),
        (lambda: mf.max_norm(math.inf), r"radius must be .*radius=inf"),
    ],
)
def test_bad_hyperparameters_are_refused_with_the_value(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_mismatched_state_says_to_call_init_first():
    p = model()
    with pytest.raises(TypeError, match="make sure you have called init first"):
        mf.adam(0.1).update(p, mf.sgd(0.1).init(p), p)


# ---- the fast engine's tricks: subnormal flush and slices ------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flush_subnormals_clears_only_subnormals_and_only_every_flush_every_steps(dtype):
    tiny = np.finfo(dtype).tiny
    values = np.array([tiny / 4, -tiny / 2, tiny, -1.0, 0.0, 3e-3], dtype)
    for count in range(2 * FLUSH_EVERY):
        if count % FLUSH_EVERY != FLUSH_EVERY - 1:
            untouched = values.copy()
            flush_subnormals(count, untouched)
            assert untouched.tobytes() == values.tobytes()
    a, b = values.copy(), values[::-1].copy()
    flush_subnormals(FLUSH_EVERY - 1, a, b)
    expected = np.array([0.0, 0.0, tiny, -1.0, 0.0, 3e-3], dtype)
    assert np.array_equal(a, expected) and np.array_equal(b, expected[::-1])


@both_engines
@pytest.mark.parametrize(
    ("make", "reference"),
    [
        (lambda: mf.adam(1e-3), lambda p, gs: torch_adam(p, gs, 1e-3, 0.9, 0.999, 1e-8)),
        (lambda: mf.momentum(0.1), lambda p, gs: torch_sgd_momentum(p, gs, 0.1, 0.9, False)),
    ],
    ids=["adam", "momentum"],
)
def test_moments_of_stopped_gradients_are_flushed_not_left_subnormal(run, make, reference):
    p = model(dtype="float32")
    g = grads_like(p, np.random.default_rng(0), scale=1e-3)
    zeros = mf.tree_map(np.zeros_like, p)
    steps = 1500
    tiny = np.finfo(np.float32).tiny
    flushes = []

    def no_subnormals(i, slots):
        if i % FLUSH_EVERY == FLUSH_EVERY - 1:
            values = np.abs(
                np.concatenate([v for s in slots for v in s if isinstance(v, np.ndarray)])
            )
            assert not np.any((values > 0) & (values < tiny))
            flushes.append(i)

    ours, _ = run(make(), p, [g] + [zeros] * (steps - 1), inspect=no_subnormals)
    assert run is textbook_run or len(flushes) == steps // FLUSH_EVERY
    # 0.9**1500 * 1e-3 is far below float32's normal range; flushing it changes no
    # parameter beyond float32 rounding of the float64 reference (and the textbook
    # engine, which never flushes, lands on the same values).
    grads64 = [mf.ravel(g).astype(np.float64)] + [np.zeros(mf.n_params(p))] * (steps - 1)
    expected = reference(mf.ravel(p).astype(np.float64), grads64)[-1]
    np.testing.assert_allclose(ours[-1], expected, rtol=1e-5, atol=1e-7)


SLICED = {
    "sgd": lambda: mf.sgd(0.1),
    "momentum": lambda: mf.momentum(0.1, 0.9, nesterov=True),
    "adam": lambda: mf.adam(1e-3),
    "adamw": lambda: mf.adamw(1e-3, weight_decay=0.1),
    "l2+adam": lambda: mf.chain(
        mf.add_l2(1e-3), mf.adam(mf.warmup_cosine(1e-3, warmup_steps=3, total_steps=100))
    ),
    "adam+max-norm": lambda: mf.chain(mf.adam(1e-2), mf.max_norm(0.3)),
}
BIG = (400, 330)  # 132,330 entries: three slices of rules.CHUNK, the last one short


def stopping_grads(params, steps):
    rng = np.random.default_rng(0)
    for step in range(steps):
        g = rng.standard_normal(mf.n_params(params)).astype(params.dtype)
        if step > 2:
            g[: len(g) // 3] = 0  # stopped gradients: their moments decay to the flush
        yield mf.unravel(g, params)


@pytest.mark.parametrize("name", sorted(SLICED))
def test_elementwise_chains_give_the_same_bits_slice_by_slice(name, monkeypatch):
    p = model(dtype="float32", sizes=BIG)
    assert 2 * rules.CHUNK < mf.n_params(p) < 3 * rules.CHUNK
    steps = FLUSH_EVERY + 2  # crosses a flush of subnormal moments
    sliced, sliced_state = fast_run(SLICED[name](), p, stopping_grads(p, steps))
    monkeypatch.setattr(rules, "CHUNK", 1 << 40)
    whole, whole_state = fast_run(SLICED[name](), p, stopping_grads(p, steps))
    assert same_bits(sliced[-1:], whole[-1:])
    assert same_bits(state_arrays(sliced_state), state_arrays(whole_state))
    assert step_count(sliced_state) == step_count(whole_state) == steps


def test_clipping_looks_at_the_whole_gradient_so_it_is_never_sliced(monkeypatch):
    p = model(dtype="float32", sizes=BIG)
    (g,) = stopping_grads(p, 1)
    opt = mf.chain(mf.clip_by_global_norm(1.0), mf.sgd(1.0))
    (through_slices,), _ = fast_run(opt, p, [g])
    monkeypatch.setattr(rules, "CHUNK", 1 << 40)
    (whole,), _ = fast_run(opt, p, [g])
    assert np.array_equal(through_slices, whole)
    # The step is the clipped gradient: norm 1 for the whole buffer; slicing would
    # have clipped each slice to norm 1 and moved the parameters further.
    assert np.linalg.norm(mf.ravel(p) - whole) == pytest.approx(1.0, rel=1e-5)
