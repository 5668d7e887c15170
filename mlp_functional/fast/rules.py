"""One fast form of each optimizer rule, registered against the textbook's own factories.

Every transformation the fast engine knows is linear in the gradient ``g`` and the params
``p``, except the one moment a chain may hold (momentum or Adam). So a chain reduces,
step by step, to a few scalars: before the moment the updates are ``u = a g + c p``
(clipping scales ``a`` and ``c``, L2 adds to ``c``), after it they are
``s * direction + d p`` (weight decay adds to ``d``, the learning rate scales both).
:data:`RULES` says, for each textbook factory (``scale_by_adam``, ``trace_momentum``, ...),
how its transformation moves those scalars; :class:`FusedChain` works them out once a
step, and one pass, :func:`fused_update`, applies them to the whole buffer or to any slice
of it (a layer whose gradient is ready): the compiled C kernel (:mod:`.native`), else
the NumPy form below, the same arithmetic.

Adam's moments run as decayed sums ``mu / (1 - b1)`` and ``nu / (1 - b2)``, two passes a
step fewer (see :func:`adam_sums`); with ``c = sqrt((1 - b2**t) / (1 - b2))`` the direction
``mu_hat / (sqrt(nu_hat) + eps)`` equals ``(1 - b1) / (1 - b1**t) * c * S1 / (sqrt(S2) + eps c)``.

The max-norm constraint is no scalar: once the pass has updated a layer, its weights'
columns are projected onto their ball (:meth:`FusedChain.constrain`, one more pass over
that layer's weights), which needs the layers' shapes; it must end the chain.

A chain of another shape (two moments, clipping after the moment, max-norm before the
end, a user's own rule) has no fast form: :func:`fused_chain` gives None and the
textbook engine runs it.

>>> import numpy as np
>>> from mlp_functional.textbook import optimizers
>>> step = fused_chain([(optimizers.scale_by_learning_rate, {"lr": 0.5})])
>>> p, g, slots = np.zeros(3), np.ones(3), [[0]]
>>> step.step(p, g, slots, np.empty(3))
>>> p.tolist(), slots
([-0.5, -0.5, -0.5], [[1]])
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from ..textbook import optimizers as tb
from ..textbook.params import Params
from . import backend
from .kernels import zero_subnormals

__all__ = [
    "CHUNK",
    "FLUSH_EVERY",
    "RULES",
    "Coefficients",
    "FusedChain",
    "adam_sums",
    "flush_subnormals",
    "fused_chain",
    "fused_update",
    "max_norm_columns",
    "step_counts",
    "update_norm",
    "weight_shapes",
]

Array = np.ndarray

#: Moment kinds of :func:`fused_update`.
PLAIN, MOMENTUM, NESTEROV, ADAM = 0, 1, 2, 3
#: Every this many steps, moment buffers are cleared of subnormal numbers.
FLUSH_EVERY = 64
#: Entries per slice when the NumPy form runs a step piece by piece (it stays in cache).
CHUNK = 1 << 16


class Coefficients(NamedTuple):
    """A step's scalars: ``u = a g + c p``; the moment ``kind`` with ``beta`` (and Adam's
    ``epsc``); ``p += s * direction + d * p``. ``after``: a moment has been seen."""

    kind: int = PLAIN
    a: float = 1.0
    c: float = 0.0
    beta: tuple[float, float] = (0.0, 0.0)
    epsc: float = 0.0
    s: float = 1.0
    d: float = 0.0
    after: bool = False


Norm = Callable[[float, float], float]
"""``(a, c) -> ||a g + c p||``: what clipping by global norm sees."""
Rule = Callable[[Coefficients, Mapping[str, Any], list[Any], Norm], Coefficients]
"""How one transformation moves the step's scalars; it advances its own count in ``slot``."""


def _count(k: Coefficients, hyper: Mapping[str, Any], slot: list[Any], norm: Norm):
    slot[0] += 1
    return k


