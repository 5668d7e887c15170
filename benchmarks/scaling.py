"""How the epoch's cost grows with batch size and hidden width, against the matmul floor.

For each configuration, one epoch of MNIST training (Adam, float32) and the floor (the
same epoch's matrix products alone, at the same shapes) are timed alternately; the
table gives medians and the ratio. Usage:

    python benchmarks/scaling.py [--repeats 3] [--out docs/scaling.md]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

import mlp_functional as mf
from mlp_functional.bench.epoch import epoch_flops, matmul_floor
from mlp_functional.cli.bench import blas_info, cpu_model
from mlp_functional.data import load

BATCHES = (32, 64, 128, 256, 512, 1024)
WIDTHS = (64, 128, 256, 512, 1024, 2048)


def measure(images, labels, hidden, batch_size, repeats):
    sizes = [784, *hidden, 10]
    state = mf.init_state(mf.key(1), mf.init(mf.key(0), sizes), mf.adam(1e-3))
    floors, epochs = [], []
    for _ in range(repeats):
        floors.append(matmul_floor(sizes, batch_size=batch_size, n_examples=len(images), repeats=1))
        start = time.perf_counter()
        state, _ = mf.train_epoch(state, images, labels, batch_size=batch_size)
        epochs.append(time.perf_counter() - start)
    floor, epoch = statistics.median(floors), statistics.median(epochs)
    ratio = statistics.median(e / f for e, f in zip(epochs, floors, strict=True))
    gflops = epoch_flops(sizes, len(images)) / epoch / 1e9
    return sizes, floor, epoch, ratio, gflops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    data = load("mnist")
    images, labels = data.train.images, data.train.labels.astype(np.int64)
    lines = [
        f"Machine: {cpu_model()}; BLAS {blas_info()}; medians of {args.repeats}, alternating.",
        "",
        "| hidden | batch | floor (s) | epoch (s) | ratio | GFLOP/s |",
        "|---|---|---|---|---|---|",
    ]
    configs = [((256, 128), b) for b in BATCHES] + [((w,), 128) for w in WIDTHS]
    for hidden, batch in configs:
        sizes, floor, epoch, ratio, gflops = measure(images, labels, hidden, batch, args.repeats)
        line = (
            f"| {'-'.join(map(str, sizes))} | {batch} | {floor:.3f} | {epoch:.3f} | "
            f"{ratio:.2f}x | {gflops:.1f} |"
        )
        print(line, flush=True)
        lines.append(line)
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
