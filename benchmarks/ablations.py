"""What the pieces of a training step cost: the update rule, epoch after epoch, BLAS threads.

Three measurements of the reference job (784-256-128-10, batch 128, MNIST), each a
ratio to the matmul floor measured alternately in the same process:

1. the update rule swapped: Adam, plain SGD, and a rule that does nothing;
2. six consecutive Adam epochs (does anything slow down as training goes on?);
3. one and two BLAS threads (threadpoolctl), for 784-16-10 and the reference network,
   on the quiet machine and with a busy neighbour: another process spinning on one core,
   as on a shared machine.

Usage: python benchmarks/ablations.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np
from threadpoolctl import threadpool_limits

import mlp_functional as mf
from mlp_functional.bench import matmul_floor
from mlp_functional.cli.bench import blas_info, cpu_model
from mlp_functional.data import load

SIZES = [784, 256, 128, 10]


def noop() -> mf.Optimizer:
    return mf.from_rule(mf.FlatRule(mf.SgdState, lambda p, g, s, t, x: None, lambda t: 0.0))


@contextlib.contextmanager
def neighbour(busy: bool) -> Iterator[None]:
    """While inside, another process keeps one core busy (bounded: it stops itself)."""
    if not busy:
        yield
        return
    spin = "import time\nend = time.time() + 600\nwhile time.time() < end: pass"
    proc = subprocess.Popen([sys.executable, "-c", spin])
    try:
        time.sleep(0.5)
        yield
    finally:
        proc.kill()
        proc.wait()


def epoch_ratio(sizes, optimizer, images, labels, state=None):
    state = state or mf.init_state(mf.key(1), mf.init(mf.key(0), sizes), optimizer)
    floor = matmul_floor(sizes, batch_size=128, n_examples=len(images), repeats=1)
    start = time.perf_counter()
    state, _ = mf.train_epoch(state, images, labels, batch_size=128)
    seconds = time.perf_counter() - start
    return seconds, seconds / floor, state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = load("mnist")
    images, labels = data.train.images, data.train.labels.astype(np.int64)
    print(f"machine: {cpu_model()}; BLAS {blas_info()}; medians of {args.repeats}\n")

    print("1. update rule | epoch (s) | ratio to floor")
    rules = {"adam": lambda: mf.adam(1e-3), "sgd": lambda: mf.sgd(0.1), "nothing": noop}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in rules}
    for _ in range(args.repeats):
        for name, make in rules.items():
            seconds, ratio, _ = epoch_ratio(SIZES, make(), images, labels)
            results[name].append((seconds, ratio))
    for name, runs in results.items():
        seconds = statistics.median(s for s, _ in runs)
        ratio = statistics.median(r for _, r in runs)
        print(f"   {name} | {seconds:.3f} | {ratio:.2f}x")

    print("\n2. consecutive Adam epochs | epoch (s) | ratio to floor")
    state = None
    for epoch in range(1, 7):
        seconds, ratio, state = epoch_ratio(SIZES, mf.adam(1e-3), images, labels, state)
        print(f"   epoch {epoch} | {seconds:.3f} | {ratio:.2f}x")

    print("\n3. neighbour | BLAS threads | network | epoch (s) | floor (s)")
    for busy in (False, True):
        with neighbour(busy):
            for sizes in ([784, 16, 10], SIZES):
                for threads in (2, 1):
                    runs = []
                    with threadpool_limits(limits=threads, user_api="blas"):
                        for _ in range(args.repeats):
                            seconds, ratio, _ = epoch_ratio(sizes, mf.adam(1e-3), images, labels)
                            runs.append((seconds, seconds / ratio))
                    seconds = statistics.median(s for s, _ in runs)
                    floor = statistics.median(f for _, f in runs)
                    name = "-".join(map(str, sizes))
                    state = "busy" if busy else "quiet"
                    print(f"   {state} | {threads} | {name} | {seconds:.3f} | {floor:.3f}")


if __name__ == "__main__":
    main()
