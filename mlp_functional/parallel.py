"""Run an optimizer's elementwise rule on both halves of the model at once.

NumPy releases the GIL inside its elementwise loops, so two threads working on
disjoint halves of the flat buffers use two cores. The result is bit-identical to
one call on the whole buffers, because each entry is computed by the same
arithmetic either way.

>>> import numpy as np
>>> from mlp_functional.optimizers import sgd
>>> p, g = np.ones(100_000, np.float32), np.ones(100_000, np.float32)
>>> with SplitRule(sgd(0.5).rule, p, g, (), np.empty_like(p)) as apply:
...     apply(0)
>>> float(p.min()), float(p.max())
(0.5, 0.5)
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

import numpy as np

from .optimizers import FlatRule

__all__ = ["MIN_PARALLEL_SIZE", "SplitRule"]

Array = np.ndarray

#: Below this many parameters a thread hand-off costs more than it saves.
MIN_PARALLEL_SIZE = 1 << 16


class SplitRule:
    """A context manager giving ``apply(step)`` for fixed buffers, split across two threads
    when the rule is elementwise, the model large and the machine has a second core."""

    def __init__(
        self, rule: FlatRule, params: Array, grads: Array, slots: tuple[Array, ...], scratch: Array
    ) -> None:
        self._rule = rule
        self._whole = (params, grads, slots, scratch)
        parallel = (
            rule.elementwise and params.size >= MIN_PARALLEL_SIZE and (os.cpu_count() or 1) > 1
        )
        self._pool = ThreadPoolExecutor(max_workers=1) if parallel else None
        # Cut on a 64-byte boundary so both halves start cache-line aligned.
        middle = (params.size // 2) // 16 * 16
        self._halves = [
            (params[part], grads[part], tuple(s[part] for s in slots), scratch[part])
            for part in (slice(0, middle), slice(middle, None))
        ]

    def __call__(self, step: int) -> None:
        params, grads, slots, scratch = self._whole
        if self._pool is None:
            self._rule.apply(params, grads, slots, step, scratch)
            return
        (p0, g0, s0, x0), (p1, g1, s1, x1) = self._halves
        other = self._pool.submit(self._rule.apply, p1, g1, s1, step, x1)
        self._rule.apply(p0, g0, s0, step, x0)
        other.result()

    def __enter__(self) -> SplitRule:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
        *rest: Any,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
