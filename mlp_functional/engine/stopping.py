"""Early stopping: one pure rule over the stream of epochs that ``fit`` yields.

A :class:`Criterion` names the number watched after each epoch (lower is better), how
much lower counts as progress, and how many epochs without progress end training.
:func:`judge` is one epoch's bookkeeping, a pure function from one :class:`Standing` to
the next; :func:`watch` runs it along a stream of ``(state, log)`` pairs, yields
``(state, log, standing)`` and, once the verdict is to stop, returns without asking the
stream for another epoch. The run lifecycle (patience on the validation loss, the best
epoch kept) and the scikit-learn estimator (validation accuracy or training loss, with
``tol``, as scikit-learn's ``MLPClassifier`` has them) are two criteria of this one rule.

>>> import math
>>> from mlp_functional.engine.epochs import EpochLog
>>> def log(val_loss):
...     return EpochLog(0, 0.0, 0.0, val_loss, math.nan, 0.0, 0.0, 1)
>>> stream = (("state", log(v)) for v in [0.5, 0.4, 0.45, 0.4, 0.3])
>>> for _, _, s in watch(stream, Criterion(validation_loss, patience=2)):
...     print(s.epoch, s.best, s.best_epoch, s.bad_epochs, s.stop)
1 0.5 1 0 False
2 0.4 2 0 False
3 0.4 2 1 False
4 0.4 2 2 True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .epochs import EpochLog

__all__ = [
    "Criterion",
    "Standing",
    "judge",
    "negated_validation_accuracy",
    "training_loss",
    "validation_loss",
    "watch",
]


def validation_loss(log: EpochLog) -> float:
    """The epoch's loss on the held-out examples (NaN without them).

    >>> from mlp_functional.engine.epochs import EpochLog
    >>> validation_loss(EpochLog(1, 0.3, 0.9, 0.4, 0.85, 0.1, 1.0, 10))
    0.4
    """
    return log.val_loss


def training_loss(log: EpochLog) -> float:
    """The epoch's mean loss over its training batches.

    >>> from mlp_functional.engine.epochs import EpochLog
    >>> training_loss(EpochLog(1, 0.3, 0.9, 0.4, 0.85, 0.1, 1.0, 10))
    0.3
    """
    return log.loss


def negated_validation_accuracy(log: EpochLog) -> float:
    """Minus the accuracy on the held-out examples: higher accuracy is lower here, and
    negation is exact, so ``tol`` compares as it would on the accuracy itself.

    >>> from mlp_functional.engine.epochs import EpochLog
    >>> negated_validation_accuracy(EpochLog(1, 0.3, 0.9, 0.4, 0.85, 0.1, 1.0, 10))
    -0.85
    """
    return -log.val_accuracy


class Criterion(NamedTuple):
    """When training has stopped making progress.

    Attributes:
      measure: ``log -> number`` watched after each epoch, lower is better; an epoch
        whose number is NaN (no validation data) is not judged.
      patience: stop once this many epochs in a row made no progress (``None``: never).
      tol: progress is a number below the best so far by more than ``tol``...
      tol_included: ...or by exactly ``tol`` too (scikit-learn's rule).
    """

    measure: Callable[[EpochLog], float]
    patience: int | None = None
    tol: float = 0.0
    tol_included: bool = False


class Standing(NamedTuple):
    """Where the stopping rule stands after ``epoch`` epochs.

    Attributes:
      epoch: epochs judged so far (or counted, when their number was NaN).
      best: the lowest number so far (``None`` before the first).
      best_epoch: the epoch that gave it, whose model is the one to keep.
      bad_epochs: epochs in a row without progress.
      stop: the verdict: patience has run out.
    """

    epoch: int = 0
    best: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    stop: bool = False


def judge(criterion: Criterion, standing: Standing, value: float) -> Standing:
    """The standing after one more epoch whose measure is ``value`` (pure).

    A new best is any strictly lower number; progress is a lower number by ``tol``.

    >>> judge(Criterion(validation_loss, patience=1), Standing(1, 0.5, 1), 0.5)
    Standing(epoch=2, best=0.5, best_epoch=1, bad_epochs=1, stop=True)
    """
    epoch = standing.epoch + 1
    if math.isnan(value):
        return standing._replace(epoch=epoch)
    best = standing.best
    if best is None:
        return Standing(epoch, value, epoch, 0, False)
    bar = best - criterion.tol
    progress = value <= bar if criterion.tol_included else value < bar
    bad = 0 if progress else standing.bad_epochs + 1
    improved = value < best
    return Standing(
        epoch,
        value if improved else best,
        epoch if improved else standing.best_epoch,
        bad,
        not progress and criterion.patience is not None and bad >= criterion.patience,
    )


def watch(
    stream: Iterable[tuple[Any, EpochLog]], criterion: Criterion, standing: Standing | None = None
) -> Iterator[tuple[Any, EpochLog, Standing]]:
    """``(state, log, standing)`` for each epoch of ``stream``, ending after a stop.

    Args:
      stream: ``(state, log)`` pairs, such as :func:`mlp_functional.fit` yields.
      criterion: what counts as progress, and how long to wait for it.
      standing: where an earlier part of the same training left off (default: nowhere).

    >>> from mlp_functional.engine.epochs import EpochLog
    >>> logs = [EpochLog(1, 0.3, 0.9, v, 0.85, 0.1, 1.0, 10) for v in (0.4, 0.5, 0.6, 0.3)]
    >>> [s.stop for _, _, s in watch(((None, log) for log in logs), Criterion(validation_loss, 2))]
    [False, False, True]
    """
    standing = Standing() if standing is None else standing
    for state, log in stream:
        standing = judge(criterion, standing, criterion.measure(log))
        yield state, log, standing
        if standing.stop:
            return
