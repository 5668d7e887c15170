"""What an epoch reports and how a run of epochs is driven, for either engine.

The textbook's :func:`~mlp_functional.textbook.train.fit` is the mathematics; this module
adds what a tool needs around it: the settings of an epoch checked once (:class:`Regimen`),
its running loss and accuracy (:class:`Tally`), the :class:`EpochLog`, a loss that stops
being finite reported as a :class:`DivergenceError` with the last good state (rebuilt by
replaying the epoch), and validation after each epoch.

>>> import numpy as np
>>> import mlp_functional as mf
>>> x = np.random.default_rng(0).random((64, 2))
>>> y = (x[:, 0] > x[:, 1]).astype(np.int64)
>>> state = mf.init_state(mf.key(0), mf.init(mf.key(1), [2, 16, 2]), mf.adam(0.05))
>>> for state, log in mf.fit(state, x, y, batch_size=16, epochs=20, engine="textbook"):
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

from ..fast.loop import Diverged
from ..features import as_rows, to_features
from ..textbook import train as textbook
from ..textbook.optimizers import Optimizer, learning_rate_at, scale_by_learning_rate
from ..textbook.random import Key
from ..textbook.train import Batch, TrainState
from .boundary import read_only
from .checks import check_batch, check_rate, check_rows, check_smoothing, check_validation

__all__ = [
    "Augment",
    "DivergenceError",
    "EpochKeys",
    "EpochLog",
    "Regimen",
    "Tally",
    "epoch_keys",
    "epoch_log",
    "epoch_stream",
    "fit_inputs",
    "learning_rate_of",
    "minibatches",
    "regimen",
    "run_epoch",
    "settle",
    "textbook_epoch",
    "train_step",
]

Array = np.ndarray
Augment = Callable[[Key, Array], Array]


class Tally(NamedTuple):
    """Running figures of an epoch: summed loss, correct answers, examples seen, and the
    total weight the loss is summed over (each batch's mean loss times its weight: its
    size, or the sum of its ``sample_weight``)."""

    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    weight: float = 0.0


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


class Regimen(NamedTuple):
    """How an epoch trains, beyond the data: checked once by :func:`regimen`."""

    batch_size: int = 128
    dropout: float = 0.0
    augment: Augment | None = None
    rows: Array | None = None
    label_smoothing: float = 0.0
    progress: Callable[[int], None] | None = None
    sample_weight: Array | None = None
    input_dropout: float = 0.0


def check_sample_weight(n: int, sample_weight: Any) -> Array | None:
    """``sample_weight`` as a read-only float64 array of one finite weight >= 0 per example
    (``None`` stays ``None``: every weight 1).

    >>> check_sample_weight(3, [1, 2, 0]).tolist()
    [1.0, 2.0, 0.0]
    >>> check_sample_weight(2, [1, -1])
    Traceback (most recent call last):
    ...
    ValueError: sample_weight must hold finite numbers >= 0, one per example; got values below 0
    """
    if sample_weight is None:
        return None
    weights = np.array(sample_weight, dtype=np.float64)
    if weights.shape != (n,):
        raise ValueError(
            f"sample_weight must hold one weight per example: {n} expected, "
            f"got shape {weights.shape}"
        )
    if not np.isfinite(weights).all():
        raise ValueError("sample_weight must hold finite numbers >= 0; got NaN or infinity")
    if (weights < 0).any():
        raise ValueError(
            "sample_weight must hold finite numbers >= 0, one per example; got values below 0"
        )
    weights.flags.writeable = False
    return weights


def regimen(
    n: int,
    batch_size: int = 128,
    dropout: float = 0.0,
    augment: Augment | None = None,
    rows: Any = None,
    label_smoothing: float = 0.0,
    progress: Callable[[int], None] | None = None,
    sample_weight: Any = None,
    input_dropout: float = 0.0,
) -> Regimen:
    """Check an epoch's settings for data of ``n`` examples; each error says how to fix it.

    >>> regimen(10, batch_size=4).batch_size
    4
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got batch_size={batch_size!r}")
    if augment is not None and not callable(augment):
        raise ValueError(f"augment must be a function (key, batch) -> batch, got {augment!r}")
    return Regimen(
        batch_size,
        check_rate(dropout),
        augment,
        check_rows(rows, n),
        check_smoothing(label_smoothing),
        progress,
        check_sample_weight(n, sample_weight),
        check_rate(input_dropout, "input_dropout"),
    )


def settle(n: int, settings: Regimen | None, fields: dict[str, Any]) -> Regimen:
    """The :class:`Regimen` of a call, checked for ``n`` examples: ``settings`` (or the
    defaults) with the ``fields`` given as keywords on top.

    >>> settle(10, Regimen(batch_size=4), {"dropout": 0.5})[:2]
    (4, 0.5)
    >>> settle(10, None, {"batchsize": 4})
    Traceback (most recent call last):
    ...
    TypeError: unknown training setting batchsize: the settings are batch_size, dropout, ...
    """
    unknown = sorted(set(fields) - set(Regimen._fields))
    if unknown:
        known = ", ".join(Regimen._fields)
        raise TypeError(f"unknown training setting {', '.join(unknown)}: the settings are {known}")
    return regimen(n, *(settings or Regimen())._replace(**fields))


