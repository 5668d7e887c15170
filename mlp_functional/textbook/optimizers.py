"""Gradient descent and its refinements as optax-style pairs of pure functions.

An :class:`Optimizer` is ``init(params) -> state`` and ``update(grads, state, params) ->
(updates, state)``; :func:`apply_updates` adds the updates to the params. Optimizers are
chains of small transformations, each with the state its paper names, and the only way
behaviour changes between steps is through the values in the state. Each one also records
the ``rule`` (the function that built it) and its ``hyper``-parameters, so that other code
(the fast engine, the logs) can recognise it without running it.

>>> import numpy as np
>>> from mlp_functional.textbook.activations import relu
>>> from mlp_functional.textbook.params import init, tree_map
>>> from mlp_functional.textbook.random import key
>>> p = init(key(0), [3, 2], relu)
>>> updates, state = sgd(0.5).update(tree_map(np.ones_like, p), sgd(0.5).init(p), p)
>>> float(updates.layers[0].b[0]), state.count
(-0.5, 1)
"""

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import toolz

from .params import Params, tree_map, tree_reduce

LearningRate = float | Callable[[int], float]  # a constant, or a schedule step -> lr


class Optimizer(NamedTuple):
    init: Callable[[Params], Any]
    update: Callable[[Params, Any, Params], tuple[Params, Any]]
    rule: Callable[..., "Optimizer"] | None = None  # e.g. scale_by_adam; None: a user's own
    hyper: Mapping[str, Any] = MappingProxyType({})


class EmptyState(NamedTuple):
    pass


class CountState(NamedTuple):
    count: int  # type: ignore[assignment]  # t: updates so far (shadows tuple.count, as in optax)


class LearningRateState(NamedTuple):
    count: int  # type: ignore[assignment]  # t: the schedule's step


class MomentumState(NamedTuple):
    velocity: Params  # v


class AdamState(NamedTuple):
    count: int  # type: ignore[assignment]  # t
    mu: Params  # m, the first moment estimate
    nu: Params  # v, the second moment estimate


def made_by(rule: Callable, init: Callable, update: Callable, **hyper: Any) -> Optimizer:
    """An :class:`Optimizer` that records the ``rule`` that made it and its ``hyper``-parameters.

    >>> made_by(identity, lambda p: EmptyState(), lambda u, s, p: (u, s)).rule.__name__
    'identity'
    """
    return Optimizer(init, update, rule, MappingProxyType(hyper))


def stateless(rule: Callable, transform: Callable, **hyper: Any) -> Optimizer:
    """A transformation that remembers nothing: ``u <- transform(u, params)``.

    >>> stateless(identity, lambda u, p: u).init(None)
    EmptyState()
    """
    return made_by(rule, lambda p: EmptyState(), lambda u, s, p: (transform(u, p), s), **hyper)


def apply_updates(params: Params, updates: Params) -> Params:
    """``p + u`` for every array: the step an optimizer's updates describe.

    >>> import numpy as np
    >>> from mlp_functional.textbook.params import Layer, Params, tree_map
    >>> p = Params((Layer(np.full((2, 2), 2.0), np.zeros(2)),), None)  # w = 2, b = 0
    >>> ones = tree_map(np.ones_like, p)
    >>> apply_updates(p, ones).layers[0].b.tolist()
    [1.0, 1.0]
    """
    return tree_map(np.add, params, updates)


def learning_rate_at(lr: LearningRate, step: int) -> float:
    """The learning rate at ``step``: ``lr(step)`` for a schedule, else ``lr``.

    >>> learning_rate_at(0.1, 7), learning_rate_at(lambda s: 1 / (s + 1), 3)
    (0.1, 0.25)
    """
    return float(lr(step)) if callable(lr) else float(lr)


