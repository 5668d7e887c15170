"""Learning-rate schedules: plain pure functions ``step -> learning rate``.

Every optimizer accepts one wherever it takes ``lr``; step 0 is the first update.

>>> s = warmup_cosine(1.0, warmup_steps=10, total_steps=110)
>>> [round(s(t), 3) for t in (0, 5, 10, 60, 110)]
[0.1, 0.6, 1.0, 0.5, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["Schedule", "constant", "cosine", "one_cycle", "step_decay", "warmup_cosine"]

Schedule = Callable[[int], float]


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {name}={value!r}")


def constant(lr: float) -> Schedule:
    """``lr`` at every step.

    >>> constant(0.1)(1000)
    0.1
    """
    _check_positive(lr=lr)
    return lambda step: float(lr)


def step_decay(lr: float, *, every: int, factor: float = 0.1) -> Schedule:
    """``lr * factor ** (step // every)``: drop by ``factor`` every ``every`` steps.

    >>> s = step_decay(1.0, every=10, factor=0.5)
    >>> s(9), s(10), s(25)
    (1.0, 0.5, 0.25)
    """
    _check_positive(lr=lr, every=every, factor=factor)
    return lambda step: float(lr * factor ** (step // every))


def cosine(lr: float, *, total_steps: int, final: float = 0.0) -> Schedule:
    """Cosine decay from ``lr`` to ``final`` over ``total_steps``, then ``final``.

    ``lr_t = final + (lr - final) * (1 + cos(pi * t / T)) / 2`` (Loshchilov & Hutter, 2017).

    >>> s = cosine(1.0, total_steps=100)
    >>> s(0), round(s(50), 6), s(100), s(200)
    (1.0, 0.5, 0.0, 0.0)
    """
    _check_positive(lr=lr, total_steps=total_steps)

    def schedule(step: int) -> float:
        t = min(step, total_steps) / total_steps
        return float(final + (lr - final) * 0.5 * (1 + math.cos(math.pi * t)))

    return schedule


def warmup_cosine(
    lr: float, *, warmup_steps: int, total_steps: int, final: float = 0.0
) -> Schedule:
    """Linear warm-up from ``lr / warmup_steps`` to ``lr``, then cosine decay to ``final``.

    The warm-up reaches ``lr`` at ``step = warmup_steps``; the cosine then runs over
    the remaining ``total_steps - warmup_steps`` steps.

    >>> s = warmup_cosine(1.0, warmup_steps=4, total_steps=8)
    >>> [round(s(t), 3) for t in range(9)]
    [0.25, 0.5, 0.75, 1.0, 1.0, 0.854, 0.5, 0.146, 0.0]
    """
    _check_positive(lr=lr, warmup_steps=warmup_steps, total_steps=total_steps)
    if warmup_steps >= total_steps:
        raise ValueError(f"warmup_steps must be < total_steps, got {warmup_steps} >= {total_steps}")
    decay = cosine(lr, total_steps=total_steps - warmup_steps, final=final)

    def schedule(step: int) -> float:
        if step < warmup_steps:
            return float(lr * (step + 1) / warmup_steps)
        return decay(step - warmup_steps)

    return schedule


def one_cycle(
    lr: float,
    *,
    total_steps: int,
    warmup_fraction: float = 0.3,
    start_div: float = 25.0,
    final_div: float = 1e4,
) -> Schedule:
    """The one-cycle policy (Smith & Topin, 2018), cosine-annealed as in PyTorch's OneCycleLR.

    Rises from ``lr / start_div`` to ``lr`` over the first ``warmup_fraction`` of the
    steps, then falls to ``lr / (start_div * final_div)``.

    >>> s = one_cycle(1.0, total_steps=100)
    >>> round(s(0), 4), round(s(30), 4), s(100) < 1e-4
    (0.04, 1.0, True)
    """
    _check_positive(lr=lr, total_steps=total_steps, start_div=start_div, final_div=final_div)
    if not 0 < warmup_fraction < 1:
        raise ValueError(f"warmup_fraction must be in (0, 1), got {warmup_fraction!r}")
    peak = warmup_fraction * total_steps
    low, end = lr / start_div, lr / (start_div * final_div)

    def anneal(start: float, stop: float, fraction: float) -> float:
        return stop + (start - stop) * 0.5 * (1 + math.cos(math.pi * min(fraction, 1.0)))

    def schedule(step: int) -> float:
        if step <= peak:
            return float(anneal(low, lr, step / peak))
        return float(anneal(lr, end, (step - peak) / (total_steps - peak)))

    return schedule
