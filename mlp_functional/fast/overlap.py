"""The update hidden behind the matrix products: each layer's fused update runs in a
second thread while the main thread computes the backward products of the layers
below it (and, for the first layer, the next batch's gather).

Back propagation calls ``ready(l)`` once layer ``l``'s gradients are written and its
weights have served their last product (``delta @ w.T``); the layer's slice of the
flat buffers is then updated by the compiled kernel, which releases the GIL. The
next step waits for every update before its forward pass. Clipping by global norm
needs the whole gradient first, so such chains run their update after back
propagation, as without overlap.

>>> import mlp_functional as mf
>>> layer_bounds(mf.init(mf.key(0), [3, 4, 2]))
((0, 16), (16, 26))
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from ..params import Params
from . import backend
from .rules import step_counts

__all__ = ["FIRST_LAYER_BLOCKS", "OVERLAP_VARIABLE", "Overlap", "layer_bounds", "overlap_for"]

Array = np.ndarray

#: Set to 0 to run each update after back propagation instead (for measuring), or to
#: the number of blocks of the first layer's weight gradient.
OVERLAP_VARIABLE = "MLP_FUNCTIONAL_OVERLAP"
#: Blocks of the first layer's weight gradient, by default.
FIRST_LAYER_BLOCKS = 1


def layer_bounds(params: Params) -> tuple[tuple[int, int], ...]:
    """Each layer's ``[lo, hi)`` in the flat buffers (``w`` then ``b``, layer by layer)."""
    bounds, lo = [], 0
    for layer in params.layers:
        hi = lo + layer.w.size + layer.b.size
        bounds.append((lo, hi))
        lo = hi
    return tuple(bounds)


class Overlap:
    """One worker thread applying a fused chain's update layer by layer."""

    def __init__(
        self,
        fused: Any,
        params: Params,
        p: Array,
        g: Array,
        slots: list[list[Any]],
        blocks: int = 1,
    ) -> None:
        self.fused, self.p, self.g, self.slots = fused, p, g, slots
        self.bounds = layer_bounds(params)
        self.shapes = tuple(layer.w.shape for layer in params.layers)
        self.blocks = blocks
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="update")
        self.pending: list[Future[None]] = []
        self.counts: list[int | None] | None = None

    def begin(self) -> Callable[[int], None]:
        """Start a step (its scalars, its counts advanced); returns backprop's ``ready``."""
        self.counts = step_counts(self.slots)
        k = self.fused.prepare(self.p, self.g, self.slots)

        def ready(layer: int, rows: tuple[int, int] | None = None) -> None:
            lo, hi = self.bounds[layer]
            if rows is not None:  # rows [start, stop) of w; the bias goes with the last
                n_rows, width = self.shapes[layer]
                lo, hi = lo + rows[0] * width, (lo + rows[1] * width if rows[1] < n_rows else hi)
            job = self.worker.submit(self.fused.apply, k, self.p, self.g, self.slots, lo, hi)
            self.pending.append(job)

        return ready

    def wait(self) -> None:
        """Let every update of the step finish (and the moments' periodic flush run)."""
        for job in self.pending:
            job.result()
        self.pending.clear()
        if self.counts is not None:
            self.fused.finish(self.counts, self.slots)
            self.counts = None

    def close(self) -> None:
        """Stop the worker; updates still running are waited for, results dropped."""
        for job in self.pending:
            job.exception()
        self.pending.clear()
        self.worker.shutdown(wait=True)


def overlap_for(
    chain: Sequence[tuple[str, Mapping[str, Any]]],
    params: Params,
    p: Array,
    g: Array,
    slots: list[list[Any]],
) -> Overlap | None:
    """An :class:`Overlap` when the compiled kernels run, the chain fuses without a
    global norm, and ``MLP_FUNCTIONAL_OVERLAP`` is not ``0``; else None.

    ``MLP_FUNCTIONAL_OVERLAP=k`` with ``k > 1`` also splits the first layer's weight
    gradient into ``k`` blocks (see :func:`~mlp_functional.fast.kernels.backprop`).
    """
    setting = os.environ.get(OVERLAP_VARIABLE, str(FIRST_LAYER_BLOCKS)).strip()
    blocks = int(setting) if setting.isdigit() else FIRST_LAYER_BLOCKS
    if backend.compiled() is None or blocks == 0:
        return None
    from .fused import fused_chain

    fused = fused_chain(chain)
    if fused is None or fused.global_norm:
        return None
    return Overlap(fused, params, p, g, slots, blocks)
