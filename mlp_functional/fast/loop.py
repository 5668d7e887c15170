"""The training loop on private flat buffers: the textbook epoch, run in place.

It visits the same batches in the same order, draws the same dropout masks and
augmentation keys from the same keys, and logs the same figures as
:func:`mlp_functional.train.run_epoch`; only the arithmetic's home differs. The
state is copied into fresh buffers when an epoch starts (:func:`to_fast`) and handed
back read-only when it ends, so the boundary stays pure.

>>> import numpy as np
>>> import mlp_functional as mf
>>> from mlp_functional.train import regimen
>>> x = np.random.default_rng(0).random((64, 2))
>>> y = (x[:, 0] > x[:, 1]).astype(np.int64)
>>> state = mf.init_state(mf.key(0), mf.init(mf.key(1), [2, 16, 2]), mf.adam(0.05))
>>> state, log = run_epoch(state, x, y, regimen(64, batch_size=16))
>>> state.step, log.steps
(4, 4)
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ..features import PIXEL_SCALE, as_rows, to_features
from ..params import Params, buffer_views, unravel
from ..random import Key, split
from ..regularize import dropout_masks
from ..train import (
    DivergenceError,
    EpochLog,
    Regimen,
    Tally,
    TrainState,
    epoch_keys,
    epoch_log,
    epoch_order,
)
from . import backend
from .kernels import Workspace, backprop, workspace
from .overlap import overlap_for
from .rules import Step, adam_sums, compile_chain
from .state import FastState, from_fast, leaves, to_fast

__all__ = ["optimizer_step", "run_epoch"]

Array = np.ndarray
Batch = tuple[Array, Array, tuple[Array, ...] | None]


def _batches(
    x: Array,
    y: Array,
    order: Array,
    plan: Regimen,
    keys: tuple[Key, Key],
    params: Params,
) -> Iterator[Batch]:
    """The textbook's minibatches, gathered and converted into buffers kept across steps."""
    rows = as_rows(x)
    n_batches = math.ceil(len(order) / plan.batch_size)
    dropout_keys = split(keys[0], n_batches) if plan.dropout else ()
    augment_keys = split(keys[1], n_batches) if plan.augment else ()
    dtype, widths = params.dtype, params.sizes[1:-1]
    features = np.empty((plan.batch_size, rows.shape[1]), dtype)
    direct = rows.dtype == features.dtype  # gather straight into the features buffer
    kernels = backend.compiled()
    fused = kernels is not None and rows.dtype == np.uint8 and rows.flags.c_contiguous
    scale = features.dtype.type(PIXEL_SCALE)
    gathered = None if direct or fused else np.empty((plan.batch_size, rows.shape[1]), rows.dtype)
    for i in range(n_batches):
        idx = order[i * plan.batch_size : (i + 1) * plan.batch_size]
        n = len(idx)
        if fused:  # gather and convert in one pass
            xb = features[:n]
            kernels.gather_features(rows, idx, scale, xb)  # type: ignore[union-attr]
        elif gathered is None:
            xb = rows.take(idx, axis=0, out=features[:n])
        else:
            xb = to_features(rows.take(idx, axis=0, out=gathered[:n]), dtype, out=features[:n])
        if plan.augment is not None:
            xb = plan.augment(augment_keys[i], xb)
        masks = None
        if plan.dropout:
            masks = dropout_masks(dropout_keys[i], n, widths, plan.dropout, dtype)
        yield xb, y[idx], masks


def _chain(state: TrainState) -> list[tuple[str, Any]]:
    assert state.optimizer.spec is not None
    return [(spec.name, spec.hyper) for spec, _ in leaves(state.optimizer.spec, state.opt_state)]


def compile_step(chain: list[tuple[str, Any]]) -> Step:
    """The optimizer step: the fused compiled pass when the kernels and the chain's
    shape allow, else the NumPy passes."""
    if backend.compiled() is not None:
        from .fused import fused_chain

        fused = fused_chain(chain)
        if fused is not None:
            return fused.step
    return compile_chain(chain)


