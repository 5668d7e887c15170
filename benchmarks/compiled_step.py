"""A variant measured and dropped: the whole training step compiled, Python out of the loop.

The fast engine runs each step from Python: some 25 calls into NumPy's matrix products
and the compiled kernels. Here the same step, the same kernels and the same products
(numba's ``np.dot`` on SciPy's OpenBLAS) run batch after batch inside one compiled
function, 64 steps a call (Adam's coefficients for those steps worked out before, the
subnormal flush between calls, as the engine does). It checks that the parameters after
an epoch equal the engine's, then times both, taking turns, with the matmul floor timed
in each round; the table gives medians of the ratios to the floor.

Only the reference job's shape of training: ReLU, Adam, no dropout, no augmentation,
uint8 images; not part of the engine.

Usage::

    python benchmarks/compiled_step.py --repeats 7
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import numba
import numpy as np

import mlp_functional as mf
from mlp_functional.bench.epoch import matmul_floor
from mlp_functional.cli.bench import blas_info, cpu_model
from mlp_functional.data import load
from mlp_functional.engine.epochs import epoch_keys, regimen
from mlp_functional.fast import compiled as kernels
from mlp_functional.fast import loop
from mlp_functional.fast.rules import FLUSH_EVERY, adam_sums, fused_chain, step_counts
from mlp_functional.fast.state import rule_chain, to_fast
from mlp_functional.textbook.optimizers import scale_by_adam
from mlp_functional.textbook.train import epoch_order

Array = np.ndarray


@numba.njit(nogil=True, error_model="numpy", cache=True)
def _steps(rows, labels, order, first, stop, batch, sizes, p, g, m1, m2, coefficients, beta, work):
    """Batches ``first .. stop - 1`` of ``order``: gather, forward, loss, backward, Adam.

    ``work`` holds the features, then per layer ``z``, ``f(z)`` and ``delta``, each
    ``batch`` rows. Returns the loss sum, the correct count, and -1 or the batch whose
    loss was not finite.
    """
    layers = sizes.shape[0] - 1
    p_at = np.zeros(layers + 1, np.int64)  # where each layer's w starts in p and g
    w_at = np.zeros(layers + 1, np.int64)  # where each layer's z starts in work
    w_at[0] = batch * sizes[0]
    for layer in range(layers):
        p_at[layer + 1] = p_at[layer] + sizes[layer] * sizes[layer + 1] + sizes[layer + 1]
        w_at[layer + 1] = w_at[layer] + 3 * batch * sizes[layer + 1]
    predicted = np.empty(batch, np.int64)
    loss_sum, correct = 0.0, 0
    scale = work.dtype.type(255.0)
    for k in range(first, stop):
        rows_of = order[k * batch : min((k + 1) * batch, order.shape[0])]
        n = rows_of.shape[0]
        x = work[: n * sizes[0]].reshape((n, sizes[0]))
        kernels.gather_features(rows, rows_of, scale, x)
        a = x
        for layer in range(layers):
            i, o = sizes[layer], sizes[layer + 1]
            w = p[p_at[layer] : p_at[layer] + i * o].reshape((i, o))
            b = p[p_at[layer] + i * o : p_at[layer + 1]]
            z = work[w_at[layer] : w_at[layer] + n * o].reshape((n, o))
            np.dot(a, w, z)
            if layer < layers - 1:
                h = work[w_at[layer] + batch * o : w_at[layer] + batch * o + n * o]
                h2 = h.reshape((n, o))
                kernels.bias_activation(z, b, kernels.RELU, h2)
                a = h2
            else:
                for r in range(n):
                    for c in range(o):
                        z[r, c] += b[c]
        yb = labels[rows_of]
        delta = work[w_at[layers - 1] : w_at[layers - 1] + n * sizes[layers]]
        delta2 = delta.reshape((n, sizes[layers]))
        last_bias = g[p_at[layers] - sizes[layers] : p_at[layers]]
        total = kernels.softmax_cross_entropy(
            delta2,
            yb,
            0.0,
            predicted[:n],
            last_bias,
            p[:0],  # no weights: every one 1
        )
        if not math.isfinite(total):
            return loss_sum, correct, k
        loss_sum += total
        for r in range(n):
            correct += predicted[r] == yb[r]
        for layer in range(layers - 1, -1, -1):
            i, o = sizes[layer], sizes[layer + 1]
            if layer == 0:
                inputs = x
            else:
                start = w_at[layer - 1] + batch * i
                inputs = work[start : start + n * i].reshape((n, i))
            gw = g[p_at[layer] : p_at[layer] + i * o].reshape((i, o))
            np.dot(inputs.T, delta2, gw)
            if layer == 0:
                break
            w = p[p_at[layer] : p_at[layer] + i * o].reshape((i, o))
            below = w_at[layer - 1]
            z_below = work[below : below + n * i].reshape((n, i))
            h_below = work[below + batch * i : below + batch * i + n * i].reshape((n, i))
            d_below = work[below + 2 * batch * i : below + 2 * batch * i + n * i].reshape((n, i))
            np.dot(delta2, w.T, d_below)
            bias_below = g[p_at[layer] - i : p_at[layer]]
            kernels.activation_backward(d_below, z_below, h_below, kernels.RELU, bias_below)
            delta2 = d_below
        c = coefficients[k - first]
        kernels.fused_update(p, g, m1, m2, kernels.ADAM, c[0], c[1], beta, c[2], c[3], c[4])
    return loss_sum, correct, -1


def compiled_epoch(state: mf.TrainState, x: Array, y: Array, batch: int) -> Array:
    """One epoch of the reference job through :func:`_steps`; the flat params after it."""
    chain = rule_chain(state)
    fused = fused_chain(chain)
    assert fused is not None and chain[0][0] is scale_by_adam
    fast = to_fast(state)
    slots = [list(slot.values) for slot in fast.slots]
    adam = slots[0]
    adam_sums(adam, 0.9, 0.999, into_sums=True)
    p, g = fast.p, np.empty_like(fast.p)
    order = epoch_order(epoch_keys(state.key).shuffle, len(x))
    n_batches = math.ceil(len(order) / batch)
    sizes = np.array(state.params.sizes, np.int64)
    work = np.empty(batch * sizes[0] + 3 * batch * int(sizes[1:].sum()), p.dtype)
    beta = np.array([0.9, 0.999], p.dtype)
    k = 0
    while k < n_batches:
        stop = min(n_batches, k + FLUSH_EVERY - adam[0] % FLUSH_EVERY)
        coefficients = np.empty((stop - k, 5), p.dtype)
        for j in range(stop - k):
            counts = step_counts(slots)
            c = fused.prepare(p, g, slots)
            coefficients[j] = (c.a, c.c, c.epsc, c.s, c.d)
        _, _, bad = _steps(
            x, y, order, k, stop, batch, sizes, p, g, *adam[1:], coefficients, beta, work
        )
        assert bad < 0
        fused.finish(counts, slots)
        k = stop
    adam_sums(adam, 0.9, 0.999, into_sums=False)
    return p


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    data = load("mnist").train
    x, y = data.images.reshape(len(data.images), -1), data.labels.astype(np.int64)
    sizes, batch = [784, 256, 128, 10], 128
    state = mf.init_state(mf.key(0), mf.init(mf.key(1), sizes, dtype="float32"), mf.adam(1e-3))
    plan = regimen(len(x), batch_size=batch)
    engine, _ = loop.run_epoch(state, x, y, plan)
    same = np.array_equal(compiled_epoch(state, x, y, batch), mf.ravel(engine.params))
    variants = {
        "fast engine (numba kernels)": lambda: loop.run_epoch(state, x, y, plan),
        "whole step compiled": lambda: compiled_epoch(state, x, y, batch),
    }
    ratios: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, epoch in variants.items():
            floor = matmul_floor(sizes, batch_size=batch, n_examples=len(x), repeats=1)
            start = time.perf_counter()
            epoch()
            ratios[name].append((time.perf_counter() - start) / floor)
    load_avg = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"machine: {cpu_model()}; BLAS {blas_info()}; load {load_avg}; medians of {args.repeats}")
    print(f"params after one epoch identical to the engine's: {same}")
    print("| variant | ratio to floor | rounds |")
    print("|---|---|---|")
    for name, values in ratios.items():
        rounds = " ".join(f"{v:.2f}" for v in values)
        print(f"| {name} | {statistics.median(values):.2f}x | {rounds} |")


if __name__ == "__main__":
    main()
