"""Training: one step, one epoch, and ``fit`` as a lazy iterator of epochs.

Everything here is a pure function of its inputs: the shuffling comes from the
state's key, the new state is returned, and the arrays handed in are untouched.
Inside :func:`train_epoch` the work happens in private flat buffers that are
updated in place (as JAX donates buffers), which is what makes it fast; only
the boundary is pure.

>>> import numpy as np
>>> from mlp_functional.random import key
>>> from mlp_functional.params import init
>>> from mlp_functional.optimizers import adam
>>> x = np.random.default_rng(0).random((64, 2))
>>> y = (x[:, 0] > x[:, 1]).astype(np.int64)
>>> state = init_state(key(0), init(key(1), [2, 16, 2]), adam(0.05))
>>> for state, log in fit(state, x, y, batch_size=16, epochs=20):
...     pass
>>> log.epoch, log.accuracy > 0.9, state.step
(20, True, 80)
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import reduce
from typing import Any, NamedTuple

import numpy as np

from .backprop import Workspace, backprop, workspace
from .features import as_rows, to_features
from .optimizers import Optimizer, apply_rule
from .params import Params, freeze, ravel, unravel
from .predict import evaluate
from .random import Key, generator, split
from .regularize import check_rate, dropout_mask
from .validate import check_batch

__all__ = [
    "DivergenceError",
    "EpochLog",
    "TrainState",
    "fit",
    "init_state",
    "minibatches",
    "train_epoch",
    "train_step",
]

Array = np.ndarray
Augment = Callable[[Key, Array], Array]


class TrainState(NamedTuple):
    """Everything training carries from step to step.

    Attributes:
      params: the model.
      opt_state: the optimizer's state (step count and moment buffers).
      key: the random key the next epoch shuffles with.
      step: optimizer steps taken so far.
      optimizer: the ``(init, update)`` pair that ``opt_state`` belongs to.
    """

    params: Params
    opt_state: Any
    key: Key
    step: int
    optimizer: Optimizer


class EpochLog(NamedTuple):
    """What one epoch did.

    ``loss`` and ``accuracy`` are running figures over the epoch's batches, each
    measured before its own update (as Keras and PyTorch loops report them);
    ``val_*`` are measured after the epoch, NaN without validation data.
    """

    epoch: int
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    learning_rate: float
    seconds: float
    steps: int


class DivergenceError(FloatingPointError):
    """The loss became NaN or infinite at ``step``.

    ``last_good`` is the latest state whose loss was still finite (the state one step
    earlier, rebuilt exactly by replaying the epoch), or ``None`` when the state the
    call started from already failed.
    """

    def __init__(self, step: int, loss: float, last_good: TrainState | None) -> None:
        super().__init__(
            f"training diverged at step {step}: loss is {loss}; try a smaller learning rate "
            "or inputs normalised to [0, 1] (the last state with a finite loss is in .last_good)"
        )
        self.step = step
        self.loss = loss
        self.last_good = last_good


def init_state(key: Key, params: Params, optimizer: Optimizer) -> TrainState:
    """A fresh training state: the optimizer initialised on ``params``, step 0.

    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> from mlp_functional.optimizers import sgd
    >>> init_state(key(0), init(key(1), [3, 2]), sgd(0.1)).step
    0
    """
    return TrainState(params, optimizer.init(params), key, 0, optimizer)


def train_step(state: TrainState, xb: Any, yb: Any) -> TrainState:
    """One step of gradient descent on one batch: gradient, then the optimizer's update.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> from mlp_functional.optimizers import sgd
    >>> s = init_state(key(0), init(key(1), [3, 2]), sgd(0.1))
    >>> train_step(s, np.ones((4, 3)), np.array([0, 1, 0, 1])).step
    1
    """
    xb, yb = check_batch(state.params, xb, yb)
    try:
        _, new_state = _pure_step(state, to_features(xb, state.params.dtype), yb)
    except _DivergedError as diverged:
        raise DivergenceError(diverged.step, diverged.loss, None) from None
    return new_state


def _pure_step(
    state: TrainState,
    xb: Array,
    yb: Array,
    masks: Sequence[Array] | None = None,
    smoothing: float = 0.0,
) -> tuple[tuple[float, Array], TrainState]:
    params = state.params
    flat = np.empty(ravel(params).size, params.dtype)
    loss, predicted = backprop(params, xb, yb, unravel(flat, params), None, masks, smoothing)
    if not math.isfinite(loss):
        raise _DivergedError(state.step, loss)
    grads = unravel(freeze(flat), params)
    new_params, opt_state = state.optimizer.update(grads, state.opt_state, params)
    return (loss, predicted), state._replace(
        params=new_params, opt_state=opt_state, step=state.step + 1
    )


def minibatches(order: Array, batch_size: int) -> Iterator[Array]:
    """Consecutive slices of ``order``; the last one may be shorter.

    >>> [b.tolist() for b in minibatches(np.arange(5), 2)]
    [[0, 1], [2, 3], [4]]
    """
    return (order[i : i + batch_size] for i in range(0, len(order), batch_size))


class _Running(NamedTuple):
    """What the epoch's reduce carries from batch to batch."""

    step: int
    loss_sum: float
    correct: int
    seen: int

    def after(self, loss: float, predicted: Array, labels: Array) -> _Running:
        correct = int(np.count_nonzero(predicted == labels))
        n = len(labels)
        return _Running(
            self.step + 1, self.loss_sum + loss * n, self.correct + correct, self.seen + n
        )


