import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlp_functional as mf
from mlp_functional.optimizers import FLUSH_EVERY


def model(dtype="float64", seed=0):
    return mf.init(mf.key(seed), [4, 3, 2], dtype=dtype)


def grads_like(params, rng, scale=1.0):
    return mf.unravel(scale * rng.standard_normal(mf.n_params(params)).astype(params.dtype), params)


def run(optimizer, params, grad_seq):
    state = optimizer.init(params)
    trajectory = []
    for g in grad_seq:
        params, state = optimizer.update(g, state, params)
        trajectory.append(mf.ravel(params).copy())
    return trajectory, state


# Reference updates written from the PyTorch documentation's pseudo-code
# (torch.optim.SGD and torch.optim.Adam), independent of the library's flat rules.
def torch_sgd_momentum(p, grads, lr, mu, nesterov):
    b, out = None, []
    for g in grads:
        b = g.copy() if b is None else mu * b + g
        step = g + mu * b if nesterov else b
        p = p - lr * step
        out.append(p)
    return out


def torch_adam(p, grads, lr, b1, b2, eps):
    m, v, out = np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(p)
    return out


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 1000), st.floats(1e-4, 1.0), st.floats(0.0, 0.99), st.booleans())
def test_momentum_follows_torch_sgd_to_rounding(seed, lr, beta, nesterov):
    rng = np.random.default_rng(seed)
    p = model()
    grads = [grads_like(p, rng) for _ in range(15)]
    ours, _ = run(mf.momentum(lr, beta, nesterov), p, grads)
    ref = torch_sgd_momentum(mf.ravel(p), [mf.ravel(g) for g in grads], lr, beta, nesterov)
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 1000),
    st.floats(1e-4, 0.1),
    st.floats(0.0, 0.99),
    st.floats(0.9, 0.9999),
    st.sampled_from([1e-8, 1e-6, 1e-3]),
    st.sampled_from([1e-3, 1.0, 100.0]),
)
def test_adam_follows_torch_adam_to_rounding(seed, lr, b1, b2, eps, scale):
    rng = np.random.default_rng(seed)
    p = model()
    grads = [grads_like(p, rng, scale) for _ in range(15)]
    ours, state = run(mf.adam(lr, b1, b2, eps), p, grads)
    ref = torch_adam(mf.ravel(p), [mf.ravel(g) for g in grads], lr, b1, b2, eps)
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert state.step == 15


def test_agrees_with_torch_itself_when_installed():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    p = model()
    grads = [grads_like(p, rng) for _ in range(10)]
    for ours_opt, make in [
        (mf.adam(0.01), lambda t: torch.optim.Adam([t], lr=0.01)),
        (
            mf.momentum(0.1, 0.9, True),
            lambda t: torch.optim.SGD([t], lr=0.1, momentum=0.9, nesterov=True),
        ),
    ]:
        t = torch.tensor(mf.ravel(p).copy(), requires_grad=True)
        opt = make(t)
        ours, _ = run(ours_opt, p, grads)
        for g, a in zip(grads, ours, strict=True):
            t.grad = torch.tensor(mf.ravel(g).copy())
            opt.step()
            np.testing.assert_allclose(a, t.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("opt", [mf.sgd(0.1), mf.momentum(0.1), mf.adam(0.1)])
def test_zero_gradient_leaves_params_unchanged(opt):
    p = model()
    zeros = mf.tree_map(np.zeros_like, p)
    ours, _ = run(opt, p, [zeros] * 3)
    assert all(np.array_equal(a, mf.ravel(p)) for a in ours)


@pytest.mark.parametrize("make", [mf.sgd, mf.momentum, mf.adam])
def test_zero_learning_rate_leaves_params_unchanged(make):
    p = model()
    ours, _ = run(make(0.0), p, [grads_like(p, np.random.default_rng(i)) for i in range(3)])
    assert all(np.array_equal(a, mf.ravel(p)) for a in ours)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 1000), st.floats(1e-4, 1.0))
