"""Tell a run whose loss is exploding while it is still finite.

A non-finite loss stops training at once (:class:`mlp_functional.engine.epochs.DivergenceError`);
a learning rate far too large can instead keep the loss finite but enormous (``--lr
1e10`` trains to losses of 1e20 at chance accuracy). :func:`loss_growth` finds an epoch
whose training loss grew by :data:`GROWTH` or more over it: from the previous epoch's
loss, or for the first epoch from ``ln(classes)``, the loss of a uniform guess, which an
untrained network gives. A loss that ends below that guess's is never reported, so a
small loss wobbling near zero late in training is not mistaken for divergence.

>>> history = [{"epoch": 1, "train_loss": 2.1}, {"epoch": 2, "train_loss": 350.0}]
>>> loss_growth(history, classes=10)
Growth(epoch=2, before=2.1, after=350.0)
>>> loss_growth([{"epoch": 1, "train_loss": 0.001}, {"epoch": 2, "train_loss": 0.2}], 10)
>>> loss_growth([{"epoch": 1, "train_loss": 5.6e22}], classes=10).epoch
1
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

__all__ = ["GROWTH", "Growth", "loss_growth"]

#: How many times larger the loss must end an epoch than it began it: two orders of magnitude.
GROWTH = 100.0


class Growth(NamedTuple):
    """An epoch whose training loss grew from ``before`` to ``after``."""

    epoch: int
    before: float
    after: float


def _loss(record: Mapping[str, Any]) -> float | None:
    value = record.get("train_loss")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def loss_growth(history: Sequence[Mapping[str, Any]], classes: int) -> Growth | None:
    """The last epoch of ``history`` if its training loss grew by :data:`GROWTH` or more
    over it, to above a uniform guess's ``ln(classes)``; else ``None`` (pure).

    Args:
      history: the run's epoch records (``history.json``), the newest last.
      classes: the number of classes the model tells apart.
    """
    if not history:
        return None
    after = _loss(history[-1])
    guess = math.log(max(classes, 2))
    before = _loss(history[-2]) if len(history) > 1 else guess
    if after is None or before is None or after <= guess:
        return None
    if after < GROWTH * before:
        return None
    return Growth(int(history[-1].get("epoch", len(history))), before, after)