def optimizer_step(state: TrainState) -> tuple[Any, Array, list[list[Any]]]:
    """The compiled optimizer step with fresh flat params and slots, for timing it alone."""
    fast = to_fast(state)
    slots = [list(slot.values) for slot in fast.slots]
    return compile_step(_chain(state)), fast.p, slots


class _DivergedError(Exception):
    def __init__(self, step: int, loss: float) -> None:
        self.step = step
        self.loss = loss


def _train(
    state: TrainState,
    batches: Iterable[Batch],
    smoothing: float,
    progress: Callable[[int], None] | None,
    batch_size: int,
) -> tuple[TrainState, Tally]:
    chain = _chain(state)
    step = compile_step(chain)
    fast = to_fast(state)
    slots = [list(slot.values) for slot in fast.slots]
    adams = [
        (slot, hyper)
        for slot, (name, hyper) in zip(slots, chain, strict=True)
        if name == "scale_by_adam"
    ]
    for slot, hyper in adams:
        adam_sums(slot, hyper["b1"], hyper["b2"], into_sums=True)
    p = fast.p
    g = np.empty_like(p)
    scratch = np.empty_like(p)
    live: Params = unravel(p, state.params)
    grads = buffer_views(g, state.params)
    space: Workspace | None = None
    tally = Tally()
    count = state.step
    overlap = overlap_for(chain, state.params, p, g, slots, batch_size)
    try:
        for xb, yb, masks in batches:
            if space is None:
                space = workspace(state.params, len(xb))
            if overlap is not None:  # the update runs beside back propagation
                overlap.wait()
                ready = overlap.begin()
                loss, predicted = backprop(
                    live, xb, yb, grads, space, masks, smoothing, ready, overlap.blocks
                )
            else:
                loss, predicted = backprop(live, xb, yb, grads, space, masks, smoothing)
            if not math.isfinite(loss):
                raise _DivergedError(count, loss)
            if overlap is None:
                step(p, g, slots, scratch)
            count += 1
            correct = int(np.count_nonzero(predicted == yb))
            tally = Tally(
                tally.loss_sum + loss * len(yb), tally.correct + correct, tally.seen + len(yb)
            )
            if progress is not None:
                progress(len(yb))
        if overlap is not None:
            overlap.wait()
    finally:
        if overlap is not None:
            overlap.close()
    for slot, hyper in adams:
        adam_sums(slot, hyper["b1"], hyper["b2"], into_sums=False)
    new = FastState(
        p, tuple(s._replace(values=tuple(v)) for s, v in zip(fast.slots, slots, strict=True))
    )
    return from_fast(new, state), tally


def run_epoch(state: TrainState, x: Array, y: Array, plan: Regimen) -> tuple[TrainState, EpochLog]:
    """One epoch of :func:`mlp_functional.train.run_epoch`, computed in place."""
    started = time.perf_counter()
    keys = epoch_keys(state.key)
    order = epoch_order(keys.shuffle, len(x), plan.rows)

    def train(
        limit: int | None, progress: Callable[[int], None] | None
    ) -> tuple[TrainState, Tally]:
        batches = _batches(x, y, order, plan, (keys.dropout, keys.augment), state.params)
        limited = itertools.islice(batches, limit)
        return _train(state, limited, plan.label_smoothing, progress, plan.batch_size)

    with np.errstate(over="ignore", invalid="ignore"):
        try:
            end, tally = train(None, plan.progress)
        except _DivergedError as diverged:
            good_steps = diverged.step - 1 - state.step
            last_good = None
            if good_steps >= 0:
                replayed, replay_tally = train(good_steps, None)
                last_good = replayed._replace(key=keys.next, tally=replay_tally)
            raise DivergenceError(diverged.step, diverged.loss, last_good) from None
    end = end._replace(key=keys.next, tally=tally)
    return end, epoch_log(state, end, plan, len(x), started)
