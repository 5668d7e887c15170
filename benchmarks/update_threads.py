"""The NumPy kernels' Adam step on one thread against the same passes split over two.

The NumPy form of the fused update (:meth:`~mlp_functional.fast.rules.FusedChain.apply`)
makes about ten ufunc passes over each :data:`~mlp_functional.fast.rules.CHUNK` of the
reference job's 235,146 float32 parameters. NumPy releases the interpreter's lock
inside each pass, so a second thread could take half of the buffer. This times a step
both ways, rounds taking turns, alone and right after the first layer's weight-gradient
product (as in a step, where the BLAS threads have just worked), with chunks of
``CHUNK`` and of ``2 * CHUNK`` entries.

Usage: python benchmarks/update_threads.py [--repeats 7]   (OPENBLAS_NUM_THREADS=1 in front
for one BLAS thread)
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from before_after import machine_line

import mlp_functional as mf
from mlp_functional.fast import to_fast
from mlp_functional.fast.rules import CHUNK, fused_chain, step_counts, weight_shapes
from mlp_functional.fast.state import rule_chain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    params = mf.init(mf.key(0), [784, 256, 128, 10])
    state = mf.init_state(mf.key(1), params, mf.adam(1e-3))
    fused = fused_chain(rule_chain(state), kernels=None, shapes=weight_shapes(params))
    assert fused is not None
    fast = to_fast(state)
    p, slots = fast.p.copy(), [list(s.values) for s in fast.slots]
    rng = np.random.default_rng(0)
    g0 = (1e-3 * rng.standard_normal(p.size)).astype(np.float32)
    g = g0.copy()
    x = rng.random((128, 784), dtype=np.float32)
    delta = rng.random((128, 256), dtype=np.float32)
    product = np.empty((784, 256), np.float32)
    helper = ThreadPoolExecutor(max_workers=1)

    def pieces(k, lo: int, hi: int, chunk: int) -> None:
        for start in range(lo, hi, chunk):
            fused.apply(k, p, g, slots, start, min(start + chunk, hi))

    def step(threads: int, chunk: int) -> None:
        counts = step_counts(slots)
        k = fused.prepare(p, g, slots)
        if threads == 1:
            pieces(k, 0, p.size, chunk)
        else:
            middle = p.size // 2
            theirs = helper.submit(pieces, k, middle, p.size, chunk)
            pieces(k, 0, middle, chunk)
            theirs.result()
        fused.finish(counts, slots)

    def timed(action) -> float:
        return min(timeit.repeat(action, number=50, repeat=3)) / 50

    def before(after_product: bool) -> None:
        np.copyto(g, g0)
        if after_product:
            np.matmul(x.T, delta, out=product)

    rows = []
    for after_product in (False, True):
        for chunk in (CHUNK, 2 * CHUNK):
            times: dict[int, list[float]] = {1: [], 2: []}
            setup = []
            for _ in range(args.repeats):
                for threads in times:
                    times[threads].append(
                        timed(lambda t=threads, c=chunk, a=after_product: (before(a), step(t, c)))
                    )
                setup.append(timed(lambda a=after_product: before(a)))
            base = statistics.median(setup)
            one, two = (1e6 * (statistics.median(times[t]) - base) for t in (1, 2))
            where = "after the product" if after_product else "alone"
            rows.append(f"| {where} | {chunk} | {one:.0f} | {two:.0f} |")
    helper.shutdown()
    print(machine_line(args.repeats))
    print("Adam step of the NumPy kernels, 784-256-128-10 float32 (microseconds)")
    print()
    print("| when | entries per pass | one thread | two threads |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
