"""The update hidden behind the matrix products: each layer's fused update runs in a
second thread while the main thread computes the backward products of the layers
below it (and, for the first layer, the next batch's gather).

Back propagation calls ``ready(l)`` once layer ``l``'s gradients are written and its
weights have served their last product (``delta @ w.T``); the layer's slice of the
flat buffers is then updated by the compiled kernel, which releases the GIL. The
next step waits for every update before its forward pass. Clipping by global norm
needs the whole gradient first, so such chains run their update after back
propagation, as without overlap. Max-norm's projection of a layer follows that layer's
last update job on the same worker, so it sees the layer's weights fully updated, and
back propagation no longer reads them by then.

What can hide is the update of the layers above the first, behind the first layer's
weight gradient (the step's last product); the first layer's own update has only the
next batch's gather beside it, and the worker thread takes a core from the BLAS. So by
default the overlap runs when :func:`hidden_share` is at least :data:`MIN_HIDDEN_SHARE`
and the BLAS runs more than one thread: the choice measured faster in five of the six
two-thread configurations of ``benchmarks/kernels.py`` (BENCHMARKS.md).

>>> import mlp_functional as mf
>>> layer_bounds(mf.init(mf.key(0), [3, 4, 2]))
((0, 16), (16, 26))
>>> reference = [784, 256, 128, 10]
>>> round(hidden_share(reference, 128), 5), round(hidden_share([784, 1024, 1024, 10], 128), 5)
(0.00133, 0.01031)
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from ..textbook.params import Params
from . import backend
from .rules import fused_chain, step_counts, weight_shapes

__all__ = [
    "FIRST_LAYER_BLOCKS",
    "MIN_HIDDEN_SHARE",
    "OVERLAP_VARIABLE",
    "Overlap",
    "blas_threads",
    "hidden_share",
    "layer_bounds",
    "overlap_for",
]

Array = np.ndarray

#: Unset or ``auto``: the measured rule (see the module). ``0``: each update after back
#: propagation; ``k`` >= 1: always overlapped, the first layer's weight gradient in k blocks.
OVERLAP_VARIABLE = "MLP_FUNCTIONAL_OVERLAP"
#: Blocks of the first layer's weight gradient, by default.
FIRST_LAYER_BLOCKS = 1
#: Measured at two BLAS threads (shares by :func:`hidden_share`): the overlap was faster
#: at 784-1024-1024-10, batch 128 (0.0103) with either OpenBLAS kernel, slower at
#: 784-256-128-10, batch 512 (0.0003) with either, and at batch 128 (0.0013) slower with
#: the AVX-512 kernel, faster with the AVX2 one; at one BLAS thread slower in all three.
MIN_HIDDEN_SHARE = 0.002


def hidden_share(sizes: Sequence[int], batch_size: int) -> float:
    """Entries of the layers above the first (whose update can run beside the first
    layer's weight gradient) per multiply-add of that product."""
    above = sum(i * o + o for i, o in itertools.pairwise(sizes[1:]))
    return above / (batch_size * sizes[0] * sizes[1])


def blas_threads() -> int:
    """The most threads any loaded BLAS runs (1 when none is found)."""
    from threadpoolctl import threadpool_info

    counts = [i.get("num_threads", 1) for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(counts, default=1)


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
        self.shapes = weight_shapes(params)
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
            n_rows, width = self.shapes[layer]
            last = rows is None or rows[1] >= n_rows
            if rows is not None:  # rows [start, stop) of w; the bias goes with the last
                lo, hi = lo + rows[0] * width, (hi if last else lo + rows[1] * width)
            job = self.worker.submit(self.fused.apply, k, self.p, self.g, self.slots, lo, hi)
            self.pending.append(job)
            if last and self.fused.radii:  # one worker runs jobs in order: the layer is done
                self.pending.append(self.worker.submit(self.fused.constrain, self.p, layer))

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
    chain: Sequence[tuple[Any, Mapping[str, Any]]],
    params: Params,
    p: Array,
    g: Array,
    slots: list[list[Any]],
    batch_size: int,
) -> Overlap | None:
    """An :class:`Overlap` when the compiled kernels run, the chain fuses without a
    global norm, and ``MLP_FUNCTIONAL_OVERLAP`` asks for it (unset: when the share it
    can hide and the BLAS threads make it pay, see the module); else None.

    ``MLP_FUNCTIONAL_OVERLAP=k`` with ``k > 1`` also splits the first layer's weight
    gradient into ``k`` blocks (see :func:`~mlp_functional.fast.kernels.backprop`).
    """
    setting = os.environ.get(OVERLAP_VARIABLE, "auto").strip().lower()
    if backend.compiled() is None or (setting.isdigit() and int(setting) == 0):
        return None
    fused = fused_chain(chain, shapes=weight_shapes(params))
    if fused is None or fused.global_norm:
        return None
    if setting.isdigit():
        return Overlap(fused, params, p, g, slots, int(setting))
    if hidden_share(params.sizes, batch_size) < MIN_HIDDEN_SHARE or blas_threads() < 2:
        return None
    return Overlap(fused, params, p, g, slots, FIRST_LAYER_BLOCKS)