class _Regimen(NamedTuple):
    """Which rows an epoch visits and how batches are made from them."""

    batch_size: int
    dropout: float = 0.0
    augment: Augment | None = None
    rows: Array | None = None
    smoothing: float = 0.0
    progress: Callable[[int], None] | None = None


Batch = tuple[Array, Array, list[Array] | None]


def _batch_maker(
    state: TrainState, x: Array, y: Array, regimen: _Regimen, keys: tuple[Key, Key], reuse: bool
) -> Callable[[int, Array], Batch]:
    """``(i, indices) -> (features, labels, dropout masks)`` for the epoch's i-th batch.

    Dropout masks are drawn in batch order from one generator, augmentation gets a
    key per batch; both only from the epoch's keys, so a replay sees the same batches.
    With ``reuse`` the gathered pixels and features go into buffers kept across steps.
    """
    dtype = state.params.dtype
    rows = as_rows(x)
    widths = state.params.sizes[1:-1]
    dropout_key, augment_key = keys
    rng = generator(dropout_key) if regimen.dropout else None
    n_batches = math.ceil(_epoch_size(x, regimen) / regimen.batch_size)
    augment_keys = split(augment_key, n_batches) if regimen.augment else ()
    gathered = np.empty((regimen.batch_size, rows.shape[1]), rows.dtype) if reuse else None
    features = np.empty((regimen.batch_size, rows.shape[1]), dtype) if reuse else None

    def make(i: int, idx: Array) -> Batch:
        n = len(idx)
        if gathered is not None and features is not None:
            pixels = rows.take(idx, axis=0, out=gathered[:n])
            xb = to_features(pixels, dtype, out=features[:n])
        else:
            xb = to_features(rows[idx], dtype)
        if regimen.augment is not None:
            xb = regimen.augment(augment_keys[i], xb)
        masks = None
        if rng is not None:
            masks = [dropout_mask(rng, (n, w), regimen.dropout, dtype) for w in widths]
        return xb, y[idx], masks

    return make


