"""Training: one step, one epoch, and ``fit`` as a lazy iterator of epochs.

A step is back propagation followed by the optimizer's update; an epoch is a
reduce of that step over shuffled minibatches::

    train_epoch(state, x, y) == toolz.reduce(train_step, minibatches(x, y, ...), state)

Everything is a pure function of its inputs: the shuffling, dropout and
augmentation come from the state's key, a new state is returned, and the arrays
handed in are untouched.

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
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
import toolz

from .backprop import trace_loss_and_grad
from .features import as_rows, to_features
from .optimizers import (
    Optimizer,
    apply_updates,
    chain,
    count_updates,
    learning_rate_at,
    step_count,
)
from .params import Params
from .predict import evaluate
from .random import Key, generator, split
from .readonly import freeze
from .regularize import check_rate, dropout_masks
from .validate import check_batch, check_smoothing

__all__ = [
    "Augment",
    "Batch",
    "DivergenceError",
    "EpochKeys",
    "EpochLog",
    "Regimen",
    "Tally",
    "TrainState",
    "epoch_keys",
    "epoch_log",
    "epoch_order",
    "epoch_stream",
    "fit",
    "fit_inputs",
    "init_state",
    "learning_rate_of",
    "minibatches",
    "regimen",
    "run_epoch",
    "train_epoch",
    "train_step",
]

Array = np.ndarray
Augment = Callable[[Key, Array], Array]


class Tally(NamedTuple):
    """Running figures of the epoch so far: summed loss, correct answers, examples seen."""

    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0

    def add(self, loss: float, logits: Array, labels: Array) -> Tally:
        correct = int(np.count_nonzero(logits.argmax(axis=1) == labels))
        n = len(labels)
        return Tally(self.loss_sum + loss * n, self.correct + correct, self.seen + n)


class TrainState(NamedTuple):
    """Everything training carries from step to step.

    Attributes:
      params: the model.
      opt_state: the optimizer's state (its step count and moment estimates).
      key: the random key the next epoch shuffles with.
      optimizer: the ``(init, update)`` pair that ``opt_state`` belongs to.
      tally: the running loss and accuracy of the epoch in progress.
    """

    params: Params
    opt_state: Any
    key: Key
    optimizer: Optimizer
    tally: Tally = Tally()

    @property
    def step(self) -> int:
        """Optimizer steps taken so far: the optimizer state's own count, the one counter."""
        count = step_count(self.opt_state)
        assert count is not None, "init_state gives every optimizer a count"
        return count


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


class Batch(NamedTuple):
    """One minibatch: float features ``x``, labels ``y`` and the key of its dropout masks."""

    x: Array
    y: Array
    dropout_key: Key | None = None


def init_state(key: Key, params: Params, optimizer: Optimizer) -> TrainState:
    """A fresh training state: the optimizer initialised on ``params``, step 0.

    An optimizer whose state keeps no step count is chained with
    :func:`~mlp_functional.optimizers.count_updates`, so the state always knows its step.

    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> from mlp_functional.optimizers import sgd
    >>> init_state(key(0), init(key(1), [3, 2]), sgd(0.1)).step
    0
    """
    opt_state = optimizer.init(params)
    if step_count(opt_state) is None:
        optimizer = chain(optimizer, count_updates())
        opt_state = optimizer.init(params)
    return TrainState(params, opt_state, key, optimizer)


@toolz.curry
def train_step(
    state: TrainState, batch: Batch, *, dropout: float = 0.0, label_smoothing: float = 0.0
) -> TrainState:
    """One step of gradient descent on one batch: back propagation, then the update.

    Curried: ``train_step(dropout=0.2)`` is the step function an epoch reduces with.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> from mlp_functional.optimizers import sgd
    >>> s = init_state(key(0), init(key(1), [3, 2]), sgd(0.1))
    >>> train_step(s, Batch(np.ones((4, 3)), np.array([0, 1, 0, 1]))).step
    1
    """
    params = state.params
    masks = None
    if dropout:
        assert batch.dropout_key is not None, "minibatches gives each batch a dropout key"
        widths = params.sizes[1:-1]
        masks = dropout_masks(batch.dropout_key, len(batch.y), widths, dropout, params.dtype)
    loss, trace, grads = trace_loss_and_grad(params, batch.x, batch.y, masks, label_smoothing)
    if not math.isfinite(loss):
        raise DivergenceError(state.step, loss, None)
    updates, opt_state = state.optimizer.update(grads, state.opt_state, params)
    return state._replace(
        params=apply_updates(params, updates),
        opt_state=opt_state,
        tally=state.tally.add(loss, trace.logits, batch.y),
    )


class EpochKeys(NamedTuple):
    """The four keys an epoch splits its state's key into."""

    next: Key  # the key of the state after the epoch
    shuffle: Key
    dropout: Key
    augment: Key


def epoch_keys(key: Key) -> EpochKeys:
    """``split(key, 4)``, named.

    >>> from mlp_functional.random import key
    >>> len(epoch_keys(key(0)))
    4
    """
    return EpochKeys(*split(key, 4))


