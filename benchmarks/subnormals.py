"""Subnormal numbers at the end of a long run: how many there are, and what they cost.

Reads a finished run's model (``model.safetensors``, float32), takes a batch of its
training images, and computes with the textbook's functions the logits' gradient, each
hidden layer's gradient (``delta_l = (delta_{l+1} W_{l+1}^T) * f'(z_l)``) and the weight
gradients, with no subnormal number flushed. It prints the share of subnormal entries of
each (and of weight gradients whose square Adam would make subnormal), then times the
back-propagation products, and NumPy's Adam arithmetic, on these operands as they are and
with those entries set to zero, alternately, median of ``--repeats``.

Usage (after ``python scripts/run_recipes.py best-noaug``)::

    python benchmarks/subnormals.py runs/recipes/best-noaug/seed-0
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from before_after import machine_line

import mlp_functional as mf
from mlp_functional.data import load
from mlp_functional.runs.checkpoint import load_params

TINY = np.finfo(np.float32).tiny
SQUARE_TINY = np.sqrt(TINY)  # a gradient below this squares into the subnormal range


def share(a: np.ndarray, below: float = TINY) -> str:
    small = np.count_nonzero((np.abs(a) < below) & (a != 0))
    return f"{small / a.size:.2%}"


def flushed(a: np.ndarray, below: float = TINY) -> np.ndarray:
    return np.where(np.abs(a) < below, 0, a).astype(a.dtype)


def seconds(compute: Callable[[np.ndarray], object], operand: np.ndarray, calls: int = 20) -> float:
    """Seconds per call of ``compute(operand)``."""
    start = time.perf_counter()
    for _ in range(calls):
        compute(operand)
    return (time.perf_counter() - start) / calls


def adam_arithmetic(g: np.ndarray, m: np.ndarray, v: np.ndarray) -> np.ndarray:
    m2 = 0.999 * v + g * g  # the squares are where subnormal numbers appear
    return (0.9 * m + g) / (np.sqrt(m2) + 1e-8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished run's folder")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    params = load_params(args.run / "model.safetensors")
    data = load("mnist")
    x = mf.to_features(data.train.images[: args.batch])
    y = data.train.labels[: args.batch].astype(np.int64)
    trace = mf.forward_trace(params, x)
    deltas = [mf.cross_entropy_grad(trace.logits, y).astype(np.float32)]
    for layer in range(len(params.layers) - 1, 0, -1):
        below = deltas[0] @ params.layers[layer].w.T
        derivative = params.activation.derivative(trace.pre[layer - 1], trace.hidden[layer - 1])
        deltas.insert(0, below * derivative)
    grads = mf.backward(params, trace, deltas[-1], None)
    print(machine_line(args.repeats))
    print(f"run {args.run}, batch of {args.batch} training images, float32")
    print()
    print("| operand | subnormal entries | entries whose square is subnormal |")
    print("|---|---|---|")
    for layer, delta in enumerate(deltas):
        name = "logits' gradient" if layer == len(deltas) - 1 else f"layer {layer + 1} gradient"
        print(f"| {name} | {share(delta)} | - |")
    for layer, grad in enumerate(grads.layers):
        squares = share(grad.w, SQUARE_TINY)
        print(f"| layer {layer + 1} weight gradient | {share(grad.w)} | {squares} |")
    rng = np.random.default_rng(0)
    g = np.concatenate([grad.w.ravel() for grad in grads.layers])
    m, v = (rng.random(g.size, np.float32) * 1e-3 for _ in range(2))
    work = {
        "last layer's weight gradient": (
            lambda d: trace.inputs[-1].T @ d,
            deltas[-1],
            flushed(deltas[-1]),
        )
    }
    for layer in range(len(deltas) - 1):
        inputs, delta = trace.inputs[layer], deltas[layer]
        work[f"layer {layer + 1}'s weight gradient"] = (
            lambda d, a=inputs: a.T @ d,
            delta,
            flushed(delta),
        )
    work["Adam's arithmetic (NumPy)"] = (
        lambda d: adam_arithmetic(d, m, v),
        g,
        flushed(g, SQUARE_TINY),
    )
    print()
    print("| computation | as they are (ms) | subnormal entries zero (ms) | ratio |")
    print("|---|---|---|---|")
    for name, (compute, raw, zeroed) in work.items():
        as_is, without = [], []
        for _ in range(args.repeats):
            as_is.append(seconds(compute, raw))
            without.append(seconds(compute, zeroed))
        a, b = statistics.median(as_is) * 1e3, statistics.median(without) * 1e3
        print(f"| {name} | {a:.3f} | {b:.3f} | {a / b:.1f}x |")


if __name__ == "__main__":
    main()
