"""Gradient descent and its refinements, as pairs of pure functions over :class:`Params`.

An :class:`Optimizer` is ``(init, update)``, as in optax: ``init(params) -> state`` and
``update(grads, state, params) -> (updates, state)``; :func:`apply_updates` adds the
updates to the params. Optimizers are chains of small transformations, each with the
state its paper names: ``AdamState(count, mu, nu)``, ``MomentumState(velocity)``.
The only way behaviour changes between steps is through the values in the state.

>>> import numpy as np
>>> from mlp_functional.random import key
>>> from mlp_functional.params import init, tree_map
>>> p = init(key(0), [3, 2])
>>> opt = sgd(0.5)
>>> updates, state = opt.update(tree_map(np.ones_like, p), opt.init(p), p)
>>> float((apply_updates(p, updates).layers[0].b - p.layers[0].b)[0]), state.count
(-0.5, 1)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import toolz

from .params import Params, tree_map, tree_reduce

__all__ = [
    "AdamState",
    "CountState",
    "EmptyState",
    "LearningRate",
    "LearningRateState",
    "MomentumState",
    "Optimizer",
    "Spec",
    "adam",
    "adamw",
    "add_decayed_weights",
    "add_l2",
    "apply_updates",
    "chain",
    "clip_by_global_norm",
    "count_updates",
    "identity",
    "learning_rate_at",
    "momentum",
    "scale_by_adam",
    "scale_by_learning_rate",
    "sgd",
    "step_count",
    "trace_momentum",
]

Array = np.ndarray
LearningRate = float | Callable[[int], float]
"""A constant, or a schedule ``step -> lr`` (see :mod:`mlp_functional.schedules`)."""


class Spec(NamedTuple):
    """What a transformation is, as data: its name, hyperparameters and parts.

    It lets other code (the fast engine, checkpoints, logs) recognise a built-in
    transformation without running it. A user's own optimizer may leave it ``None``.
    """

    name: str
    hyper: Mapping[str, Any] = MappingProxyType({})
    parts: tuple[Spec, ...] = ()


class Optimizer(NamedTuple):
    """``init(params) -> state`` and ``update(grads, state, params) -> (updates, state)``."""

    init: Callable[[Params], Any]
    update: Callable[[Params, Any, Params], tuple[Params, Any]]
    spec: Spec | None = None


class EmptyState(NamedTuple):
    """The state of a transformation that remembers nothing."""


class LearningRateState(NamedTuple):
    # A field named `count` shadows tuple.count, as in optax's states: the papers' t.
    count: int  # type: ignore[assignment]  # t, updates applied so far: the schedule's step


class MomentumState(NamedTuple):
    velocity: Params  # v, shaped like params


class AdamState(NamedTuple):
    count: int  # type: ignore[assignment]  # t, updates applied so far
    mu: Params  # m, the first moment estimate, shaped like params
    nu: Params  # v, the second moment estimate, shaped like params


def apply_updates(params: Params, updates: Params) -> Params:
    """``p + u`` for every array: the step an optimizer's updates describe.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init, tree_map
    >>> p = init(key(0), [2, 2])
    >>> bool((apply_updates(p, tree_map(np.zeros_like, p)).layers[0].w == p.layers[0].w).all())
    True
    """
    return tree_map(np.add, params, updates)


def learning_rate_at(lr: LearningRate, step: int) -> float:
    """The learning rate at ``step``: ``lr(step)`` for a schedule, else ``lr``.

    >>> learning_rate_at(0.1, 7), learning_rate_at(lambda s: 1 / (s + 1), 3)
    (0.1, 0.25)
    """
    return float(lr(step)) if callable(lr) else float(lr)


def _check_lr(lr: LearningRate) -> None:
    if callable(lr):
        return
    if not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr < 0:
        raise ValueError(f"learning rate must be a finite number >= 0 or a schedule, got lr={lr!r}")


def _check_unit(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0 <= value < 1):
        raise ValueError(f"{name} must be in [0, 1), got {name}={value!r}")


def _check_non_negative(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {name}={value!r}")


def _stateless(name: str, transform: Callable[[Params, Params], Params], **hyper: Any) -> Optimizer:
    def init(params: Params) -> EmptyState:
        del params
        return EmptyState()

    def update(updates: Params, state: Any, params: Params) -> tuple[Params, Any]:
        return transform(updates, params), state

    return Optimizer(init, update, Spec(name, MappingProxyType(hyper)))


def identity() -> Optimizer:
    """Leaves the updates as they are: the neutral element of :func:`chain`.

    >>> identity().spec.name
    'identity'
    """
    return _stateless("identity", lambda updates, params: updates)


def chain(*optimizers: Optimizer) -> Optimizer:
    """Run transformations one after another; the state is the tuple of their states.

    ``chain(clip_by_global_norm(1.0), add_l2(1e-4), adam(1e-3))`` clips the gradient,
    adds the L2 penalty's gradient, then takes Adam's step.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init, tree_map
    >>> p = init(key(0), [2, 2])
    >>> g = tree_map(np.ones_like, p)
    >>> u1, _ = sgd(0.1).update(g, sgd(0.1).init(p), p)
    >>> u2, _ = chain(sgd(0.1), identity()).update(g, chain(sgd(0.1), identity()).init(p), p)
    >>> bool((u1.layers[0].w == u2.layers[0].w).all())
    True
    """

    def init(params: Params) -> tuple[Any, ...]:
        return tuple(opt.init(params) for opt in optimizers)

    def update(updates: Params, state: Any, params: Params) -> tuple[Params, Any]:
        if not isinstance(state, tuple) or len(state) != len(optimizers):
            raise TypeError(
                f"a chain of {len(optimizers)} transformations needs a tuple of as many "
                f"states, got {type(state).__name__}: make sure you have called init first"
            )

        def step(carry: tuple[Params, tuple[Any, ...]], pair: tuple[Optimizer, Any]):
            u, new_states = carry
            opt, s = pair
            u, s = opt.update(u, s, params)
            return u, (*new_states, s)

        return toolz.reduce(step, zip(optimizers, state, strict=True), (updates, ()))

    parts = tuple(opt.spec for opt in optimizers)
    spec = Spec("chain", MappingProxyType({}), parts) if None not in parts else None  # type: ignore[arg-type]
    return Optimizer(init, update, spec)


def scale_by_learning_rate(lr: LearningRate) -> Optimizer:
    """``u <- -lr_t u``: the step against the gradient, ``lr_t`` from a schedule if given.

    >>> scale_by_learning_rate(0.1).spec.hyper["lr"]
    0.1
    """
    _check_lr(lr)

    def init(params: Params) -> LearningRateState:
        del params
        return LearningRateState(0)

    def update(updates: Params, state: LearningRateState, params: Params):
        del params
        rate = learning_rate_at(lr, state.count)
        return tree_map(lambda u: -rate * u, updates), LearningRateState(state.count + 1)

    return Optimizer(init, update, Spec("scale_by_learning_rate", MappingProxyType({"lr": lr})))


def trace_momentum(beta: float = 0.9, nesterov: bool = False) -> Optimizer:
    """Heavy-ball momentum: ``v <- beta v + g``; ``u = v``, or ``g + beta v`` (Nesterov).

    >>> trace_momentum(0.9).spec.hyper["beta"]
    0.9
    """
    _check_unit("beta", beta)

    def init(params: Params) -> MomentumState:
        return MomentumState(tree_map(np.zeros_like, params))

    def update(g: Params, state: MomentumState, params: Params):
        del params
        v = tree_map(lambda v, g: beta * v + g, state.velocity, g)
        u = tree_map(lambda g, v: g + beta * v, g, v) if nesterov else v
        return u, MomentumState(v)

    hyper = MappingProxyType({"beta": beta, "nesterov": bool(nesterov)})
    return Optimizer(init, update, Spec("trace_momentum", hyper))


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    """Adam's direction ``m_hat / (sqrt(v_hat) + eps)`` (Kingma & Ba, 2014), at ``t = 1, 2, ...``::

        m <- b1 m + (1 - b1) g            m_hat = m / (1 - b1**t)
        v <- b2 v + (1 - b2) g**2         v_hat = v / (1 - b2**t)

    >>> scale_by_adam().spec.hyper["b2"]
    0.999
    """
    _check_unit("b1", b1)
    _check_unit("b2", b2)
    if not (isinstance(eps, (int, float)) and eps > 0):
        raise ValueError(f"eps must be > 0, got eps={eps!r}")

    def init(params: Params) -> AdamState:
        return AdamState(0, tree_map(np.zeros_like, params), tree_map(np.zeros_like, params))

    def update(g: Params, state: AdamState, params: Params):
        del params
        t = state.count + 1
        mu = tree_map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, g)
        nu = tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, g)
        u = tree_map(lambda m, v: (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps), mu, nu)
        return u, AdamState(t, mu, nu)

    return Optimizer(
        init, update, Spec("scale_by_adam", MappingProxyType({"b1": b1, "b2": b2, "eps": eps}))
    )


def _add_scaled_params(name: str, rate: float) -> Optimizer:
    _check_non_negative("strength" if name == "add_l2" else "weight_decay", rate)
    hyper = {"rate": rate}
    return _stateless(name, lambda u, p: tree_map(lambda u, p: u + rate * p, u, p), **hyper)


def add_l2(strength: float) -> Optimizer:
    """The gradient of the L2 penalty ``strength / 2 ||p||^2``: ``g <- g + strength p``.

    Put it before the optimizer: ``chain(add_l2(1e-4), adam(1e-3))``. Every parameter
    is penalised, biases included, as ``weight_decay`` does in ``torch.optim.SGD``.

    >>> add_l2(1e-4).spec.hyper["rate"]
    0.0001
    """
    return _add_scaled_params("add_l2", strength)


def add_decayed_weights(weight_decay: float) -> Optimizer:
    """``u <- u + weight_decay p`` placed after the optimizer's direction: decoupled
    weight decay (Loshchilov & Hutter, 2019), scaled by the learning rate that follows.

    >>> add_decayed_weights(0.01).spec.name
    'add_decayed_weights'
    """
    return _add_scaled_params("add_decayed_weights", weight_decay)


def clip_by_global_norm(max_norm: float) -> Optimizer:
    """Scale the whole gradient down to norm ``max_norm`` when it is longer, as
    ``torch.nn.utils.clip_grad_norm_`` does: ``g <- g * min(1, max_norm / (||g|| + 1e-6))``.

    >>> clip_by_global_norm(1.0).spec.hyper["max_norm"]
    1.0
    """
    if not (isinstance(max_norm, (int, float)) and math.isfinite(max_norm) and max_norm > 0):
        raise ValueError(f"max_norm must be a finite number > 0, got max_norm={max_norm!r}")

    def clip(g: Params, params: Params) -> Params:
        del params
        norm = math.sqrt(tree_reduce(lambda total, a: total + float((a * a).sum()), g, 0.0))
        factor = max_norm / (norm + 1e-6) if norm > max_norm else 1.0
        return tree_map(lambda a: a * factor, g)

    return _stateless("clip_by_global_norm", clip, max_norm=max_norm)


def sgd(lr: LearningRate) -> Optimizer:
    """Plain gradient descent: ``p <- p - lr g``.

    Args:
      lr: learning rate, a constant or a schedule ``step -> lr``.

    >>> sgd(0.1).spec.name
    'scale_by_learning_rate'
    """
    return scale_by_learning_rate(lr)


def momentum(lr: LearningRate, beta: float = 0.9, nesterov: bool = False) -> Optimizer:
    """Heavy-ball momentum, as ``torch.optim.SGD(momentum=beta, nesterov=...)``.

    ``v <- beta v + g`` then ``p <- p - lr v`` (or ``p <- p - lr (g + beta v)`` with
    Nesterov's look-ahead). With ``beta = 0`` this is exactly :func:`sgd`.

    >>> [part.name for part in momentum(0.1).spec.parts]
    ['trace_momentum', 'scale_by_learning_rate']
    """
    return chain(trace_momentum(beta, nesterov), scale_by_learning_rate(lr))


def adam(
    lr: LearningRate = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> Optimizer:
    """Adam (Kingma & Ba, 2014) in the form ``torch.optim.Adam`` uses.

    At step ``t = 1, 2, ...``: ``p <- p - lr m_hat / (sqrt(v_hat) + eps)`` with the
    bias-corrected moments of :func:`scale_by_adam`. ``eps`` is added after the bias
    correction of ``v`` (not folded into the learning rate), so the first step moves
    each weight by about ``lr``.

    Reference: D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", 2014.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init, tree_map
    >>> p = init(key(0), [2, 2], dtype="float64")
    >>> opt = adam(0.01)
    >>> u, _ = opt.update(tree_map(lambda w: w + 3.0, p), opt.init(p), p)
    >>> np.round(u.layers[0].b, 6).tolist()
    [-0.01, -0.01]
    """
    return chain(scale_by_adam(b1, b2, eps), scale_by_learning_rate(lr))


def adamw(
    lr: LearningRate = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
) -> Optimizer:
    """Adam with decoupled weight decay, as ``torch.optim.AdamW``:
    ``p <- p - lr (m_hat / (sqrt(v_hat) + eps) + weight_decay p)``.

    With ``weight_decay = 0`` it is exactly :func:`adam`.

    Reference: I. Loshchilov, F. Hutter, "Decoupled Weight Decay Regularization", 2019.

    >>> [part.name for part in adamw(1e-3).spec.parts]
    ['scale_by_adam', 'add_decayed_weights', 'scale_by_learning_rate']
    """
    return chain(
        scale_by_adam(b1, b2, eps), add_decayed_weights(weight_decay), scale_by_learning_rate(lr)
    )


class CountState(NamedTuple):
    count: int  # type: ignore[assignment]  # updates seen so far


def count_updates() -> Optimizer:
    """Leaves the updates as they are and counts them: gives a step count to an
    optimizer whose own state keeps none (see :func:`step_count`).

    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> p = init(key(0), [2, 2])
    >>> counter = count_updates()
    >>> counter.update(p, counter.init(p), p)[1].count
    1
    """

    def init(params: Params) -> CountState:
        del params
        return CountState(0)

    def update(updates: Params, state: CountState, params: Params):
        del params
        return updates, CountState(state.count + 1)

    return Optimizer(init, update, Spec("count_updates"))


def step_count(state: Any) -> int | None:
    """The number of updates an optimizer's state has seen: its first ``count``.

    Every built-in optimizer ends with :func:`scale_by_learning_rate`, which counts;
    ``None`` when no transformation in the state keeps a count.

    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> step_count(adam().init(init(key(0), [2, 2])))
    0
    """
    if isinstance(state, tuple) and not isinstance(state, Params):
        if "count" in getattr(state, "_fields", ()):
            return int(state.count)  # type: ignore[call-overload]
        for part in state:
            found = step_count(part)
            if found is not None:
                return found
    return None
