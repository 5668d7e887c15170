"""A learning-rate schedule of your own: any function ``step -> learning rate``.

Every optimizer takes a schedule wherever it takes a constant ``lr``; step 0 is the
first update. This one warms up linearly, then halves every ``half_life`` steps::

    lr(t) = peak * (t + 1) / warmup                    for t < warmup
    lr(t) = peak * 0.5 ** ((t - warmup) / half_life)   afterwards

It is compared with a constant rate and with the library's ``mf.warmup_cosine``; each
epoch's log reports the rate of its last step.

Run: python examples/lr_schedule.py
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mlp_functional as mf
from mlp_functional.data import load


def warmup_halving(peak: float, *, warmup: int, half_life: float) -> Callable[[int], float]:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then exponential decay."""

    def schedule(step: int) -> float:
        if step < warmup:
            return peak * (step + 1) / warmup
        return peak * 0.5 ** ((step - warmup) / half_life)

    return schedule


def main(n_train: int = 10_000, epochs: int = 3, batch_size: int = 128) -> dict[str, Any]:
    """Train the same model under three schedules; print each epoch's rate and accuracy."""
    mnist = load("mnist")
    x, y = mnist.train.images[:n_train], mnist.train.labels[:n_train]
    steps_per_epoch = -(-n_train // batch_size)
    total = epochs * steps_per_epoch
    schedules: dict[str, Any] = {
        "constant": 0.05,
        "warm-up, halving": warmup_halving(0.1, warmup=steps_per_epoch // 2, half_life=50),
        "warm-up, cosine": mf.warmup_cosine(
            0.1, warmup_steps=steps_per_epoch // 2, total_steps=total
        ),
    }
    params = mf.init(mf.key(1), [784, 128, 10])
    runs = {}
    for name, lr in schedules.items():
        start = mf.init_state(mf.key(2), params, mf.momentum(lr, beta=0.9))
        states, logs = zip(*mf.fit(start, x, y, batch_size=batch_size, epochs=epochs), strict=True)
        accuracy = mf.accuracy(states[-1].params, mnist.test.images, mnist.test.labels)
        rates = ", ".join(f"{log.learning_rate:.4f}" for log in logs)
        print(f"{name:17} rate at each epoch's end {rates}  test accuracy {accuracy:.3f}")
        runs[name] = {"logs": list(logs), "test_accuracy": accuracy}
    return {"schedules": schedules, "runs": runs, "steps_per_epoch": steps_per_epoch}


if __name__ == "__main__":
    main()
