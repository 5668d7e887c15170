"""A batch's bias gradient two ways: ``np.add.reduce`` along the batch axis, and the
product of a row of ones with the gradient (what the NumPy kernels do), at the reference
job's hidden and output widths (batch 128, float32), in one process, taking turns.

Usage: python benchmarks/bias_sum.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import timeit

import numpy as np
from before_after import machine_line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ones = np.ones(128, np.float32)
    rows = []
    for width in (256, 128, 10):
        delta = rng.standard_normal((128, width), dtype=np.float32)
        out = np.empty(width, np.float32)
        ways = {
            "reduce": lambda d=delta, o=out: np.add.reduce(d, axis=0, out=o),
            "ones": lambda d=delta, o=out: np.matmul(ones, d, out=o),
        }
        times: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.repeats):
            for name, way in ways.items():
                times[name].append(min(timeit.repeat(way, number=2000, repeat=3)) / 2000)
        reduce_us, ones_us = (1e6 * statistics.median(times[n]) for n in ways)
        rows.append(f"| 128 x {width} | {reduce_us:.1f} | {ones_us:.1f} |")
    print(machine_line(args.repeats))
    print()
    print("| gradient | np.add.reduce, axis 0 (us) | ones @ gradient (us) |")
    print("|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