def _clip(k: Coefficients, hyper: Mapping[str, Any], slot: list[Any], norm: Norm):
    length = norm(k.a, k.c)
    if length <= hyper["max_norm"]:
        return k
    factor = hyper["max_norm"] / (length + 1e-6)
    return k._replace(a=k.a * factor, c=k.c * factor)


def _add_params(k: Coefficients, hyper: Mapping[str, Any], slot: list[Any], norm: Norm):
    rate = hyper["rate"]
    return k._replace(d=k.d + rate) if k.after else k._replace(c=k.c + rate)


def _momentum(k: Coefficients, hyper: Mapping[str, Any], slot: list[Any], norm: Norm):
    kind = NESTEROV if hyper["nesterov"] else MOMENTUM
    return k._replace(kind=kind, beta=(hyper["beta"], 0.0), after=True)


def _adam(k: Coefficients, hyper: Mapping[str, Any], slot: list[Any], norm: Norm):
    b1, b2 = hyper["b1"], hyper["b2"]
    t = slot[0] = slot[0] + 1
    c = math.sqrt((1 - b2**t) / (1 - b2))
    s = (1 - b1) / (1 - b1**t) * c
    return k._replace(kind=ADAM, beta=(b1, b2), epsc=hyper["eps"] * c, s=s, after=True)


def _learning_rate(k: Coefficients, hyper: Mapping[str, Any], slot: list[Any], norm: Norm):
    lr = hyper["lr"]
    rate = -tb.learning_rate_at(lr, slot[0])
    slot[0] += 1
    if k.after:
        return k._replace(s=k.s * rate, d=k.d * rate)
    return k._replace(a=k.a * rate, c=k.c * rate)


#: The fast form of each textbook transformation, by the factory that builds it.
RULES: Mapping[Callable[..., tb.Optimizer], Rule] = MappingProxyType(
    {
        tb.identity: lambda k, hyper, slot, norm: k,
        tb.count_updates: _count,
        tb.clip_by_global_norm: _clip,
        tb.add_l2: _add_params,
        tb.add_decayed_weights: _add_params,
        tb.trace_momentum: _momentum,
        tb.scale_by_adam: _adam,
        tb.scale_by_learning_rate: _learning_rate,
        # The projection follows the pass over a layer: see FusedChain.constrain.
        tb.max_norm: lambda k, hyper, slot, norm: k,
    }
)
_MOMENTS = (tb.trace_momentum, tb.scale_by_adam)
#: What may follow max-norm in a chain that has a fast form.
_AFTER_MAX_NORM = (tb.max_norm, tb.count_updates, tb.identity)


def update_norm(g: Array, p: Array, a: Any, c: Any) -> float:
    """``|| a g + c p ||``, accumulated in float64 (the NumPy form of the compiled one)."""
    u = a * g.astype(np.float64) + c * p.astype(np.float64) if c else a * g.astype(np.float64)
    return math.sqrt(float(np.dot(u, u)))


def fused_update(p, g, m1, m2, kind, a, c, beta, epsc, s, d) -> None:
    """One optimizer step of a whole chain, in NumPy passes over ``p``, ``g`` (overwritten)
    and the moments: the same arithmetic as the compiled
    :func:`mlp_functional.fast.native.fused_update`."""
    if a != 1:
        g *= a
    if c:
        g += c * p
    if kind == ADAM:
        m1 *= beta[0]
        m1 += g
        np.square(g, out=g)
        m2 *= beta[1]
        m2 += g
        np.sqrt(m2, out=g)
        g += epsc
        np.divide(m1, g, out=g)
    elif kind in (MOMENTUM, NESTEROV):
        m1 *= beta[0]
        m1 += g
        if kind == NESTEROV:
            g += beta[0] * m1
        else:
            g[:] = m1
    if d:
        p += d * p
    g *= s
    p += g


def max_norm_columns(w: Array, radius: Any) -> None:
    """Scale each column of ``w`` whose norm exceeds ``radius`` back onto that norm, in
    place: ``w_j <- w_j radius / max(||w_j||, radius)`` (the NumPy form of the compiled
    one). Columns within the ball are not written.

    >>> w = np.array([[6.0, 0.1], [8.0, 0.0]])
    >>> max_norm_columns(w, 5.0)
    >>> w.tolist()
    [[3.0, 0.1], [4.0, 0.0]]
    """
    scale = radius / np.maximum(np.sqrt(np.einsum("ij,ij->j", w, w)), radius)
    over = scale < 1
    if over.any():
        w[:, over] *= scale[over]


