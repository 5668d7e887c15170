"""Speed ideas that were tried and dropped, kept so their figures can be reproduced.

1. Skipping blank pixels: multiply only the columns of ``x`` that are non-zero somewhere
   in the batch (and the matching rows of ``w1``), against the full first-layer
   products, both with the batch gathered from uint8 MNIST.
2. Adam with a chunk-sized scratch buffer (the gradient is read, never written), and
   3. Adam's slices updated last-to-first: each against the training loop as it is, as
   a ratio of an epoch of the reference job to the matmul floor, alternating.

Usage: python benchmarks/dropped.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
from ablations import SIZES, epoch_ratio  # run as a script from benchmarks/

import mlp_functional as mf
import mlp_functional.train as train_module
from mlp_functional import optimizers
from mlp_functional.cli.bench import blas_info, cpu_model
from mlp_functional.data import load
from mlp_functional.optimizers import flush_subnormals

B1, B2, EPS, LR = 0.9, 0.999, 1e-8, 1e-3


def blank_pixels(images: np.ndarray, repeats: int) -> None:
    rows = images.reshape(len(images), -1)
    rng = np.random.default_rng(0)
    batches = np.array_split(rng.permutation(len(rows)), len(rows) // 128)  # 128 or 129
    w1 = rng.standard_normal((784, 256)).astype(np.float32)
    grad, delta = np.empty_like(w1), rng.standard_normal((129, 256)).astype(np.float32)
    z, x = np.empty((129, 256), np.float32), np.empty((129, 784), np.float32)
    w_rows, grad_rows = np.empty_like(w1), np.empty_like(w1)
    scale = np.float32(1 / 255)
    used = [np.count_nonzero(rows[b].any(axis=0)) for b in batches]

    def full() -> None:
        for b in batches:
            n = len(b)
            np.multiply(rows[b], scale, out=x[:n])
            np.matmul(x[:n], w1, out=z[:n])
            np.matmul(x[:n].T, delta[:n], out=grad)

    def skipping() -> None:
        for b in batches:
            n = len(b)
            pixels = rows[b]
            columns = np.flatnonzero(pixels.any(axis=0))
            k = len(columns)
            xc = np.multiply(pixels[:, columns], scale, dtype=np.float32)
            np.take(w1, columns, axis=0, out=w_rows[:k])
            np.matmul(xc, w_rows[:k], out=z[:n])
            np.matmul(xc.T, delta[:n], out=grad_rows[:k])
            grad.fill(0)
            grad[columns] = grad_rows[:k]

    times: dict[str, list[float]] = {"every pixel": [], "non-blank pixels only": []}
    for _ in range(repeats):
        for name, epoch in (("every pixel", full), ("non-blank pixels only", skipping)):
            start = time.perf_counter()
            epoch()
            times[name].append(time.perf_counter() - start)
    print(f"1. first layer's products over an epoch ({statistics.mean(used):.0f} of 784 pixels")
    print("   non-blank in an average batch of 128) | seconds")
    for name, measured in times.items():
        print(f"   {name} | {statistics.median(measured):.3f}")


def adam_into_scratch(p, g, slots, step, scratch) -> None:
    """Adam's ten passes with temporaries in ``scratch``, leaving ``g`` unwritten."""
    grad_sum, square_sum = slots
    t = step + 1
    grad_sum *= B1
    grad_sum += g
    np.square(g, out=scratch)
    square_sum *= B2
    square_sum += scratch
    flush_subnormals(step, grad_sum, square_sum)
    c = math.sqrt((1 - B2**t) / (1 - B2))
    np.sqrt(square_sum, out=scratch)
    scratch += EPS * c
    np.divide(grad_sum, scratch, out=scratch)
    scratch *= LR * (1 - B1) / (1 - B1**t) * c
    p -= scratch


_SMALL_SCRATCH = np.empty(optimizers.CHUNK, np.float32)


def slices_with_small_scratch(rule, p, g, slots, step, scratch) -> None:
    for start in range(0, p.size, optimizers.CHUNK):
        piece = slice(start, start + optimizers.CHUNK)
        size = min(optimizers.CHUNK, p.size - start)
        parts = tuple(s[piece] for s in slots)
        rule.apply(p[piece], g[piece], parts, step, _SMALL_SCRATCH[:size])


def slices_last_to_first(rule, p, g, slots, step, scratch) -> None:
    for start in reversed(range(0, p.size, optimizers.CHUNK)):
        piece = slice(start, start + optimizers.CHUNK)
        parts = tuple(s[piece] for s in slots)
        rule.apply(p[piece], g[piece], parts, step, scratch[piece])


def loop_variants(images: np.ndarray, labels: np.ndarray, repeats: int) -> None:
    scratch_adam = mf.from_rule(
        mf.FlatRule(mf.AdamState, adam_into_scratch, lambda step: LR, elementwise=True)
    )
    variants = {
        "as it is": (optimizers.apply_rule, lambda: mf.adam(LR)),
        "chunk-sized scratch": (slices_with_small_scratch, lambda: scratch_adam),
        "slices last to first": (slices_last_to_first, lambda: mf.adam(LR)),
    }
    ratios: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for _ in range(repeats):
            for name, (apply, make) in variants.items():
                train_module.apply_rule = apply  # the loop looks the name up at each step
                ratios[name].append(epoch_ratio(SIZES, make(), images, labels)[1])
    finally:
        train_module.apply_rule = optimizers.apply_rule
    print("\n2-3. Adam in the training loop | epoch / floor")
    for name, measured in ratios.items():
        print(f"   {name} | {statistics.median(measured):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    data = load("mnist")
    images, labels = data.train.images, data.train.labels.astype(np.int64)
    print(f"machine: {cpu_model()}; BLAS {blas_info()}; medians of {args.repeats}\n")
    blank_pixels(images, args.repeats)
    loop_variants(images, labels, args.repeats)


if __name__ == "__main__":
    main()
