"""Early stopping, written by the user over the lazy ``mf.fit`` iterator.

``mf.fit(..., epochs=None)`` trains for as long as it is asked: each ``next`` runs one
more epoch and yields ``(state, log)``. Stopping is therefore just a loop that stops
asking. This one keeps the state with the lowest validation loss and gives up after
``patience`` epochs without a new best, the rule scikit-learn and Keras use. A small
training subset and a wide layer make the model overfit within a few epochs, so there
is something to stop.

Run: python examples/early_stopping.py
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import toolz

import mlp_functional as mf
from mlp_functional.data import load


def early_stopping(
    epochs: Iterable[tuple[mf.TrainState, mf.EpochLog]], patience: int
) -> tuple[mf.TrainState, list[mf.EpochLog]]:
    """The best state by validation loss, and every epoch's log until training gave up."""
    best: mf.TrainState | None = None
    best_loss, waited = float("inf"), 0
    logs: list[mf.EpochLog] = []
    for state, log in epochs:
        logs.append(log)
        if log.val_loss < best_loss:
            best, best_loss, waited = state, log.val_loss, 0
        else:
            waited += 1
            if waited >= patience:
                break
    if best is None:
        raise ValueError("early_stopping needs at least one epoch with a finite validation loss")
    return best, logs


def main(n_train: int = 1_000, patience: int = 3, max_epochs: int = 50) -> dict[str, Any]:
    """Train until the validation loss stops improving; print each epoch and the verdict."""
    mnist = load("mnist")
    train = mnist.train
    x, y = train.images[:n_train], train.labels[:n_train]
    val = train.images[-2000:], train.labels[-2000:]
    params = mf.init(mf.key(1), [784, 512, 10])
    start = mf.init_state(mf.key(2), params, mf.adam(2e-3))
    epochs = mf.fit(start, x, y, batch_size=50, epochs=None, validation=val)
    best, logs = early_stopping(toolz.take(max_epochs, epochs), patience)
    for log in logs:
        print(
            f"epoch {log.epoch}: training loss {log.loss:.3f}, validation loss {log.val_loss:.3f}"
        )
    best_epoch = min(logs, key=lambda log: log.val_loss).epoch
    print(f"stopped after epoch {logs[-1].epoch}; best was epoch {best_epoch}")
    return {"best": best, "best_epoch": best_epoch, "logs": logs, "patience": patience}


if __name__ == "__main__":
    main()