def epoch_order(key: Key, n: int, rows: Array | None = None) -> Array:
    """The order an epoch visits the examples in: a permutation of ``range(n)``, or of
    ``rows`` when training on a subset.

    >>> from mlp_functional.random import key
    >>> sorted(epoch_order(key(0), 5).tolist())
    [0, 1, 2, 3, 4]
    """
    if rows is None:
        return generator(key).permutation(n)
    return rows[generator(key).permutation(len(rows))]


class Regimen(NamedTuple):
    """How an epoch trains, beyond the data: checked once by :func:`regimen`."""

    batch_size: int = 128
    dropout: float = 0.0
    augment: Augment | None = None
    rows: Array | None = None
    label_smoothing: float = 0.0
    progress: Callable[[int], None] | None = None


def regimen(
    n: int,
    batch_size: int = 128,
    dropout: float = 0.0,
    augment: Augment | None = None,
    rows: Any = None,
    label_smoothing: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> Regimen:
    """Check an epoch's settings for data of ``n`` examples; each error says how to fix it.

    >>> regimen(10, batch_size=4).batch_size
    4
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got batch_size={batch_size!r}")
    if augment is not None and not callable(augment):
        raise ValueError(f"augment must be a function (key, batch) -> batch, got {augment!r}")
    if rows is not None:
        rows = np.asarray(rows)
        if rows.ndim != 1 or rows.dtype.kind not in "ui":
            raise ValueError(f"rows must be a 1-D array of row indices, got shape {rows.shape}")
        if rows.size and (int(rows.min()) < 0 or int(rows.max()) >= n):
            raise ValueError(f"rows must index the {n} examples of x, got values outside [0, {n})")
    return Regimen(
        batch_size, check_rate(dropout), augment, rows, check_smoothing(label_smoothing), progress
    )


def minibatches(x: Array, y: Array, keys: EpochKeys, plan: Regimen, dtype: Any) -> Iterator[Batch]:
    """The epoch's batches: examples in :func:`epoch_order`, ``plan.batch_size`` at a time
    (the last batch may be shorter), as float features, augmented when asked.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> batches = minibatches(np.eye(5), np.arange(5), epoch_keys(key(0)), Regimen(2), np.float64)
    >>> [len(b.y) for b in batches]
    [2, 2, 1]
    """
    rows = as_rows(x)
    order = epoch_order(keys.shuffle, len(x), plan.rows)
    indices = [order[i : i + plan.batch_size] for i in range(0, len(order), plan.batch_size)]
    dropout_keys = split(keys.dropout, len(indices)) if plan.dropout else (None,) * len(indices)
    augment_keys = split(keys.augment, len(indices)) if plan.augment else ()
    for i, idx in enumerate(indices):
        features = to_features(rows[idx], dtype)
        if plan.augment is not None:
            features = plan.augment(augment_keys[i], features)
        yield Batch(freeze(np.asarray(features)), freeze(y[idx]), dropout_keys[i])


def learning_rate_of(optimizer: Optimizer, step: int) -> float:
    """The learning rate a built-in optimizer uses at ``step``; NaN when it has none.

    >>> from mlp_functional.optimizers import adam
    >>> learning_rate_of(adam(0.01), 5)
    0.01
    """
    specs = [optimizer.spec] if optimizer.spec is not None else []
    while specs:
        spec = specs.pop(0)
        if spec.name == "scale_by_learning_rate":
            return learning_rate_at(spec.hyper["lr"], step)
        specs.extend(spec.parts)
    return math.nan


def epoch_log(
    before: TrainState, after: TrainState, plan: Regimen, n: int, started: float
) -> EpochLog:
    """The :class:`EpochLog` of an epoch that took ``before`` to ``after``.

    >>> import numpy as np, time
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> from mlp_functional.optimizers import sgd
    >>> s = init_state(key(0), init(key(1), [2, 2]), sgd(0.1))
    >>> after = train_step(s, Batch(np.zeros((4, 2)), np.array([0, 1, 0, 1])))
    >>> log = epoch_log(s, after, Regimen(batch_size=4), 4, time.perf_counter())
    >>> log.epoch, log.steps, round(log.loss, 4)  # log 2
    (1, 1, 0.6931)
    """
    per_epoch = max(1, math.ceil((n if plan.rows is None else len(plan.rows)) / plan.batch_size))
    seen = max(after.tally.seen, 1)
    return EpochLog(
        epoch=after.step // per_epoch,
        loss=after.tally.loss_sum / seen,
        accuracy=after.tally.correct / seen,
        val_loss=math.nan,
        val_accuracy=math.nan,
        learning_rate=learning_rate_of(after.optimizer, max(after.step - 1, 0)),
        seconds=time.perf_counter() - started,
        steps=after.step - before.step,
    )


def _reporting(batches: Iterator[Batch], progress: Callable[[int], None]) -> Iterator[Batch]:
    for batch in batches:
        yield batch
        progress(len(batch.y))


def run_epoch(state: TrainState, x: Array, y: Array, plan: Regimen) -> tuple[TrainState, EpochLog]:
    """:func:`train_epoch` on inputs already checked (``fit`` checks them once):
    ``toolz.reduce(train_step, minibatches(...), state)``.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> from mlp_functional.optimizers import sgd
    >>> s = init_state(key(0), init(key(1), [2, 2]), sgd(0.1))
    >>> run_epoch(s, np.ones((5, 2)), np.zeros(5, int), Regimen(2))[0].step
    3
    """
    started = time.perf_counter()
    keys = epoch_keys(state.key)
    step = train_step(dropout=plan.dropout, label_smoothing=plan.label_smoothing)
    start = state._replace(key=keys.next, tally=Tally())

    def batches() -> Iterator[Batch]:
        return minibatches(x, y, keys, plan, state.params.dtype)

    # Overflow shows up as a non-finite loss, which becomes a DivergenceError naming
    # the step; NumPy's own warnings on the way there would only be noise.
    with np.errstate(over="ignore", invalid="ignore"):
        reported = batches() if plan.progress is None else _reporting(batches(), plan.progress)
        try:
            end = toolz.reduce(step, reported, start)
        except DivergenceError as diverged:
            good_steps = diverged.step - 1 - state.step
            last_good = None
            if good_steps >= 0:
                last_good = toolz.reduce(step, itertools.islice(batches(), good_steps), start)
            raise DivergenceError(diverged.step, diverged.loss, last_good) from None
    return end, epoch_log(state, end, plan, len(x), started)


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

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> from mlp_functional.optimizers import sgd
    >>> s = init_state(key(0), init(key(1), [3, 2]), sgd(0.1))
    >>> s, log = train_epoch(s, np.ones((10, 3)), np.zeros(10, int), batch_size=4)
    >>> s.step, log.steps
    (3, 3)
    """
    x, labels = check_batch(state.params, x, y)
    plan = regimen(len(x), batch_size, dropout, augment, rows, label_smoothing, progress)
    return run_epoch(state, x, labels, plan)


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
      epochs: how many epochs to run from ``state`` on; ``None`` goes on until you stop.
      validation: optional ``(x_val, y_val)``, evaluated after each epoch.
      dropout, augment, rows, label_smoothing, progress: as for :func:`train_epoch`.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> from mlp_functional.optimizers import sgd
    >>> s = init_state(key(0), init(key(1), [3, 2]), sgd(0.1))
    >>> [log.epoch for _, log in fit(s, np.ones((8, 3)), np.zeros(8, int), epochs=2)]
    [1, 2]
    """
    x, labels, plan, val = fit_inputs(
        state,
        x,
        y,
        epochs,
        validation,
        batch_size,
        dropout,
        augment,
        rows,
        label_smoothing,
        progress,
    )
    return epoch_stream(run_epoch, evaluate, state, x, labels, plan, epochs, val)


def fit_inputs(
    state: TrainState,
    x: Any,
    y: Any,
    epochs: int | None,
    validation: tuple[Any, Any] | None,
    *settings: Any,
) -> tuple[Array, Array, Regimen, tuple[Array, Array] | None]:
    """:func:`fit`'s arguments, checked once for every epoch to come.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> from mlp_functional.optimizers import sgd
    >>> s = init_state(key(0), init(key(1), [2, 2]), sgd(0.1))
    >>> fit_inputs(s, np.ones((4, 2)), np.zeros(4, int), -1, None)
    Traceback (most recent call last):
    ...
    ValueError: epochs must be a non-negative integer or None, got epochs=-1
    """
    if epochs is not None and (
        isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0
    ):
        raise ValueError(f"epochs must be a non-negative integer or None, got epochs={epochs!r}")
    x, labels = check_batch(state.params, x, y)
    plan = regimen(len(x), *settings)
    val = None if validation is None else check_batch(state.params, *validation)
    return x, labels, plan, val


def epoch_stream(
    one_epoch: Callable[[TrainState, Array, Array, Regimen], tuple[TrainState, EpochLog]],
    score: Callable[[Params, Array, Array], tuple[float, float]],
    state: TrainState,
    x: Array,
    y: Array,
    plan: Regimen,
    epochs: int | None,
    val: tuple[Array, Array] | None,
) -> Iterator[tuple[TrainState, EpochLog]]:
    """Epochs of ``one_epoch``, each scored on ``val`` with ``score`` when given.

    >>> import numpy as np
    >>> from mlp_functional.random import key
    >>> from mlp_functional.params import init
    >>> from mlp_functional.optimizers import sgd
    >>> s = init_state(key(0), init(key(1), [2, 2]), sgd(0.1))
    >>> x, y = np.ones((4, 2)), np.array([0, 1, 0, 1])
    >>> logs = epoch_stream(run_epoch, evaluate, s, x, y, Regimen(2), 3, (x, y))
    >>> [(log.epoch, log.val_accuracy) for _, log in logs]
    [(1, 0.5), (2, 0.5), (3, 0.5)]
    """
    for _ in itertools.count() if epochs is None else range(epochs):
        state, log = one_epoch(state, x, y, plan)
        if val is not None:
            val_loss, val_accuracy = score(state.params, *val)
            log = log._replace(val_loss=val_loss, val_accuracy=val_accuracy)
        yield state, log
