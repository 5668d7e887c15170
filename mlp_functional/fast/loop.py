"""The training loop on private flat buffers: the textbook epoch, run in place.

It visits the same batches in the same order, draws the same dropout masks (of the hidden
layers and of the inputs) and augmentation keys from the same keys, and tallies the same
figures as :func:`mlp_functional.textbook.train.train_epoch`; only the arithmetic's home
differs.
The state is copied into fresh buffers when an epoch starts (:func:`to_fast`) and handed
back read-only when it ends, so the boundary stays pure.

>>> import numpy as np
>>> import mlp_functional as mf
>>> from mlp_functional.engine.epochs import regimen
>>> x = np.random.default_rng(0).random((64, 2))
>>> y = (x[:, 0] > x[:, 1]).astype(np.int64)
>>> state = mf.init_state(mf.key(0), mf.init(mf.key(1), [2, 16, 2]), mf.adam(0.05))
>>> state, (loss_sum, correct, seen, weight) = run_epoch(state, x, y, regimen(64, batch_size=16))
>>> state.step, seen
(4, 64)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ..features import PIXEL_SCALE, as_rows, to_features
from ..textbook.optimizers import scale_by_adam
from ..textbook.params import Params, unravel
from ..textbook.random import Key, split
from ..textbook.train import TrainState, dropout_masks, epoch_order, input_mask
from . import backend
from .kernels import Workspace, backprop, workspace
from .overlap import overlap_for
from .rules import adam_sums, fused_chain, weight_shapes
from .state import FastState, buffer_views, from_fast, rule_chain, to_fast

__all__ = ["Diverged", "Tally", "optimizer_step", "run_epoch"]

Array = np.ndarray
Batch = tuple[Array, Array, tuple[Array, ...] | None, Array | None]
Tally = tuple[float, int, int, float]
"""An epoch's running figures: summed loss, correct answers, examples seen, and the weight
the loss is summed over (``mlp_functional.engine.epochs.Tally``)."""
Plan = Any
"""The engine's checked settings of an epoch (``mlp_functional.engine.epochs.Regimen``):
``batch_size``, ``dropout``, ``augment``, ``rows``, ``label_smoothing``, ``progress``,
``sample_weight``, ``input_dropout``."""


# A signal from an epoch to the engine, which raises the DivergenceError users see.
class Diverged(FloatingPointError):  # noqa: N818
    """An epoch met a non-finite loss at ``step`` (the updates done before it), before
    that step's update: raised by either engine's epoch, turned by the engine into a
    ``DivergenceError`` that holds the last good state."""

    def __init__(self, step: int, loss: float) -> None:
        super().__init__(step, loss)
        self.step = step
        self.loss = loss


def _batches(
    x: Array,
    y: Array,
    order: Array,
    plan: Plan,
    keys: tuple[Key, Key],
    params: Params,
) -> Iterator[Batch]:
    """The textbook's minibatches, gathered and converted into buffers kept across steps,
    with their rows' ``sample_weight`` in the parameters' dtype (``None`` without); input
    dropout multiplies a batch into its features buffer, never into the caller's rows."""
    rows = as_rows(x)
    n_batches = math.ceil(len(order) / plan.batch_size)
    dropout_keys = split(keys[0], n_batches) if plan.dropout or plan.input_dropout else ()
    augment_keys = split(keys[1], n_batches) if plan.augment else ()
    dtype, widths = params.dtype, params.sizes[1:-1]
    weights = None if plan.sample_weight is None else plan.sample_weight.astype(dtype)
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
        if plan.input_dropout:  # an augmented batch is a fresh read-only array: out= ours
            mask = input_mask(dropout_keys[i], xb.shape, plan.input_dropout, dtype)
            xb = np.multiply(xb, mask, out=features[:n])
        masks = None
        if plan.dropout:
            masks = dropout_masks(dropout_keys[i], n, widths, plan.dropout, dtype)
        yield xb, y[idx], masks, None if weights is None else weights[idx]


def compile_step(chain: list[tuple[Any, Any]], params: Params) -> Callable[..., None]:
    """The optimizer step ``(p, g, slots, scratch) -> None`` for a model shaped like
    ``params``: the chain's fast form (see :func:`~.rules.fused_chain`)."""
    fused = fused_chain(chain, shapes=weight_shapes(params))
    assert fused is not None, "check supports(state) first"
    return fused.step


def optimizer_step(state: TrainState) -> tuple[Any, Array, list[list[Any]]]:
    """The compiled optimizer step with fresh flat params and slots, for timing it alone."""
    fast = to_fast(state)
    slots = [list(slot.values) for slot in fast.slots]
    return compile_step(rule_chain(state), state.params), fast.p, slots


def _train(
    state: TrainState,
    batches: Iterable[Batch],
    smoothing: float,
    progress: Callable[[int], None] | None,
    batch_size: int,
) -> tuple[TrainState, Tally]:
    chain = rule_chain(state)
    step = compile_step(chain, state.params)
    fast = to_fast(state)
    slots = [list(slot.values) for slot in fast.slots]
    adams = [
        (slot, hyper)
        for slot, (rule, hyper) in zip(slots, chain, strict=True)
        if rule is scale_by_adam
    ]
    for slot, hyper in adams:
        adam_sums(slot, hyper["b1"], hyper["b2"], into_sums=True)
    p = fast.p
    g = np.empty_like(p)
    scratch = np.empty_like(p)
    live: Params = unravel(p, state.params)
    grads = buffer_views(g, state.params)
    space: Workspace | None = None
    loss_sum, correct_sum, seen, weight_sum = 0.0, 0, 0, 0.0
    count = state.step
    overlap = overlap_for(chain, state.params, p, g, slots, batch_size)
    try:
        for xb, yb, masks, wb in batches:
            if space is None:
                space = workspace(state.params, len(xb))
            if overlap is not None:  # the update runs beside back propagation
                overlap.wait()
                ready = overlap.begin()
                loss, predicted = backprop(
                    live, xb, yb, grads, space, masks, smoothing, ready, overlap.blocks, wb
                )
            else:
                loss, predicted = backprop(
                    live, xb, yb, grads, space, masks, smoothing, None, 1, wb
                )
            if not math.isfinite(loss):
                raise Diverged(count, loss)
            if overlap is None:
                step(p, g, slots, scratch)
            count += 1
            correct = int(np.count_nonzero(predicted == yb))
            weight = len(yb) if wb is None else float(wb.sum())
            loss_sum, correct_sum, seen, weight_sum = (
                loss_sum + loss * weight,
                correct_sum + correct,
                seen + len(yb),
                weight_sum + weight,
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
    return from_fast(new, state), (loss_sum, correct_sum, seen, weight_sum)


def run_epoch(
    state: TrainState, x: Array, y: Array, plan: Plan, limit: int | None = None
) -> tuple[TrainState, Tally]:
    """One epoch (its first ``limit`` steps) of the textbook's ``train_epoch``, in place.

    Raises :class:`Diverged` at the first non-finite loss.
    """
    keys = split(state.key, 4)  # the next epoch's, and this one's order, dropout, augment
    order = epoch_order(keys[1], len(x), plan.rows)
    batches = _batches(x, y, order, plan, (keys[2], keys[3]), state.params)
    with np.errstate(over="ignore", invalid="ignore"):
        end, tally = _train(
            state,
            itertools.islice(batches, limit),
            plan.label_smoothing,
            plan.progress,
            plan.batch_size,
        )
    return end._replace(key=keys[0]), tally
