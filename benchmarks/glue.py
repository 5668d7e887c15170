"""What a fast-engine step costs besides its arithmetic: the batch's gather and the glue.

"The rest" of `mlp-functional bench` is an epoch's time per step minus the forward pass,
back propagation and the update, each timed apart: a difference of noisy figures, which
moved from 0.14 to 0.22 ms between runs minutes apart (and below 0 at batch 512). This
measures the same thing directly: it times epochs of the reference job in which every
matrix product and every compiled or NumPy kernel of the step returns at once, so what
is left is the Python and NumPy glue of the step (with ``--gather``, also the real
gather and conversion of each batch). Best of ``--repeats`` epochs.

Usage::

    python benchmarks/glue.py            # the glue alone
    python benchmarks/glue.py --gather   # the glue and the gather
"""

from __future__ import annotations

import argparse
import time
import types

import numpy as np

import mlp_functional as mf
from mlp_functional.cli.bench import blas_info, cpu_model
from mlp_functional.data import load
from mlp_functional.engine.table import train_epoch
from mlp_functional.fast import backend, kernels, rules


def epoch_seconds(state, images, labels, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        train_epoch(state, images, labels, batch_size=128, engine="fast")
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gather", action="store_true", help="keep the real batch gather")
    args = parser.parse_args()
    data = load("mnist")
    images, labels = data.train.images, data.train.labels.astype(np.int64)
    state = mf.init_state(mf.key(1), mf.init(mf.key(0), [784, 256, 128, 10]), mf.adam(1e-3))
    state, _ = train_epoch(state, images, labels, batch_size=128, engine="fast")
    full = epoch_seconds(state, images, labels, args.repeats)
    stubbed = types.SimpleNamespace(**vars(np))
    stubbed.matmul = lambda a, b, out=None: out
    kernels.np = stubbed  # the products of forward and back propagation
    native = backend.compiled()
    if native is None:
        parser.error("this measures the step with the C kernels (MLP_FUNCTIONAL_KERNELS=native)")
    else:
        for name in ("bias_activation", "activation_backward", "fused_update", "flush_subnormals"):
            setattr(native, name, lambda *args: None)
        native.softmax_cross_entropy = lambda *args: 0.0
        if not args.gather:
            native.gather_features = lambda *args: None
    rules.fused_update = lambda *args: None
    glue = epoch_seconds(state, images, labels, args.repeats)
    steps = -(-len(images) // 128)
    what = "glue and gather" if args.gather else "glue"
    print(f"machine: {cpu_model()}; BLAS {blas_info()}; kernels {backend.name()}")
    print(f"reference job, best of {args.repeats}: full epoch {full:.3f} s; with the arithmetic")
    print(f"stubbed {glue:.3f} s: {what} {1e6 * glue / steps:.1f} us a step, {glue / full:.1%}")


if __name__ == "__main__":
    main()
