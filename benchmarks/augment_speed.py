"""How fast are the augmentations, and what do they do to real digits?

Times ``affine``, ``elastic`` and the combined ``augment`` on float32 batches of
128 MNIST-sized images (median of several repeats), reports images per second and
the augmentation time of a whole 60,000-image epoch, and prints the BLAS set-up.
With ``--epoch`` it also times one training epoch of two model sizes, with and
without augmentation, so the overhead is measured rather than assumed. With
``--grid PATH`` it writes a PNG of real MNIST digits before and after each
augmentation (needs matplotlib and the MNIST files).

Run from the repository root::

    python benchmarks/augment_speed.py
    python benchmarks/augment_speed.py --epoch --grid artifacts/augment.png
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import mlp_functional as mf
from mlp_functional.augment import affine, augment, elastic

EPOCH_IMAGES = 60_000


def median_seconds(fn: Callable[[], object], repeats: int, number: int) -> float:
    """Median over ``repeats`` of the mean time of ``number`` calls."""
    fn()  # warm caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed (pip install 'mlp-functional[compare]')"
    return "; ".join(
        f"{p.get('internal_api')} {p.get('version')} {p.get('num_threads')} threads "
        f"({p.get('architecture')})"
        for p in threadpool_info()
    )


def load_digits(n: int) -> np.ndarray | None:
    """The first ``n`` MNIST training images as uint8, or None when MNIST is not at hand."""
    try:
        from mlp_functional.data import load

        return np.asarray(load("mnist").train.images[:n])
    except Exception as error:  # any failure to find the data: fall back to noise
        print(f"(no MNIST: {error}; timing synthetic images)", file=sys.stderr)
        return None


def time_augmentations(x: np.ndarray, repeats: int) -> None:
    batch = len(x)
    keys = iter(mf.split(mf.key(0), 10_000))
    print(f"batch of {batch} float32 images {x.shape[1:]}, median of {repeats} repeats")
    print(f"{'':8s} {'ms/batch':>9s} {'images/s':>10s} {'s/epoch':>8s}")
    for name, fn in (("affine", affine), ("elastic", elastic), ("augment", augment)):
        seconds = median_seconds(lambda fn=fn: fn(next(keys), x), repeats, number=20)
        per_epoch = seconds * math.ceil(EPOCH_IMAGES / batch)
        print(f"{name:8s} {seconds * 1e3:9.3f} {batch / seconds:10.0f} {per_epoch:8.2f}")


def time_epochs(x: np.ndarray, y: np.ndarray, batch: int) -> None:
    """One training epoch per model size, plain and augmented; inside the augmented one
    the time spent in ``augment`` itself is clocked, so its share of that same epoch
    does not depend on how busy the machine was during the other run."""
    print(f"training epoch on {len(x)} images, batch {batch}, Adam:")
    for sizes in ([784, 256, 128, 10], [784, 1000, 1000, 10]):
        state = mf.init_state(mf.key(0), mf.init(mf.key(1), sizes), mf.adam(1e-3))
        spent: list[float] = []

        def clocked(key: mf.Key, xb: np.ndarray, spent: list[float] = spent) -> np.ndarray:
            start = time.perf_counter()
            out = augment(key, xb)
            spent.append(time.perf_counter() - start)
            return out

        start = time.perf_counter()
        mf.train_epoch(state, x, y, batch_size=batch)
        plain = time.perf_counter() - start
        start = time.perf_counter()
        mf.train_epoch(state, x, y, batch_size=batch, augment=clocked)
        augmented = time.perf_counter() - start
        print(
            f"  {'-'.join(map(str, sizes)):18s} plain {plain:6.2f} s; augmented {augmented:6.2f} s,"
            f" of which augmentation {sum(spent):5.2f} s ({sum(spent) / augmented:.0%})"
        )


def write_grid(path: Path, digits: np.ndarray) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("the grid needs matplotlib: pip install 'mlp-functional[plot]'")
    x = digits.astype(np.float32) / 255
    k = mf.key(2024)
    rows = [
        ("original", x),
        ("affine", affine(k, x)),
        ("affine", affine(mf.split(k)[1], x)),
        ("elastic", elastic(k, x)),
        ("elastic", elastic(mf.split(k)[1], x)),
        ("augment", augment(k, x)),
        ("augment", augment(mf.split(k)[1], x)),
    ]
    fig, axes = plt.subplots(len(rows), len(x), figsize=(len(x) * 0.9, len(rows) * 0.95))
    for r, (label, images) in enumerate(rows):
        for c, image in enumerate(images):
            ax = axes[r, c]
            ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle("defaults: shift 2 px, rotation 15°, scale 0.9-1.1, shear 0.3; alpha 34, sigma 4")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--epoch", action="store_true", help="also time training epochs")
    parser.add_argument("--grid", type=Path, help="write a PNG of augmented MNIST digits")
    parser.add_argument("--threads", type=int, help="limit BLAS threads (needs threadpoolctl)")
    args = parser.parse_args(argv)
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)

    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"numpy {np.__version__}, Python {platform.python_version()}"
    )
    print(f"BLAS: {blas_info()}")
    print(
        f"load average before: {os.getloadavg()[0]:.2f} (other work on the machine skews timings)"
    )
    digits = load_digits(EPOCH_IMAGES if args.epoch else args.batch)
    if digits is None:
        x = np.random.default_rng(0).random((args.batch, 28, 28), dtype=np.float32)
    else:
        x = digits[: args.batch].astype(np.float32) / 255
    time_augmentations(x, args.repeats)
    if args.epoch:
        if digits is None:
            sys.exit("--epoch needs MNIST: set MLP_FUNCTIONAL_DATA or run mlp-functional fetch")
        from mlp_functional.data import load

        labels = np.asarray(load("mnist").train.labels)
        time_epochs(digits, labels, args.batch)
    if args.grid:
        if digits is None:
            sys.exit("--grid needs MNIST: set MLP_FUNCTIONAL_DATA or run mlp-functional fetch")
        write_grid(args.grid, digits[:12])
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
