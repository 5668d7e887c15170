"""Learning-rate schedules: plain pure functions ``step -> learning rate``, step 0 first.

>>> s = warmup_cosine(1.0, warmup_steps=10, total_steps=110)
>>> [round(s(t), 3) for t in (0, 5, 10, 60, 110)]
[0.1, 0.6, 1.0, 0.5, 0.0]
"""

import math
from collections.abc import Callable

Schedule = Callable[[int], float]


def constant(lr: float) -> Schedule:
    """``lr`` at every step.

    >>> constant(0.1)(1000)
    0.1
    """
    return lambda step: float(lr)


def step_decay(lr: float, *, every: int, factor: float = 0.1) -> Schedule:
    """``lr * factor ** (step // every)``: drop by ``factor`` every ``every`` steps.

    >>> s = step_decay(1.0, every=10, factor=0.5)
    >>> s(9), s(10), s(25)
    (1.0, 0.5, 0.25)
    """
    return lambda step: float(lr * factor ** (step // every))


def _anneal(start: float, stop: float, fraction: float) -> float:
    return stop + (start - stop) * 0.5 * (1 + math.cos(math.pi * min(fraction, 1.0)))


def cosine(lr: float, *, total_steps: int, final: float = 0.0) -> Schedule:
    """``final + (lr - final) (1 + cos(pi t / T)) / 2`` up to ``T = total_steps``, then ``final``
    (Loshchilov & Hutter, 2017).

    >>> s = cosine(1.0, total_steps=100)
    >>> s(0), round(s(50), 6), s(100), s(200)
    (1.0, 0.5, 0.0, 0.0)
    """
    return lambda step: float(_anneal(lr, final, step / total_steps))


def warmup_cosine(lr: float, *, warmup_steps: int, total_steps: int, final=0.0) -> Schedule:
    """``lr (t + 1) / warmup_steps`` up to ``lr`` at ``t = warmup_steps``, then :func:`cosine`
    over the remaining ``total_steps - warmup_steps`` steps.

    >>> s = warmup_cosine(1.0, warmup_steps=4, total_steps=8)
    >>> [round(s(t), 3) for t in range(9)]
    [0.25, 0.5, 0.75, 1.0, 1.0, 0.854, 0.5, 0.146, 0.0]
    """
    warm = lambda t: float(lr * (t + 1) / warmup_steps)  # noqa: E731
    decay = cosine(lr, total_steps=total_steps - warmup_steps, final=final)
    return lambda t: warm(t) if t < warmup_steps else decay(t - warmup_steps)


def one_cycle(lr: float, *, total_steps: int, warmup_fraction=0.3, start_div=25.0, final_div=1e4):
    """One cycle (Smith & Topin, 2018) as PyTorch's OneCycleLR: cosine from ``lr / start_div``
    up to ``lr`` over ``warmup_fraction`` of the steps, then to ``lr / (start_div final_div)``.

    >>> s = one_cycle(1.0, total_steps=100)
    >>> round(s(0), 4), round(s(30), 4), s(100) < 1e-4
    (0.04, 1.0, True)
    """
    peak, low, end = warmup_fraction * total_steps, lr / start_div, lr / (start_div * final_div)
    up = lambda t: _anneal(low, lr, t / peak)  # noqa: E731
    down = lambda t: _anneal(lr, end, (t - peak) / (total_steps - peak))  # noqa: E731
    return lambda t: float(up(t) if t <= peak else down(t))
