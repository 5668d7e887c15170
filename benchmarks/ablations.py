"""What the pieces of a training step cost: the update rule, epoch after epoch, BLAS threads.

Measurements of the reference job (784-256-128-10, batch 128, MNIST), each a ratio to
the matmul floor measured alternately in the same process:

1. the update rule swapped: Adam, Adam in its earlier twelve-pass form, plain SGD, and
   a rule that does nothing;
2. six consecutive Adam epochs (does anything slow down as training goes on?);
3. one and two BLAS threads (threadpoolctl), for 784-16-10 and the reference network,
   on the quiet machine and with a busy neighbour: another process spinning on one core,
   as on a shared machine;
4. Adam applied slice by slice (as the training loop does) or to the whole buffers at
   once, for the reference network and the ``best`` recipe's 784-1500-1000-500-10;
5. Adam's rule alone, on one thread or split in halves over two Python threads (NumPy
   releases the GIL inside each operation), at the sizes of those two networks.

Usage: python benchmarks/ablations.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
from threadpoolctl import threadpool_limits

import mlp_functional as mf
from mlp_functional.bench.epoch import matmul_floor
from mlp_functional.cli.bench import blas_info, cpu_model
from mlp_functional.data import load
from mlp_functional.optimizers import flush_subnormals

SIZES = [784, 256, 128, 10]
BEST_SIZES = [784, 1500, 1000, 500, 10]


def noop() -> mf.Optimizer:
    return mf.from_rule(mf.FlatRule(mf.SgdState, lambda p, g, s, t, x: None, lambda t: 0.0))


def adam_twelve_passes(lr: float = 1e-3, b1: float = 0.9, b2: float = 0.999) -> mf.Optimizer:
    """Adam as it was first written: moments kept as averages, twelve passes a step."""

    def apply(p, g, slots, step, scratch):
        mu, nu = slots
        t = step + 1
        g *= 1 - b1
        mu *= b1
        mu += g
        np.square(g, out=g)
        g *= (1 - b2) / (1 - b1) ** 2
        nu *= b2
        nu += g
        flush_subnormals(step, mu, nu)
        c2 = math.sqrt(1 - b2**t)
        np.sqrt(nu, out=g)
        g += 1e-8 * c2
        np.divide(mu, g, out=g)
        g *= lr / (1 - b1**t) * c2
        p -= g

    return mf.from_rule(mf.FlatRule(mf.AdamState, apply, lambda t: lr, elementwise=True))


def whole(optimizer: mf.Optimizer) -> mf.Optimizer:
    """The same rule, applied to the whole buffers at once instead of slice by slice."""
    assert optimizer.rule is not None
    return mf.from_rule(optimizer.rule._replace(elementwise=False))


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


def epoch_ratio(sizes, optimizer, images, labels, state=None, batch_size=128):
    state = state or mf.init_state(mf.key(1), mf.init(mf.key(0), sizes), optimizer)
    floor = matmul_floor(sizes, batch_size=batch_size, n_examples=len(images), repeats=1)
    start = time.perf_counter()
    state, _ = mf.train_epoch(state, images, labels, batch_size=batch_size)
    seconds = time.perf_counter() - start
    return seconds, seconds / floor, state


def alternate(variants, sizes, images, labels, repeats):
    """``{name: (median seconds, median ratio)}`` of epochs, the variants taking turns.

    ``variants`` maps a name to a function returning the optimizer to train with.
    """
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, make in variants.items():
            seconds, ratio, _ = epoch_ratio(sizes, make(), images, labels)
            runs[name].append((seconds, ratio))
    return {
        name: (statistics.median(s for s, _ in m), statistics.median(r for _, r in m))
        for name, m in runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = load("mnist")
    images, labels = data.train.images, data.train.labels.astype(np.int64)
    print(f"machine: {cpu_model()}; BLAS {blas_info()}; medians of {args.repeats}\n")

    print("1. update rule | epoch (s) | ratio to floor")
    rules = {
        "adam": lambda: mf.adam(1e-3),
        "adam, twelve passes": adam_twelve_passes,
        "sgd": lambda: mf.sgd(0.1),
        "nothing": noop,
    }
    for name, (seconds, ratio) in alternate(rules, SIZES, images, labels, args.repeats).items():
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

    print("\n4. Adam applied | network | epoch (s) | ratio to floor")
    for sizes in (SIZES, BEST_SIZES):
        name = "-".join(map(str, sizes))
        variants = {"slice by slice": lambda: mf.adam(1e-3), "whole": lambda: whole(mf.adam(1e-3))}
        for v, (seconds, ratio) in alternate(variants, sizes, images, labels, args.repeats).items():
            print(f"   {v} | {name} | {seconds:.3f} | {ratio:.2f}x")

    print("\n5. Adam rule alone | entries | one thread (us) | two threads (us)")
    for n in (235_146, 3_184_010):
        one, two = update_threads(n, args.repeats)
        print(f"   adam | {n:,} | {one:.0f} | {two:.0f}")


def update_threads(n: int, repeats: int, steps: int = 50) -> tuple[float, float]:
    """Median microseconds per Adam step on n entries: one thread, then two halves."""
    rule = mf.adam(1e-3).rule
    assert rule is not None
    rng = np.random.default_rng(0)
    p, grad = rng.standard_normal((2, n)).astype(np.float32)
    slots = (np.zeros_like(p), np.zeros_like(p))
    g = np.empty_like(p)
    half = n // 2
    start, finish = threading.Semaphore(0), threading.Semaphore(0)

    def second_half() -> None:
        while True:
            start.acquire()
            rule.apply(p[half:], g[half:], tuple(s[half:] for s in slots), 0, g[half:])
            finish.release()

    threading.Thread(target=second_half, daemon=True).start()

    def one_thread() -> None:
        rule.apply(p, g, slots, 0, g)

    def two_threads() -> None:
        start.release()
        rule.apply(p[:half], g[:half], tuple(s[:half] for s in slots), 0, g[:half])
        finish.acquire()

    def per_step(step: Callable[[], None]) -> float:
        began = time.perf_counter()
        for _ in range(steps):
            np.copyto(g, grad)
            step()
        return (time.perf_counter() - began) / steps * 1e6

    times: dict[str, list[float]] = {"one": [], "two": []}
    for _ in range(repeats):
        times["one"].append(per_step(one_thread))
        times["two"].append(per_step(two_threads))
    return statistics.median(times["one"]), statistics.median(times["two"])


if __name__ == "__main__":
    main()
