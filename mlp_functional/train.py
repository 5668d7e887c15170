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
from collections.abc import Iterable, Iterator
from functools import reduce
from typing import Any, NamedTuple

import numpy as np

from .backprop import backprop, workspace
from .features import to_features
from .optimizers import Optimizer
from .parallel import SplitRule
from .params import Params, freeze, ravel, unravel
from .predict import evaluate
from .random import Key, generator, split
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


def _pure_step(state: TrainState, xb: Array, yb: Array) -> tuple[tuple[float, Array], TrainState]:
    params = state.params
    flat = np.empty(ravel(params).size, params.dtype)
    loss, predicted = backprop(params, xb, yb, unravel(flat, params))
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


def _check_batch_size(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got batch_size={batch_size!r}")


def train_epoch(
    state: TrainState, x: Any, y: Any, *, batch_size: int = 128
) -> tuple[TrainState, EpochLog]:
    """One pass over ``(x, y)`` in minibatches shuffled with the state's key.

    Args:
      state: from :func:`init_state` or a previous epoch.
      x: ``(N, D)`` floats, or uint8 images ``(N, 28, 28)`` converted to [0, 1] one
        batch at a time (no full float copy is made).
      y: ``(N,)`` integer labels.
      batch_size: examples per step; the last batch may be smaller.

    Returns:
      ``(new_state, log)``; every example is visited exactly once.

    Raises:
      DivergenceError: the loss became non-finite.
    """
    _check_batch_size(batch_size)
    x, labels = check_batch(state.params, x, y)
    return _epoch(state, x, labels, batch_size)


def _epoch(state: TrainState, x: Array, y: Array, batch_size: int) -> tuple[TrainState, EpochLog]:
    started = time.perf_counter()
    next_key, shuffle_key = split(state.key)
    order = generator(shuffle_key).permutation(len(x))
    # Overflow shows up as a non-finite loss, which the loop turns into a DivergenceError
    # naming the step; NumPy's own warnings on the way there would only be noise.
    loop = _epoch_pure if state.optimizer.rule is None else _epoch_inplace
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            new_state, run = loop(state, x, y, minibatches(order, batch_size), batch_size)
        except _DivergedError as diverged:
            good_steps = diverged.step - 1 - state.step
            last_good = None
            if good_steps >= 0:
                replay = itertools.islice(minibatches(order, batch_size), good_steps)
                last_good = loop(state, x, y, replay, batch_size)[0]._replace(key=next_key)
            raise DivergenceError(diverged.step, diverged.loss, last_good) from None
    steps = run.step - state.step
    rule = state.optimizer.rule
    log = EpochLog(
        epoch=new_state.step // max(1, math.ceil(len(x) / batch_size)),
        loss=run.loss_sum / max(run.seen, 1),
        accuracy=run.correct / max(run.seen, 1),
        val_loss=math.nan,
        val_accuracy=math.nan,
        learning_rate=rule.learning_rate(max(run.step - 1, 0)) if rule else math.nan,
        seconds=time.perf_counter() - started,
        steps=steps,
    )
    return new_state._replace(key=next_key), log


def _epoch_pure(
    state: TrainState, x: Array, y: Array, batches: Iterable[Array], batch_size: int
) -> tuple[TrainState, _Running]:
    """The plain loop for optimizers without a flat rule: one pure step per batch."""
    rows = x.reshape(len(x), -1)

    def step(carry: tuple[TrainState, _Running], idx: Array) -> tuple[TrainState, _Running]:
        current, run = carry
        yb = y[idx]
        (loss, predicted), new = _pure_step(
            current, to_features(rows[idx], current.params.dtype), yb
        )
        correct = int(np.count_nonzero(predicted == yb))
        return new, _Running(
            new.step, run.loss_sum + loss * len(idx), run.correct + correct, run.seen + len(idx)
        )

    return reduce(step, batches, (state, _Running(state.step, 0.0, 0, 0)))


def _epoch_inplace(
    state: TrainState, x: Array, y: Array, batches: Iterable[Array], batch_size: int
) -> tuple[TrainState, _Running]:
    """The fast loop: the optimizer's flat rule applied to private buffers."""
    rule = state.optimizer.rule
    assert rule is not None
    params = state.params
    dtype = params.dtype
    p = ravel(params)
    slots = tuple(ravel(s) for s in state.opt_state[1:])
    g = np.empty_like(p)
    scratch = np.empty_like(p)
    live = unravel(p, params)
    grads = unravel(g, params)
    space = workspace(params, batch_size)
    rows = x.reshape(len(x), -1)
    gathered = np.empty((batch_size, rows.shape[1]), rows.dtype)
    features = np.empty((batch_size, rows.shape[1]), dtype)
    opt_count = state.opt_state.step

    def step(run: _Running, idx: Array) -> _Running:
        n = len(idx)
        xb = to_features(np.take(rows, idx, axis=0, out=gathered[:n]), dtype, out=features[:n])
        yb = y[idx]
        loss, predicted = backprop(live, xb, yb, grads, space)
        if not math.isfinite(loss):
            raise _DivergedError(run.step, loss)
        update(opt_count + run.step - state.step)
        correct = int(np.count_nonzero(predicted == yb))
        return _Running(run.step + 1, run.loss_sum + loss * n, run.correct + correct, run.seen + n)

    with SplitRule(rule, p, g, slots, scratch) as update:
        run = reduce(step, batches, _Running(state.step, 0.0, 0, 0))
    frozen = unravel(freeze(p), params)
    step_count = opt_count + run.step - state.step
    opt_state = type(state.opt_state)(step_count, *(unravel(freeze(s), params) for s in slots))
    return state._replace(params=frozen, opt_state=opt_state, step=run.step), run


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
    """
    _check_batch_size(batch_size)
    if epochs is not None and (not isinstance(epochs, int) or epochs < 0):
        raise ValueError(f"epochs must be a non-negative integer or None, got epochs={epochs!r}")
    x, labels = check_batch(state.params, x, y)
    val = None
    if validation is not None:
        val = check_batch(state.params, *validation)
    for _ in itertools.count() if epochs is None else range(epochs):
        state, log = _epoch(state, x, labels, batch_size)
        if val is not None:
            val_loss, val_accuracy = evaluate(state.params, val[0], val[1])
            log = log._replace(val_loss=val_loss, val_accuracy=val_accuracy)
        yield state, log