def test_momentum_with_beta_zero_is_exactly_sgd(seed, lr):
    rng = np.random.default_rng(seed)
    p = model()
    grads = [grads_like(p, rng) for _ in range(8)]
    a, _ = run(mf.momentum(lr, beta=0.0), p, grads)
    b, _ = run(mf.sgd(lr), p, grads)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 1000), st.floats(1e-4, 0.1))
def test_adam_first_step_moves_each_weight_by_lr_times_g_over_abs_g_plus_eps(seed, lr):
    rng = np.random.default_rng(seed)
    p = model()
    g = grads_like(p, rng)
    (after,), _ = run(mf.adam(lr), p, [g])
    expected = lr * mf.ravel(g) / (np.abs(mf.ravel(g)) + 1e-8)
    np.testing.assert_allclose(mf.ravel(p) - after, expected, rtol=1e-9, atol=1e-15)


def test_plain_sgd_step_is_p_minus_lr_g():
    p = model()
    g = grads_like(p, np.random.default_rng(0))
    (after,), state = run(mf.sgd(0.3), p, [g])
    np.testing.assert_allclose(after, mf.ravel(p) - 0.3 * mf.ravel(g), rtol=1e-15)
    assert state == mf.SgdState(1)


def test_update_is_pure_and_returns_read_only_results():
    p = model(dtype="float32")
    g = grads_like(p, np.random.default_rng(0))
    opt = mf.adam(0.1)
    state = opt.init(p)
    before = [mf.ravel(t).copy() for t in (p, g, state.grad_sum, state.square_sum)]
    p2, s2 = opt.update(g, state, p)
    after = [mf.ravel(t) for t in (p, g, state.grad_sum, state.square_sum)]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    for tree in (p2, s2.grad_sum, s2.square_sum):
        assert tree.dtype == np.float32
        assert all(not a.flags.writeable for layer in tree.layers for a in layer)
    again = opt.update(g, state, p)
    assert np.array_equal(mf.ravel(again[0]), mf.ravel(p2))