def _check_batch_size(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got batch_size={batch_size!r}")


def _regimen(
    batch_size: int,
    dropout: float,
    augment: Augment | None,
    rows: Any,
    n: int,
    smoothing: float,
    progress: Callable[[int], None] | None,
) -> _Regimen:
    _check_batch_size(batch_size)
    if augment is not None and not callable(augment):
        raise ValueError(f"augment must be a function (key, batch) -> batch, got {augment!r}")
    if rows is not None:
        rows = np.asarray(rows)
        if rows.ndim != 1 or rows.dtype.kind not in "ui":
            raise ValueError(f"rows must be a 1-D array of row indices, got shape {rows.shape}")
        if rows.size and (int(rows.min()) < 0 or int(rows.max()) >= n):
            raise ValueError(f"rows must index the {n} examples of x, got values outside [0, {n})")
    if not (isinstance(smoothing, (int, float)) and 0 <= smoothing < 1):
        raise ValueError(f"label_smoothing must be in [0, 1), got label_smoothing={smoothing!r}")
    return _Regimen(batch_size, check_rate(dropout), augment, rows, float(smoothing), progress)


def _epoch_size(x: Array, regimen: _Regimen) -> int:
    return len(x) if regimen.rows is None else len(regimen.rows)


def train_epoch(
    state: TrainState,
    x: Any,
    y: Any,
    *,
    batch_size: int = 128,
    dropout: float = 0.0,
    augment: Augment | None = None,
    rows: Any = None,
    label_smoothing: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> tuple[TrainState, EpochLog]:
    """One pass over ``(x, y)`` in minibatches shuffled with the state's key.

    Args:
      state: from :func:`init_state` or a previous epoch.
      x: ``(N, D)`` floats, or uint8 images ``(N, 28, 28)`` converted to [0, 1] one
        batch at a time (no full float copy is made).
      y: ``(N,)`` integer labels.
      batch_size: examples per step; the last batch may be smaller.
      dropout: rate of inverted dropout on every hidden layer during training.
      augment: optional ``(key, features) -> features`` applied to each float batch
        of shape ``(B, D)`` (see :mod:`mlp_functional.augment`); labels are untouched.
      rows: train on these row indices of ``x`` only (say, the training part of a
        train/validation split), without copying them out of ``x``.
      label_smoothing: train towards ``(1 - s) onehot(y) + s / classes``.
      progress: called with each batch's size once its step is done, for progress
        bars (a side effect on the side, as ``toolz.do``; the result does not depend on it).

    Returns:
      ``(new_state, log)``; every example is visited exactly once.

    Raises:
      DivergenceError: the loss became non-finite.
    """
    x, labels = check_batch(state.params, x, y)
    regimen = _regimen(batch_size, dropout, augment, rows, len(x), label_smoothing, progress)
    return _epoch(state, x, labels, regimen)


def _epoch(state: TrainState, x: Array, y: Array, regimen: _Regimen) -> tuple[TrainState, EpochLog]:
    started = time.perf_counter()
    next_key, shuffle_key, dropout_key, augment_key = split(state.key, 4)
    order = generator(shuffle_key).permutation(_epoch_size(x, regimen))
    if regimen.rows is not None:
        order = regimen.rows[order]
    loop = _epoch_pure if state.optimizer.rule is None else _epoch_inplace
    reuse = loop is _epoch_inplace

    def run_batches(limit: int | None = None) -> tuple[TrainState, _Running]:
        make = _batch_maker(state, x, y, regimen, (dropout_key, augment_key), reuse)
        batches: Iterable[Batch] = itertools.starmap(
            make, itertools.islice(enumerate(minibatches(order, regimen.batch_size)), limit)
        )
        if regimen.progress is not None and limit is None:
            batches = _reporting(batches, regimen.progress)
        return loop(state, batches, regimen.smoothing)

    # Overflow shows up as a non-finite loss, which the loop turns into a DivergenceError
    # naming the step; NumPy's own warnings on the way there would only be noise.
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            new_state, run = run_batches()
        except _DivergedError as diverged:
            good_steps = diverged.step - 1 - state.step
            last_good = None
            if good_steps >= 0:
                last_good = run_batches(good_steps)[0]._replace(key=next_key)
            raise DivergenceError(diverged.step, diverged.loss, last_good) from None
    rule = state.optimizer.rule
    log = EpochLog(
        epoch=new_state.step // max(1, math.ceil(_epoch_size(x, regimen) / regimen.batch_size)),
        loss=run.loss_sum / max(run.seen, 1),
        accuracy=run.correct / max(run.seen, 1),
        val_loss=math.nan,
        val_accuracy=math.nan,
        learning_rate=rule.learning_rate(max(run.step - 1, 0)) if rule else math.nan,
        seconds=time.perf_counter() - started,
        steps=run.step - state.step,
    )
    return new_state._replace(key=next_key), log


def _epoch_pure(
    state: TrainState, batches: Iterable[Batch], smoothing: float
) -> tuple[TrainState, _Running]:
    """The plain loop for optimizers without a flat rule: one pure step per batch."""

    def step(carry: tuple[TrainState, _Running], batch: Batch) -> tuple[TrainState, _Running]:
        current, run = carry
        xb, yb, masks = batch
        (loss, predicted), new = _pure_step(current, xb, yb, masks, smoothing)
        return new, run.after(loss, predicted, yb)

    return reduce(step, batches, (state, _Running(state.step, 0.0, 0, 0)))


def _epoch_inplace(
    state: TrainState, batches: Iterable[Batch], smoothing: float
) -> tuple[TrainState, _Running]:
    """The fast loop: the optimizer's flat rule applied to private buffers."""
    rule = state.optimizer.rule
    assert rule is not None
    params = state.params
    p = ravel(params)
    slots = tuple(ravel(s) for s in state.opt_state[1:])
    g = np.empty_like(p)
    scratch = np.empty_like(p)
    live = unravel(p, params)
    grads = unravel(g, params)
    space: Workspace | None = None
    opt_step = state.opt_state.step - state.step

    def step(run: _Running, batch: Batch) -> _Running:
        nonlocal space
        xb, yb, masks = batch
        if space is None:
            space = workspace(params, len(xb))
        loss, predicted = backprop(live, xb, yb, grads, space, masks, smoothing)
        if not math.isfinite(loss):
            raise _DivergedError(run.step, loss)
        apply_rule(rule, p, g, slots, opt_step + run.step, scratch)
        return run.after(loss, predicted, yb)

    run = reduce(step, batches, _Running(state.step, 0.0, 0, 0))
    frozen = unravel(freeze(p), params)
    opt_state = type(state.opt_state)(
        opt_step + run.step, *(unravel(freeze(s), params) for s in slots)
    )
    return state._replace(params=frozen, opt_state=opt_state, step=run.step), run


def _reporting(batches: Iterable[Batch], progress: Callable[[int], None]) -> Iterator[Batch]:
    for batch in batches:
        yield batch
        progress(len(batch[1]))


class _DivergedError(Exception):
    def __init__(self, step: int, loss: float) -> None:
        self.step = step
        self.loss = loss


def fit(
    state: TrainState,
    x: Any,
    y: Any,
    *,
    batch_size: int = 128,
    epochs: int | None = None,
    validation: tuple[Any, Any] | None = None,
    dropout: float = 0.0,
    augment: Augment | None = None,
    rows: Any = None,
    label_smoothing: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[TrainState, EpochLog]]:
    """Train epoch after epoch, lazily: yields ``(state, log)`` after each one.

    Stop whenever you like (``break``, ``itertools.islice``, ``toolz.take``), look at
    any state, or resume from it with another ``fit`` call: nothing runs until the
    next epoch is asked for.

    Args:
      state: where to start.
      x, y: training data, as for :func:`train_epoch`.
      batch_size: examples per step.
      epochs: how many epochs to yield; ``None`` goes on until you stop.
      validation: optional ``(x_val, y_val)``, evaluated after each epoch.
      dropout, augment, rows, label_smoothing, progress: as for :func:`train_epoch`.
    """
    if epochs is not None and (not isinstance(epochs, int) or epochs < 0):
        raise ValueError(f"epochs must be a non-negative integer or None, got epochs={epochs!r}")
    x, labels = check_batch(state.params, x, y)
    regimen = _regimen(batch_size, dropout, augment, rows, len(x), label_smoothing, progress)
    val = None
    if validation is not None:
        val = check_batch(state.params, *validation)
    for _ in itertools.count() if epochs is None else range(epochs):
        state, log = _epoch(state, x, labels, regimen)
        if val is not None:
            val_loss, val_accuracy = evaluate(state.params, val[0], val[1])
            log = log._replace(val_loss=val_loss, val_accuracy=val_accuracy)
        yield state, log