def learning_rate_of(optimizer: Optimizer, step: int) -> float:
    """The learning rate a built-in optimizer uses at ``step``; NaN when it has none.

    >>> import mlp_functional as mf
    >>> learning_rate_of(mf.adam(0.01), 5)
    0.01
    """
    found = [optimizer]
    while found:
        opt = found.pop(0)
        if opt.rule is scale_by_learning_rate:
            return learning_rate_at(opt.hyper["lr"], step)
        found.extend(opt.hyper.get("parts", ()))
    return math.nan


def epoch_log(
    before: TrainState, after: TrainState, tally: Tally, plan: Regimen, n: int, started: float
) -> EpochLog:
    """The :class:`EpochLog` of an epoch that took ``before`` to ``after`` with ``tally``.

    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> x, y = np.random.default_rng(0).random((10, 3)), np.arange(10) % 2
    >>> s = mf.init_state(mf.key(0), mf.init(mf.key(1), [3, 2]), mf.sgd(0.1))
    >>> after, _ = mf.train_epoch(s, x, y, batch_size=4)
    >>> log = epoch_log(s, after, Tally(6.0, 7, 10, 10), regimen(10, 4), 10, time.perf_counter())
    >>> log.epoch, log.steps, log.loss, log.accuracy
    (1, 3, 0.6, 0.7)
    """
    per_epoch = max(1, math.ceil((n if plan.rows is None else len(plan.rows)) / plan.batch_size))
    seen = max(tally.seen, 1)
    return EpochLog(
        epoch=after.step // per_epoch,
        loss=tally.loss_sum / (tally.weight or 1),
        accuracy=tally.correct / seen,
        val_loss=math.nan,
        val_accuracy=math.nan,
        learning_rate=learning_rate_of(after.optimizer, max(after.step - 1, 0)),
        seconds=time.perf_counter() - started,
        steps=after.step - before.step,
    )


class EpochKeys(NamedTuple):
    """The four keys an epoch splits its state's key into."""

    next: Key  # the key of the state after the epoch
    shuffle: Key
    dropout: Key
    augment: Key


def epoch_keys(key: Key) -> EpochKeys:
    """``split(key, 4)``, named: what the textbook's epoch splits the state's key into.

    >>> import mlp_functional as mf
    >>> epoch_keys(mf.key(0)).next == mf.split(mf.key(0), 4)[0]
    True
    """
    return EpochKeys(*textbook.split(key, 4))


def minibatches(x: Array, y: Array, keys: EpochKeys, plan: Regimen, dtype: Any) -> Iterator[Batch]:
    """The epoch's batches as the textbook engine trains on them: checked ``x`` (uint8
    images or floats) made float features of ``dtype`` a batch at a time, augmented and
    dropped out (``input_dropout``) when the regimen says so, with their rows'
    ``sample_weight`` in ``dtype`` when it has them.

    >>> import mlp_functional as mf
    >>> keys = epoch_keys(mf.key(0))
    >>> batches = minibatches(np.eye(5), np.arange(5), keys, Regimen(2), np.float64)
    >>> [len(b.y) for b in batches]
    [2, 2, 1]
    """

    def prepare(key: Key, rows: Array) -> Array:
        features = to_features(rows, dtype)
        return features if plan.augment is None else np.asarray(plan.augment(key, features))

    weights = None if plan.sample_weight is None else plan.sample_weight.astype(dtype)
    batches = textbook.minibatches(
        keys,
        as_rows(x),
        y,
        plan.batch_size,
        plan.dropout,
        prepare,
        plan.rows,
        weights,
        input_dropout=plan.input_dropout,
    )
    return map(read_only, batches)


@toolz.curry
def train_step(
    state: TrainState, batch: Batch, *, dropout: float = 0.0, label_smoothing: float = 0.0
) -> TrainState:
    """The textbook's :func:`~mlp_functional.textbook.train.train_step`, a non-finite loss
    raised as a :class:`DivergenceError` (with no last good state: this one failed).

    >>> import mlp_functional as mf
    >>> s = mf.init_state(mf.key(0), mf.init(mf.key(1), [3, 2]), mf.sgd(0.1))
    >>> train_step(s, mf.Batch(np.ones((4, 3)), np.array([0, 1, 0, 1]))).step
    1
    """

    def report(loss: float, logits: Array, batch: Batch) -> None:
        if not math.isfinite(loss):
            raise DivergenceError(state.step, loss, None)

    step = textbook.train_step(dropout=dropout, label_smoothing=label_smoothing, report=report)
    return read_only(step(state, batch))


EpochFunction = Callable[
    [TrainState, Array, Array, Regimen, "int | None"], tuple[TrainState, Tally]
]


