"""Optimizer chains compiled to in-place passes over flat buffers.

Each textbook transformation has a kernel here that turns the gradient buffer ``g``
into the transformation's updates, in place. Scalar factors are not applied at once:
a kernel may leave a pending factor ``scale`` (the updates are ``scale * g``), so that
Adam's bias correction and the learning rate cost one pass together instead of three.
Adam's moments run as decayed sums ``mu / (1 - b1)`` and ``nu / (1 - b2)``, two passes a
step fewer (see :func:`adam_sums`). Elementwise chains run in slices of
:data:`CHUNK` entries that stay in cache.

>>> import numpy as np
>>> p, g = np.zeros(3), np.ones(3)
>>> step = compile_chain([("scale_by_learning_rate", {"lr": 0.5})])
>>> slots = [[0]]
>>> step(p, g, slots, np.empty(3))
>>> p.tolist(), slots
([-0.5, -0.5, -0.5], [[1]])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from ..optimizers import learning_rate_at

__all__ = [
    "CHUNK",
    "FLUSH_EVERY",
    "SUPPORTED",
    "adam_sums",
    "compile_chain",
    "flush_moments",
    "flush_subnormals",
    "moment_indices",
    "step_counts",
]

Array = np.ndarray

#: Transformations with a fast kernel.
SUPPORTED = frozenset(
    {
        "identity",
        "count_updates",
        "clip_by_global_norm",
        "add_l2",
        "add_decayed_weights",
        "trace_momentum",
        "scale_by_adam",
        "scale_by_learning_rate",
    }
)
_GLOBAL = frozenset({"clip_by_global_norm"})  # looks at the whole gradient: never sliced

#: Entries per slice when an elementwise chain runs piece by piece.
CHUNK = 1 << 16
#: Every this many steps, moment buffers are cleared of subnormal numbers.
FLUSH_EVERY = 64


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
    for buffer in buffers:
        np.copyto(buffer, 0, where=np.abs(buffer) < np.finfo(buffer.dtype).tiny)


def adam_sums(slot: list[Any], b1: float, b2: float, *, into_sums: bool) -> None:
    """Rescale Adam's moments in place: ``mu -> mu / (1 - b1)`` (and ``nu`` with ``b2``)
    before an epoch, and back after it.

    With sums ``S = mu / (1 - b1)`` the update ``S <- b1 S + g`` needs no multiply of
    ``g``; the factor returns in the step's constant.
    """
    _, mu, nu = slot
    if into_sums:
        mu /= 1 - b1
        nu /= 1 - b2
    else:
        mu *= 1 - b1
        nu *= 1 - b2


Pending = tuple[float, Array]
"""The updates so far, ``scale * source``: a factor not yet applied, and the buffer
it applies to (the gradient's own buffer, or a moment the updates equal)."""

Kernel = Callable[[Array, Array, list[Any], Array, Pending], Pending]
"""``(p, g, slot, scratch, pending) -> pending``; ``g`` may be overwritten."""


def _materialise(g: Array, pending: Pending) -> Pending:
    scale, source = pending
    if source is not g:
        np.multiply(source, scale, out=g)
    elif scale != 1.0:
        g *= scale
    return 1.0, g


def _identity(hyper: Mapping[str, Any]) -> Kernel:
    del hyper
    return lambda p, g, slot, scratch, pending: pending


def _count(hyper: Mapping[str, Any]) -> Kernel:
    del hyper

    def kernel(p: Array, g: Array, slot: list[Any], scratch: Array, pending: Pending) -> Pending:
        slot[0] += 1
        return pending

    return kernel


def _clip(hyper: Mapping[str, Any]) -> Kernel:
    max_norm = hyper["max_norm"]

    def kernel(p: Array, g: Array, slot: list[Any], scratch: Array, pending: Pending) -> Pending:
        scale, source = pending
        norm = abs(scale) * math.sqrt(float(np.dot(source, source)))
        return (scale * (max_norm / (norm + 1e-6)), source) if norm > max_norm else pending

    return kernel


def _add_params(hyper: Mapping[str, Any]) -> Kernel:
    rate = hyper["rate"]

    def kernel(p: Array, g: Array, slot: list[Any], scratch: Array, pending: Pending) -> Pending:
        if not rate:
            return pending
        scale, source = pending
        if source is not g or scale == 0.0:
            scale, source = _materialise(g, pending)
        # scale * g + rate * p == scale * (g + rate / scale * p): the factor stays pending
        np.multiply(p, rate / scale, out=scratch)
        g += scratch
        return scale, g

    return kernel


def _momentum(hyper: Mapping[str, Any]) -> Kernel:
    beta, nesterov = hyper["beta"], hyper["nesterov"]

    def kernel(p: Array, g: Array, slot: list[Any], scratch: Array, pending: Pending) -> Pending:
        _materialise(g, pending)
        (v,) = slot
        v *= beta
        v += g
        if nesterov:  # g + beta v
            np.multiply(v, beta, out=scratch)
            g += scratch
            return 1.0, g
        return 1.0, v  # the updates are v itself: no copy until a factor applies

    return kernel


def _adam(hyper: Mapping[str, Any]) -> Kernel:
    b1, b2, eps = hyper["b1"], hyper["b2"], hyper["eps"]

    def kernel(p: Array, g: Array, slot: list[Any], scratch: Array, pending: Pending) -> Pending:
        _materialise(g, pending)
        count, grad_sum, square_sum = slot  # mu / (1 - b1) and nu / (1 - b2): see adam_sums
        t = count + 1
        grad_sum *= b1
        grad_sum += g
        np.square(g, out=g)
        square_sum *= b2
        square_sum += g
        # With c = sqrt((1 - b2**t) / (1 - b2)), the direction m_hat / (sqrt(v_hat) + eps)
        # equals (1 - b1) / (1 - b1**t) * c * grad_sum / (sqrt(square_sum) + eps * c).
        c = math.sqrt((1 - b2**t) / (1 - b2))
        np.sqrt(square_sum, out=g)
        g += eps * c
        np.divide(grad_sum, g, out=g)
        slot[0] = t
        return (1 - b1) / (1 - b1**t) * c, g

    return kernel


def _learning_rate(hyper: Mapping[str, Any]) -> Kernel:
    lr = hyper["lr"]

    def kernel(p: Array, g: Array, slot: list[Any], scratch: Array, pending: Pending) -> Pending:
        rate = learning_rate_at(lr, slot[0])
        slot[0] += 1
        return -rate * pending[0], pending[1]

    return kernel


_KERNELS: Mapping[str, Callable[[Mapping[str, Any]], Kernel]] = MappingProxyType(
    {
        "identity": _identity,
        "count_updates": _count,
        "clip_by_global_norm": _clip,
        "add_l2": _add_params,
        "add_decayed_weights": _add_params,
        "trace_momentum": _momentum,
        "scale_by_adam": _adam,
        "scale_by_learning_rate": _learning_rate,
    }
)

Step = Callable[[Array, Array, list[list[Any]], Array], None]


def compile_chain(chain: Sequence[tuple[str, Mapping[str, Any]]]) -> Step:
    """One optimizer step ``(p, g, slots, scratch) -> None`` for a chain of transformations.

    ``slots[i]`` is transformation ``i``'s state as a mutable list (counts and flat
    buffers, Adam's moments as sums); ``g`` and ``scratch`` are overwritten.
    """
    kernels = [_KERNELS[name](hyper) for name, hyper in chain]
    names = [name for name, _ in chain]
    moments = moment_indices(names)
    sliced = not _GLOBAL.intersection(names)

    def run(p: Array, g: Array, slots: Sequence[list[Any]], scratch: Array) -> None:
        pending: Pending = (1.0, g)
        for kernel, slot in zip(kernels, slots, strict=True):
            pending = kernel(p, g, slot, scratch, pending)
        scale, source = pending
        if scale == 1.0:
            p += source
        else:
            p += np.multiply(source, scale, out=g)

    def step(p: Array, g: Array, slots: list[list[Any]], scratch: Array) -> None:
        counts = step_counts(slots)
        if not sliced or p.size <= CHUNK:
            run(p, g, slots, scratch)
        else:
            for start in range(0, p.size, CHUNK):
                piece = slice(start, start + CHUNK)
                sliced_slots = [
                    [v[piece] if isinstance(v, np.ndarray) else v for v in slot] for slot in slots
                ]
                run(p[piece], g[piece], sliced_slots, scratch[piece])
            for slot, piece_slot in zip(slots, sliced_slots, strict=True):
                for i, v in enumerate(piece_slot):
                    if not isinstance(v, np.ndarray):
                        slot[i] = v  # the counts advance once per step, not per slice
        flush_moments(moments, counts, slots)

    return step


def step_counts(slots: Sequence[list[Any]]) -> list[int | None]:
    """Each transformation's update count before a step (None where it keeps none)."""
    return [slot[0] if slot and isinstance(slot[0], int) else None for slot in slots]


def moment_indices(names: Sequence[str]) -> list[int]:
    """Positions of the transformations that keep moments (their buffers need flushing)."""
    return [i for i, name in enumerate(names) if name in ("trace_momentum", "scale_by_adam")]


def flush_moments(
    moments: Sequence[int], counts: Sequence[int | None], slots: Sequence[list[Any]]
) -> None:
    """:func:`flush_subnormals` on each moment's buffers, by its own count (or the chain's
    first count, for momentum, which keeps none) before the step."""
    first = next((c for c in counts if c is not None), 0)
    for i in moments:
        own = counts[i]
        flush_subnormals(
            own if own is not None else first,
            *(v for v in slots[i] if isinstance(v, np.ndarray)),
        )