def flush_subnormals(count: int, *buffers: Array) -> None:
    """At every :data:`FLUSH_EVERY`-th update, set subnormal entries of ``buffers`` to zero.

    A moment whose gradient has stopped (a dead unit, a pixel that is always blank)
    decays geometrically into the subnormal range below ~1.2e-38 in float32, where
    x86 processors compute each operation dozens of times more slowly: an epoch of
    Adam slowed by a third within five epochs before this flush. Values that small
    change no parameter (their update is below 1e-30).

    >>> v = np.array([1e-40, 1.0], np.float32)
    >>> flush_subnormals(FLUSH_EVERY - 1, v)
    >>> v.tolist()
    [0.0, 1.0]
    """
    if count % FLUSH_EVERY != FLUSH_EVERY - 1:
        return
    kernels = backend.compiled()
    for buffer in buffers:
        if kernels is not None:  # one pass instead of NumPy's three
            kernels.flush_subnormals(buffer)
        else:
            zero_subnormals(buffer)


def adam_sums(slot: list[Any], b1: float, b2: float, *, into_sums: bool) -> None:
    """Rescale Adam's moments in place: ``mu -> mu / (1 - b1)`` (and ``nu`` with ``b2``)
    before an epoch, and back after it: with sums ``S = mu / (1 - b1)`` the update
    ``S <- b1 S + g`` needs no multiply of ``g``; the factor returns in the step's constant.
    """
    _, mu, nu = slot
    if into_sums:
        mu /= 1 - b1
        nu /= 1 - b2
    else:
        mu *= 1 - b1
        nu *= 1 - b2


def step_counts(slots: Sequence[list[Any]]) -> list[int | None]:
    """Each transformation's update count before a step (None where it keeps none)."""
    return [slot[0] if slot and isinstance(slot[0], int) else None for slot in slots]


Chain = Sequence[tuple[Callable[..., tb.Optimizer], Mapping[str, Any]]]


Shapes = Sequence[tuple[int, int]]
"""The layers' weight shapes ``(fan_in, fan_out)``, input first."""


def weight_shapes(params: Params) -> tuple[tuple[int, int], ...]:
    """The weight shapes of ``params``' layers, as :class:`FusedChain` takes them."""
    return tuple((layer.w.shape[0], layer.w.shape[1]) for layer in params.layers)