def identity() -> Optimizer:
    """Leaves the updates as they are: the neutral element of :func:`chain`.

    >>> import numpy as np
    >>> from mlp_functional.textbook.params import Layer, Params, tree_map
    >>> p = Params((Layer(np.full((2, 2), 2.0), np.zeros(2)),), None)  # w = 2, b = 0
    >>> ones = tree_map(np.ones_like, p)
    >>> identity().update(ones, identity().init(p), p)[0] is ones
    True
    """
    return stateless(identity, lambda u, p: u)


def chain(*optimizers: Optimizer) -> Optimizer:
    """Transformations one after another; the state is the tuple of their states.
    ``chain(clip_by_global_norm(1.0), add_l2(1e-4), adam(1e-3))`` clips the gradient, adds
    the L2 penalty's gradient, then takes Adam's step.

    >>> import numpy as np
    >>> from mlp_functional.textbook.params import Layer, Params, tree_map
    >>> p = Params((Layer(np.full((2, 2), 2.0), np.zeros(2)),), None)  # w = 2, b = 0
    >>> ones = tree_map(np.ones_like, p)
    >>> opt = chain(add_l2(1.0), sgd(0.5))  # -0.5 (g + p), with g = 1 and b = 0
    >>> opt.update(ones, opt.init(p), p)[0].layers[0].b.tolist()
    [-0.5, -0.5]
    """

    def update(updates: Params, state: tuple[Any, ...], params: Params):
        if not isinstance(state, tuple) or len(state) != len(optimizers):
            n, got = len(optimizers), type(state).__name__
            need = f"a chain of {n} transformations need as many states, got {got}"
            raise TypeError(f"{need}: make sure you have called init first")

        def step(carry: tuple[Params, tuple], pair: tuple[Optimizer, Any]):
            (u, states), (opt, s) = carry, pair
            u, s = opt.update(u, s, params)
            return u, (*states, s)

        return toolz.reduce(step, zip(optimizers, state, strict=True), (updates, ()))

    init = lambda params: tuple(opt.init(params) for opt in optimizers)  # noqa: E731
    return made_by(chain, init, update, parts=optimizers)


def scale_by_learning_rate(lr: LearningRate) -> Optimizer:
    """``u <- -lr_t u``, ``lr_t`` from a schedule if given; :func:`sgd` is this alone.

    >>> import numpy as np
    >>> from mlp_functional.textbook.params import Layer, Params, tree_map
    >>> p = Params((Layer(np.full((2, 2), 2.0), np.zeros(2)),), None)  # w = 2, b = 0
    >>> ones = tree_map(np.ones_like, p)
    >>> opt = scale_by_learning_rate(lambda t: 0.1 * (t + 1))
    >>> u, state = opt.update(ones, opt.update(ones, opt.init(p), p)[1], p)
    >>> u.layers[0].b.tolist(), state.count
    ([-0.2, -0.2], 2)
    """

    def update(u: Params, state: LearningRateState, params: Params):
        rate = learning_rate_at(lr, state.count)
        return tree_map(lambda u: -rate * u, u), LearningRateState(state.count + 1)

    return made_by(scale_by_learning_rate, lambda p: LearningRateState(0), update, lr=lr)


def trace_momentum(beta: float = 0.9, nesterov: bool = False) -> Optimizer:
    """Heavy-ball momentum: ``v <- beta v + g``; ``u = v``, or ``g + beta v`` (Nesterov).

    >>> import numpy as np
    >>> from mlp_functional.textbook.params import Layer, Params, tree_map
    >>> p = Params((Layer(np.full((2, 2), 2.0), np.zeros(2)),), None)  # w = 2, b = 0
    >>> ones = tree_map(np.ones_like, p)
    >>> opt = trace_momentum(0.9)
    >>> u, state = opt.update(ones, opt.update(ones, opt.init(p), p)[1], p)
    >>> u.layers[0].b.tolist()  # 0.9 * 1 + 1
    [1.9, 1.9]
    """

    def update(g: Params, state: MomentumState, params: Params):
        v = tree_map(lambda v, g: beta * v + g, state.velocity, g)
        return (tree_map(lambda g, v: g + beta * v, g, v) if nesterov else v), MomentumState(v)

    init = lambda p: MomentumState(tree_map(np.zeros_like, p))  # noqa: E731
    return made_by(trace_momentum, init, update, beta=beta, nesterov=bool(nesterov))