def textbook_epoch(
    state: TrainState, x: Array, y: Array, plan: Regimen, limit: int | None = None
) -> tuple[TrainState, Tally]:
    """The textbook's epoch, a reduce of its ``train_step`` over its ``minibatches`` as its
    :func:`~mlp_functional.textbook.train.train_epoch` is, stopped after ``limit`` steps
    for a replay; tallied through ``train_step``'s ``report``, which also stops it at a
    non-finite loss.

    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> x, y = np.random.default_rng(0).random((10, 3)), np.arange(10) % 2
    >>> s = mf.init_state(mf.key(0), mf.init(mf.key(1), [3, 2]), mf.sgd(0.1))
    >>> state, (loss_sum, correct, seen, weight) = textbook_epoch(s, x, y, regimen(10, 4))
    >>> state.step, seen
    (3, 10)
    """
    figures: list[Any] = [0.0, 0, 0, 0]
    step = [state.step]

    def report(loss: float, logits: Array, batch: Batch) -> None:
        if not math.isfinite(loss):
            raise Diverged(step[0], loss)
        weight = len(batch.y) if batch.weights is None else float(batch.weights.sum())
        figures[0] += loss * weight
        figures[1] += int(np.count_nonzero(logits.argmax(axis=1) == batch.y))
        figures[2] += len(batch.y)
        figures[3] += weight
        step[0] += 1
        if plan.progress is not None:
            plan.progress(len(batch.y))

    keys = epoch_keys(state.key)
    batches = minibatches(x, y, keys, plan, state.params.dtype)
    step_once = textbook.train_step(
        dropout=plan.dropout, label_smoothing=plan.label_smoothing, report=report
    )
    end = toolz.reduce(step_once, itertools.islice(batches, limit), state._replace(key=keys.next))
    return end, Tally(*figures)


def run_epoch(
    one_epoch: EpochFunction, state: TrainState, x: Array, y: Array, plan: Regimen
) -> tuple[TrainState, EpochLog]:
    """One epoch of an engine's ``one_epoch``, logged; a non-finite loss becomes a
    :class:`DivergenceError` holding the last good state, rebuilt by replaying the epoch.

    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> x, y = np.random.default_rng(0).random((10, 3)), np.arange(10) % 2
    >>> s = mf.init_state(mf.key(0), mf.init(mf.key(1), [3, 2]), mf.sgd(0.1))
    >>> state, log = run_epoch(textbook_epoch, s, x, y, regimen(10, 4))
    >>> log.steps, log.epoch
    (3, 1)
    """
    started = time.perf_counter()
    # Overflow shows up as a non-finite loss, reported with its step; NumPy's own
    # warnings on the way there would only be noise.
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            end, figures = one_epoch(state, x, y, plan, None)
        except Diverged as diverged:
            # The state before the last update was the last one whose loss was finite.
            good_steps = diverged.step - state.step - 1
            last_good = None
            if good_steps >= 0:
                last_good = one_epoch(state, x, y, plan._replace(progress=None), good_steps)[0]
            raise DivergenceError(diverged.step, diverged.loss, last_good) from None
    return end, epoch_log(state, end, Tally(*figures), plan, len(x), started)


def fit_inputs(
    state: TrainState,
    x: Any,
    y: Any,
    epochs: int | None,
    validation: tuple[Any, ...] | None,
    settings: Regimen | None = None,
    fields: dict[str, Any] | None = None,
) -> tuple[Array, Array, Regimen, tuple[Array, Array, Array | None] | None]:
    """``fit``'s arguments, checked once for every epoch to come.

    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> s = mf.init_state(mf.key(0), mf.init(mf.key(1), [2, 2]), mf.sgd(0.1))
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
    plan = settle(len(x), settings, fields or {})
    val = None if validation is None else check_validation(state.params, validation)
    return x, labels, plan, val


def epoch_stream(
    one_epoch: EpochFunction,
    score: Callable[..., tuple[float, float]],
    state: TrainState,
    x: Array,
    y: Array,
    plan: Regimen,
    epochs: int | None,
    val: tuple[Array, Array, Array | None] | None,
) -> Iterator[tuple[TrainState, EpochLog]]:
    """Epochs of ``one_epoch``, lazily, each scored with ``score(params, x, y, rows=rows)``
    on ``val`` when given: ``(x, y, rows)``, the rows of ``x`` and ``y`` to score
    (``None``: all of them).

    >>> from mlp_functional.engine.inference import evaluate
    >>> import numpy as np
    >>> import mlp_functional as mf
    >>> x, y = np.random.default_rng(0).random((10, 3)), np.arange(10) % 2
    >>> s = mf.init_state(mf.key(0), mf.init(mf.key(1), [3, 2]), mf.sgd(0.1))
    >>> logs = epoch_stream(textbook_epoch, evaluate, s, x, y, regimen(10, 4), 2, (x, y, None))
    >>> [(log.epoch, 0 <= log.val_accuracy <= 1) for _, log in logs]
    [(1, True), (2, True)]
    """
    for _ in itertools.count() if epochs is None else range(epochs):
        state, log = run_epoch(one_epoch, state, x, y, plan)
        if val is not None:
            x_val, y_val, rows = val
            val_loss, val_accuracy = score(state.params, x_val, y_val, rows=rows)
            log = log._replace(val_loss=val_loss, val_accuracy=val_accuracy)
        yield state, log
