"""A whole optimizer chain as one compiled pass over the flat buffers.

Every transformation the fast engine knows is linear in the gradient ``g`` and the
params ``p``, except the one moment a chain may hold (momentum or Adam). So a chain
reduces, step by step, to a few scalars: before the moment the updates are
``u = a g + c p`` (clipping scales ``a`` and ``c``, L2 adds to ``c``), after it they
are ``s * direction + d p`` (weight decay adds to ``d``, the learning rate scales
both). :func:`fused_chain` works those scalars out in Python, once a step, and
:func:`mlp_functional.fast.compiled.fused_update` applies them in one loop, to the
whole buffer or to any slice of it (a layer whose gradient is ready).

A chain of another shape (two moments, clipping after the moment) gets None, and the
NumPy passes of :mod:`mlp_functional.fast.rules` run it.

>>> import numpy as np
>>> step = fused_chain([("scale_by_learning_rate", {"lr": 0.5})])
>>> p, g, slots = np.zeros(3), np.ones(3), [[0]]
>>> step.step(p, g, slots, np.empty(3))
>>> p.tolist(), slots
([-0.5, -0.5, -0.5], [[1]])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..optimizers import learning_rate_at
from . import compiled
from .rules import flush_moments, moment_indices, step_counts

__all__ = ["Coefficients", "FusedChain", "fused_chain"]

Array = np.ndarray

_MOMENTS = frozenset({"trace_momentum", "scale_by_adam"})
_LINEAR = frozenset(
    {
        "identity",
        "count_updates",
        "clip_by_global_norm",
        "add_l2",
        "add_decayed_weights",
        "scale_by_learning_rate",
    }
)


class Coefficients(NamedTuple):
    """This step's scalars for :func:`~mlp_functional.fast.compiled.fused_update`."""

    kind: int
    a: float
    c: float
    beta: tuple[float, float]
    epsc: float
    s: float
    d: float


class FusedChain:
    """A chain's step as :meth:`prepare` (the scalars, counts advanced) and :meth:`apply`
    (the pass over ``[lo, hi)``); :meth:`step` does both for the whole buffer."""

    def __init__(self, chain: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        self.chain = [(name, dict(hyper)) for name, hyper in chain]
        names = [name for name, _ in chain]
        self.moment = next((i for i, name in enumerate(names) if name in _MOMENTS), None)
        self.moments = moment_indices(names)
        self.global_norm = "clip_by_global_norm" in names

    def prepare(self, p: Array, g: Array, slots: Sequence[list[Any]]) -> Coefficients:
        """The step's scalars; advances every count. Clipping reads all of ``g``."""
        kind, a, c, s, d = compiled.PLAIN, 1.0, 0.0, 1.0, 0.0
        beta, epsc, after = (0.0, 0.0), 0.0, False
        for (name, hyper), slot in zip(self.chain, slots, strict=True):
            if name == "count_updates":
                slot[0] += 1
            elif name == "clip_by_global_norm":
                norm = compiled.update_norm(g, p, g.dtype.type(a), g.dtype.type(c))
                if norm > hyper["max_norm"]:
                    factor = hyper["max_norm"] / (norm + 1e-6)
                    a, c = a * factor, c * factor
            elif name in ("add_l2", "add_decayed_weights"):
                if after:
                    d += hyper["rate"]
                else:
                    c += hyper["rate"]
            elif name == "trace_momentum":
                kind = compiled.NESTEROV if hyper["nesterov"] else compiled.MOMENTUM
                beta, after = (hyper["beta"], 0.0), True
            elif name == "scale_by_adam":
                b1, b2 = hyper["b1"], hyper["b2"]
                t = slot[0] + 1
                slot[0] = t
                scale = math.sqrt((1 - b2**t) / (1 - b2))  # see rules._adam
                kind, beta, after = compiled.ADAM, (b1, b2), True
                s, epsc = (1 - b1) / (1 - b1**t) * scale, hyper["eps"] * scale
            elif name == "scale_by_learning_rate":
                rate = -learning_rate_at(hyper["lr"], slot[0])
                slot[0] += 1
                if after:
                    s, d = s * rate, d * rate
                else:
                    a, c = a * rate, c * rate
        if not after:  # no moment: the updates a g + c p are the direction, as they are
            s, d = 1.0, 0.0
        return Coefficients(kind, a, c, beta, epsc, s, d)

    def apply(
        self, k: Coefficients, p: Array, g: Array, slots: Sequence[list[Any]], lo: int, hi: int
    ) -> None:
        """The pass over entries ``[lo, hi)`` of the buffers."""
        m1 = m2 = p[:0]
        if self.moment is not None:
            buffers = [v for v in slots[self.moment] if isinstance(v, np.ndarray)]
            m1 = buffers[0][lo:hi]
            m2 = buffers[-1][lo:hi]
        cast = p.dtype.type
        compiled.fused_update(
            p[lo:hi],
            g[lo:hi],
            m1,
            m2,
            k.kind,
            cast(k.a),
            cast(k.c),
            np.array(k.beta, p.dtype),
            cast(k.epsc),
            cast(k.s),
            cast(k.d),
        )

    def finish(self, counts: Sequence[int | None], slots: Sequence[list[Any]]) -> None:
        """After the step: the moments' periodic subnormal flush."""
        flush_moments(self.moments, counts, slots)

    def step(self, p: Array, g: Array, slots: list[list[Any]], scratch: Array) -> None:
        """The whole step, as :func:`mlp_functional.fast.rules.compile_chain`'s."""
        del scratch
        counts = step_counts(slots)
        self.apply(self.prepare(p, g, slots), p, g, slots, 0, p.size)
        self.finish(counts, slots)


def fused_chain(chain: Sequence[tuple[str, Mapping[str, Any]]]) -> FusedChain | None:
    """The fused form of ``chain``, or None when its shape has none (see the module)."""
    names = [name for name, _ in chain]
    moments = [i for i, name in enumerate(names) if name in _MOMENTS]
    if len(moments) > 1 or not all(n in _LINEAR or n in _MOMENTS for n in names):
        return None
    if moments and "clip_by_global_norm" in names[moments[0] :]:
        return None
    return FusedChain(chain)