def bias_correction(moment: Params, decay: float, t: int) -> Params:
    """``m / (1 - decay**t)``: the moment of a zero start, unbiased.

    >>> import numpy as np
    >>> from mlp_functional.textbook.params import Layer, Params, tree_map
    >>> p = Params((Layer(np.full((2, 2), 2.0), np.zeros(2)),), None)  # w = 2, b = 0
    >>> ones = tree_map(np.ones_like, p)
    >>> bias_correction(ones, 0.5, 1).layers[0].b.tolist()
    [2.0, 2.0]
    """
    return tree_map(lambda m: m / (1 - decay**t), moment)


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    """Adam's direction ``mu_hat / (sqrt(nu_hat) + eps)`` (Kingma & Ba, 2014), ``t = 1, 2, ...``::

        mu <- b1 mu + (1 - b1) g        nu <- b2 nu + (1 - b2) g**2
        mu_hat = mu / (1 - b1**t)       nu_hat = nu / (1 - b2**t)

    >>> import numpy as np
    >>> from mlp_functional.textbook.params import Layer, Params, tree_map
    >>> p = Params((Layer(np.full((2, 2), 2.0), np.zeros(2)),), None)  # w = 2, b = 0
    >>> ones = tree_map(np.ones_like, p)
    >>> opt = scale_by_adam()
    >>> u, state = opt.update(tree_map(lambda a: 3 * a, ones), opt.init(p), p)
    >>> np.round(u.layers[0].b, 6).tolist(), state.count  # the first step: g / |g|
    ([1.0, 1.0], 1)
    """

    def update(g: Params, state: AdamState, params: Params):
        t = state.count + 1
        mu = tree_map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, g)
        nu = tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, g)
        mu_hat, nu_hat = bias_correction(mu, b1, t), bias_correction(nu, b2, t)
        return tree_map(lambda m, v: m / (np.sqrt(v) + eps), mu_hat, nu_hat), AdamState(t, mu, nu)

    init = lambda p: AdamState(0, tree_map(np.zeros_like, p), tree_map(np.zeros_like, p))  # noqa: E731
    return made_by(scale_by_adam, init, update, b1=b1, b2=b2, eps=eps)


def plus_scaled_params(rule: Callable, rate: float) -> Optimizer:
    """``u <- u + rate p``, made by ``rule``: what :func:`add_l2` and
    :func:`add_decayed_weights` both do (they differ in where a chain puts them).

    >>> plus_scaled_params(add_l2, 0.5).hyper["rate"]
    0.5
    """
    return stateless(rule, lambda u, p: tree_map(lambda u, p: u + rate * p, u, p), rate=rate)


def add_l2(strength: float) -> Optimizer:
    """``g <- g + strength p``: the gradient of the penalty ``strength / 2 ||p||^2``, biases
    included, as ``weight_decay`` in ``torch.optim.SGD``; put it before the optimizer.

    >>> import numpy as np
    >>> from mlp_functional.textbook.params import Layer, Params, tree_map
    >>> p = Params((Layer(np.full((2, 2), 2.0), np.zeros(2)),), None)  # w = 2, b = 0
    >>> ones = tree_map(np.ones_like, p)
    >>> add_l2(0.5).update(ones, add_l2(0.5).init(p), p)[0].layers[0].w.tolist()  # 1 + 0.5 * 2
    [[2.0, 2.0], [2.0, 2.0]]
    """
    return plus_scaled_params(add_l2, strength)