def test_schedules_are_used_step_by_step():
    p = model()
    g = mf.tree_map(np.ones_like, p)
    ours, _ = run(mf.sgd(lambda step: 0.1 * (step + 1)), p, [g, g, g])
    steps = [mf.ravel(p)[0] - ours[0][0], ours[0][0] - ours[1][0], ours[1][0] - ours[2][0]]
    np.testing.assert_allclose(steps, [0.1, 0.2, 0.3], rtol=1e-12)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: mf.sgd(-0.1), r"learning rate must be a finite number >= 0.*lr=-0.1"),
        (lambda: mf.sgd(float("nan")), "learning rate"),
        (lambda: mf.momentum(0.1, beta=1.0), r"beta must be in \[0, 1\), got beta=1.0"),
        (lambda: mf.adam(0.1, b1=1.2), r"b1 must be in \[0, 1\), got b1=1.2"),
        (lambda: mf.adam(0.1, b2=-0.1), r"b2 must be in \[0, 1\)"),
        (lambda: mf.adam(0.1, eps=0.0), "eps must be > 0, got eps=0.0"),
    ],
)
def test_bad_hyperparameters_are_refused_with_the_value(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_mismatched_state_says_to_call_init_first():
    p = model()
    with pytest.raises(TypeError, match="make sure you have called init first"):
        mf.adam(0.1).update(p, mf.sgd(0.1).init(p), p)


@pytest.mark.parametrize(
    ("make", "reference"),
    [
        (lambda: mf.adam(1e-3), lambda p, gs: torch_adam(p, gs, 1e-3, 0.9, 0.999, 1e-8)),
        (lambda: mf.momentum(0.1), lambda p, gs: torch_sgd_momentum(p, gs, 0.1, 0.9, False)),
    ],
)
def test_moments_of_stopped_gradients_are_flushed_not_left_subnormal(make, reference):
    p = model(dtype="float32")
    g = grads_like(p, np.random.default_rng(0), scale=1e-3)
    zeros = mf.tree_map(np.zeros_like, p)
    opt = make()
    params, state = opt.update(g, opt.init(p), p)
    tiny = np.finfo(np.float32).tiny
    steps = 1500
    for step in range(1, steps):
        params, state = opt.update(zeros, state, params)
        if step % FLUSH_EVERY == FLUSH_EVERY - 1:
            for slot in state[1:]:
                values = np.abs(mf.ravel(slot))
                assert not np.any((values > 0) & (values < tiny))
    # 0.9**1500 * 1e-3 is far below float32's normal range; flushing it changes no
    # parameter beyond float32 rounding of the float64 reference.
    grads64 = [mf.ravel(g).astype(np.float64)] + [np.zeros(mf.n_params(p))] * (steps - 1)
    expected = reference(mf.ravel(p).astype(np.float64), grads64)[-1]
    np.testing.assert_allclose(mf.ravel(params), expected, rtol=1e-5, atol=1e-7)


def test_adam_state_holds_the_moments_as_decayed_sums():
    rng = np.random.default_rng(3)
    p = model()
    grads = [grads_like(p, rng) for _ in range(7)]
    b1, b2 = 0.8, 0.99
    _, state = run(mf.adam(1e-2, b1, b2), p, grads)
    m = v = 0.0
    for g in (mf.ravel(g) for g in grads):  # PyTorch's exp_avg and exp_avg_sq
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
    np.testing.assert_allclose((1 - b1) * mf.ravel(state.grad_sum), m, rtol=1e-12)
    np.testing.assert_allclose((1 - b2) * mf.ravel(state.square_sum), v, rtol=1e-12)


ELEMENTWISE = {
    "sgd": lambda: mf.sgd(0.1),
    "momentum": lambda: mf.momentum(0.1, 0.9, nesterov=True),
    "adam": lambda: mf.adam(1e-3),
    "adamw": lambda: mf.adamw(1e-3, weight_decay=0.1),
    "adam+l2": lambda: mf.add_l2(
        mf.adam(mf.warmup_cosine(1e-3, warmup_steps=3, total_steps=100)), 1e-3
    ),
}


def sliced_and_whole(rule, steps, n, sliced):
    """Run ``rule`` for ``steps`` steps on n entries, through apply_rule or whole."""
    rng = np.random.default_rng(0)
    p = rng.standard_normal(n).astype(np.float32)
    slots = tuple(np.zeros_like(p) for _ in rule.state_type._fields[1:])
    for step in range(steps):
        g = rng.standard_normal(n).astype(np.float32)
        if step > 2:
            g[: n // 3] = 0  # stopped gradients: their moments decay to the flush
        if sliced:
            mf.apply_rule(rule, p, g, slots, step, np.empty_like(p))
        else:
            rule.apply(p, g, slots, step, np.empty_like(p))
    return p, slots


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_rules_give_the_same_bits_slice_by_slice(name):
    rule = ELEMENTWISE[name]().rule
    assert rule.elementwise
    n = 2 * mf.optimizers.CHUNK + 123  # three slices, the last one short
    steps = FLUSH_EVERY + 2  # crosses a flush of subnormal moments
    p1, s1 = sliced_and_whole(rule, steps, n, sliced=True)
    p2, s2 = sliced_and_whole(rule, steps, n, sliced=False)
    assert np.array_equal(p1, p2)
    assert all(np.array_equal(a, b) for a, b in zip(s1, s2, strict=True))


def test_clipping_looks_at_the_whole_gradient_so_it_is_never_sliced():
    rule = mf.clip_by_global_norm(mf.sgd(1.0), max_norm=1.0).rule
    assert not rule.elementwise
    n = 2 * mf.optimizers.CHUNK + 5
    through_apply_rule, _ = sliced_and_whole(rule, 1, n, sliced=True)
    whole, _ = sliced_and_whole(rule, 1, n, sliced=False)
    assert np.array_equal(through_apply_rule, whole)
    start = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    # The step is the clipped gradient: norm 1 for the whole buffer; slicing would
    # have clipped each slice to norm 1 and moved the parameters further.
    assert np.linalg.norm(start - whole) == pytest.approx(1.0, rel=1e-5)