class FusedChain:
    """A chain's step as :meth:`prepare` (the scalars, counts advanced), :meth:`apply`
    (the pass over ``[lo, hi)``) and :meth:`constrain` (a layer's max-norm projection);
    :meth:`step` does all three for the whole buffer. ``shapes``: the layers' weight
    shapes, which max-norm needs (the buffers hold ``w`` then ``b``, layer by layer)."""

    def __init__(self, chain: Chain, kernels: Any, shapes: Shapes = ()) -> None:
        self.chain = [(RULES[rule], hyper) for rule, hyper in chain]
        rules = [rule for rule, _ in chain]
        self.moment = next((i for i, rule in enumerate(rules) if rule in _MOMENTS), None)
        self.global_norm = tb.clip_by_global_norm in rules
        self.radii = tuple(hyper["radius"] for rule, hyper in chain if rule is tb.max_norm)
        if self.radii and not shapes:
            raise ValueError("a chain with max_norm needs the layers' shapes to project them")
        starts = itertools.accumulate((i * o + o for i, o in shapes), initial=0)
        self.weights = tuple((lo, i, o) for lo, (i, o) in zip(starts, shapes, strict=False))
        self.kernels = kernels

    def prepare(self, p: Array, g: Array, slots: Sequence[list[Any]]) -> Coefficients:
        """The step's scalars; advances every count. Clipping reads all of ``g``."""
        norm_of = update_norm if self.kernels is None else self.kernels.update_norm
        cast = g.dtype.type

        def norm(a: float, c: float) -> float:
            return float(norm_of(g, p, cast(a), cast(c)))

        k = Coefficients()
        for (rule, hyper), slot in zip(self.chain, slots, strict=True):
            k = rule(k, hyper, slot, norm)
        # no moment: the updates a g + c p are the direction, as they are
        return k if k.after else k._replace(s=1.0, d=0.0)

    def apply(
        self, k: Coefficients, p: Array, g: Array, slots: Sequence[list[Any]], lo: int, hi: int
    ) -> None:
        """The pass over entries ``[lo, hi)`` of the buffers."""
        m1 = m2 = p[:0]
        if self.moment is not None:
            buffers = [v for v in slots[self.moment] if isinstance(v, np.ndarray)]
            m1, m2 = buffers[0][lo:hi], buffers[-1][lo:hi]
        update = fused_update if self.kernels is None else self.kernels.fused_update
        # Python floats meet the arrays' dtype as NumPy's weak scalars: rounded to it first.
        update(p[lo:hi], g[lo:hi], m1, m2, k.kind, k.a, k.c, k.beta, k.epsc, k.s, k.d)

    def constrain(self, p: Array, layer: int) -> None:
        """Max-norm's projection of ``layer``'s weights in ``p``, once its pass is done
        (nothing for a chain without max-norm)."""
        if not self.radii:
            return
        lo, fan_in, fan_out = self.weights[layer]
        w = p[lo : lo + fan_in * fan_out].reshape(fan_in, fan_out)
        project = max_norm_columns if self.kernels is None else self.kernels.max_norm_columns
        for radius in self.radii:
            project(w, p.dtype.type(radius))

    def finish(self, counts: Sequence[int | None], slots: Sequence[list[Any]]) -> None:
        """After the step: the moment's periodic subnormal flush, by its own count (or the
        chain's first count, for momentum, which keeps none) before the step."""
        if self.moment is None:
            return
        own = counts[self.moment]
        first = next((c for c in counts if c is not None), 0)
        moments = (v for v in slots[self.moment] if isinstance(v, np.ndarray))
        flush_subnormals(own if own is not None else first, *moments)

    def step(self, p: Array, g: Array, slots: list[list[Any]], scratch: Array) -> None:
        """The whole step: the compiled pass over the whole buffer, or the NumPy passes
        :data:`CHUNK` entries at a time (the scalars, clipping's norm among them, come
        from the whole gradient first), then max-norm's projections."""
        del scratch
        counts = step_counts(slots)
        k = self.prepare(p, g, slots)
        piece = p.size if self.kernels is not None else CHUNK
        for lo in range(0, p.size, piece):
            self.apply(k, p, g, slots, lo, min(lo + piece, p.size))
        for layer in range(len(self.weights)):
            self.constrain(p, layer)
        self.finish(counts, slots)


def fused_chain(chain: Chain, kernels: Any = "auto", shapes: Shapes = ()) -> FusedChain | None:
    """The fast form of ``chain``, or None when it has none (see the module); its passes
    are ``kernels``' (the compiled module, None for NumPy; ``"auto"``: the backend's).
    A chain with max-norm needs the layers' weight ``shapes``.

    >>> fused_chain([(tb.scale_by_adam, {}), (tb.trace_momentum, {})]) is None
    True
    >>> fused_chain([(tb.max_norm, {"radius": 3.0}), (tb.scale_by_adam, {})]) is None
    True
    """
    rules = [rule for rule, _ in chain]
    moments = [i for i, rule in enumerate(rules) if rule in _MOMENTS]
    if len(moments) > 1 or not all(rule in RULES for rule in rules):
        return None
    if moments and tb.clip_by_global_norm in rules[moments[0] :]:
        return None
    if tb.max_norm in rules and not set(rules[rules.index(tb.max_norm) :]) <= set(_AFTER_MAX_NORM):
        return None
    return FusedChain(chain, backend.compiled() if kernels == "auto" else kernels, shapes)