def add_decayed_weights(weight_decay: float) -> Optimizer:
    """``u <- u + weight_decay p`` after the direction: decoupled weight decay
    (Loshchilov & Hutter, 2019), scaled by the learning rate that follows.

    >>> import numpy as np
    >>> from mlp_functional.textbook.params import Layer, Params, tree_map
    >>> p = Params((Layer(np.full((2, 2), 2.0), np.zeros(2)),), None)  # w = 2, b = 0
    >>> ones = tree_map(np.ones_like, p)
    >>> opt = add_decayed_weights(0.1)
    >>> opt.update(ones, opt.init(p), p)[0].layers[0].b.tolist()  # biases start at 0
    [1.0, 1.0]
    """
    return plus_scaled_params(add_decayed_weights, weight_decay)


def clip_by_global_norm(max_norm: float) -> Optimizer:
    """``g <- g * min(1, max_norm / (||g|| + 1e-6))``, as ``torch.nn.utils.clip_grad_norm_``.

    >>> import numpy as np
    >>> from mlp_functional.textbook.params import Layer, Params, tree_map
    >>> p = Params((Layer(np.full((2, 2), 2.0), np.zeros(2)),), None)  # w = 2, b = 0
    >>> ones = tree_map(np.ones_like, p)
    >>> opt = clip_by_global_norm(1.0)  # six ones: norm sqrt(6)
    >>> u, _ = opt.update(ones, opt.init(p), p)
    >>> round(float(np.sqrt(sum((a * a).sum() for layer in u.layers for a in layer))), 6)
    1.0
    """

    def clip(g: Params, params: Params) -> Params:
        norm = math.sqrt(tree_reduce(lambda total, a: total + float((a * a).sum()), g, 0.0))
        return tree_map(lambda a: a * (max_norm / (norm + 1e-6) if norm > max_norm else 1.0), g)

    return stateless(clip_by_global_norm, clip, max_norm=max_norm)


def max_norm(radius: float) -> Optimizer:
    """The max-norm constraint (Srivastava et al., 2014): after each step, every unit's
    incoming weights (a column of ``w``, shape ``(fan_in, fan_out)``) are projected onto the
    ball of ``radius``; biases are left as they are. Put it last in a chain, after the
    learning rate, so that ``u`` is the step::

        w' = p + u          u <- w' min(1, radius / ||w'_j||) - p   (column by column)

    A column within the ball keeps ``u`` as it was. The paper speaks of hidden units; its
    authors' code (deepnet) set ``weight_norm`` on every edge, the output layer's too, and
    so every layer is constrained here.

    >>> import numpy as np
    >>> from mlp_functional.textbook.params import Layer, Params, tree_map
    >>> p = Params((Layer(np.array([[6.0, 0.1], [8.0, 0.0]]), np.ones(2)),), None)
    >>> opt = max_norm(5.0)  # column 0 has norm 10: halved; column 1 is within the ball
    >>> u, _ = opt.update(tree_map(np.zeros_like, p), opt.init(p), p)
    >>> apply_updates(p, u).layers[0].w.tolist(), apply_updates(p, u).layers[0].b.tolist()
    ([[3.0, 0.1], [4.0, 0.0]], [1.0, 1.0])
    """

    def project(u: np.ndarray, p: np.ndarray) -> np.ndarray:
        w = p + u  # a weight matrix (2-D), or a bias (1-D), which is left as it is
        scale = radius / np.maximum(np.sqrt((w * w).sum(axis=0)), radius)  # 1 within the ball
        return np.where(scale < 1, w * scale - p, u) if u.ndim == 2 else u

    return stateless(max_norm, lambda u, p: tree_map(project, u, p), radius=radius)


def sgd(lr: LearningRate) -> Optimizer:
    """Plain gradient descent: ``p <- p - lr g``.

    >>> sgd(0.1).rule.__name__, sgd(0.1).hyper["lr"]
    ('scale_by_learning_rate', 0.1)
    """
    return scale_by_learning_rate(lr)


def momentum(lr: LearningRate, beta: float = 0.9, nesterov: bool = False) -> Optimizer:
    """Heavy-ball momentum as ``torch.optim.SGD(momentum=beta, nesterov=...)``:
    ``v <- beta v + g``, ``p <- p - lr v`` (or ``p - lr (g + beta v)``); ``beta = 0`` is
    :func:`sgd`.

    >>> [part.rule.__name__ for part in momentum(0.1).hyper["parts"]]
    ['trace_momentum', 'scale_by_learning_rate']
    """
    return chain(trace_momentum(beta, nesterov), scale_by_learning_rate(lr))


def adam(lr: LearningRate = 1e-3, b1=0.9, b2=0.999, eps=1e-8) -> Optimizer:
    """Adam in the form ``torch.optim.Adam`` uses: ``p <- p - lr mu_hat / (sqrt(nu_hat) + eps)``,
    ``eps`` added after the bias correction (not folded into the learning rate, as
    scikit-learn does), so the first step moves each weight by about ``lr``.

    Reference: D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", 2014.

    >>> import numpy as np
    >>> from mlp_functional.textbook.params import Layer, Params, tree_map
    >>> p = Params((Layer(np.full((2, 2), 2.0), np.zeros(2)),), None)  # w = 2, b = 0
    >>> ones = tree_map(np.ones_like, p)
    >>> u, _ = adam(0.01).update(tree_map(lambda a: a + 3.0, p), adam(0.01).init(p), p)
    >>> np.round(u.layers[0].b, 6).tolist()
    [-0.01, -0.01]
    """
    return chain(scale_by_adam(b1, b2, eps), scale_by_learning_rate(lr))


def adamw(lr: LearningRate = 1e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-2) -> Optimizer:
    """Adam with decoupled weight decay, as ``torch.optim.AdamW``:
    ``p <- p - lr (mu_hat / (sqrt(nu_hat) + eps) + weight_decay p)``; ``weight_decay = 0``
    is :func:`adam`.

    Reference: I. Loshchilov, F. Hutter, "Decoupled Weight Decay Regularization", 2019.

    >>> [part.rule.__name__ for part in adamw(1e-3).hyper["parts"]]
    ['scale_by_adam', 'add_decayed_weights', 'scale_by_learning_rate']
    """
    decay = add_decayed_weights(weight_decay)
    return chain(scale_by_adam(b1, b2, eps), decay, scale_by_learning_rate(lr))


def count_updates() -> Optimizer:
    """Counts the updates it passes on: a step count for a user's optimizer that keeps none.

    >>> import numpy as np
    >>> from mlp_functional.textbook.params import Layer, Params, tree_map
    >>> p = Params((Layer(np.full((2, 2), 2.0), np.zeros(2)),), None)  # w = 2, b = 0
    >>> ones = tree_map(np.ones_like, p)
    >>> count_updates().update(ones, count_updates().init(p), p)[1]
    CountState(count=1)
    """
    count = lambda u, s, p: (u, CountState(s.count + 1))  # noqa: E731
    return made_by(count_updates, lambda p: CountState(0), count)


def step_count(state: Any) -> int | None:
    """The first ``count`` in an optimizer's state: the number of updates it has seen, or
    ``None`` when no transformation in it keeps one.

    >>> import numpy as np
    >>> from mlp_functional.textbook.params import Layer, Params, tree_map
    >>> p = Params((Layer(np.full((2, 2), 2.0), np.zeros(2)),), None)  # w = 2, b = 0
    >>> ones = tree_map(np.ones_like, p)
    >>> step_count(adam().init(p)), step_count(trace_momentum().init(p))
    (0, None)
    """
    if "count" in getattr(state, "_fields", ()):
        return int(state.count)
    nested = isinstance(state, tuple) and not isinstance(state, Params)  # a chain's states
    return next((c for c in map(step_count, state) if c is not None), None) if nested else None
