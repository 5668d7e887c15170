"""One training step's matrix products through NumPy's OpenBLAS and through Intel's MKL.

The fast engine's epoch at 784-1024-1024-10 is bound by its matrix products, which NumPy
sends to OpenBLAS. This asks whether another BLAS from the registry would be faster at
the same shapes: the products of one step of batch ``--batch`` (each layer's forward
product, its weight gradient and, above the first layer, the gradient of its input), in
float32 with two threads. MKL's ``cblas_sgemm`` is called through ctypes from a Python
that has the ``mkl`` wheel installed (a separate environment: the wheel and its OpenMP
runtime take about 1 GB, and the engine does not depend on it). Each measurement is a
fresh process; the two take turns, round after round; the table gives medians.

Usage::

    python -m venv ../mkl-env && ../mkl-env/bin/pip install mkl numpy
    python benchmarks/other_blas.py ../mkl-env/bin/python --repeats 5
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import itertools
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

THREADS = 2
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


def numpy_product() -> Callable[..., None]:
    """``out = op(a) @ op(b)`` through NumPy (its BLAS)."""

    def product(a, b, out, ta=False, tb=False):
        np.matmul(a.T if ta else a, b.T if tb else b, out=out)

    return product


def mkl_product() -> Callable[..., None]:
    """``out = op(a) @ op(b)`` through MKL's ``cblas_sgemm`` (row-major, float32)."""
    found = glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*"))
    if not found:
        raise SystemExit(f"{sys.executable}: no libmkl_rt here; pip install mkl into it")
    mkl = ctypes.CDLL(found[0])
    mkl.MKL_Set_Num_Threads(THREADS)
    sgemm = mkl.cblas_sgemm
    ptr, dim = ctypes.c_void_p, ctypes.c_int
    sgemm.argtypes = [dim] * 6 + [ctypes.c_float, ptr, dim, ptr, dim, ctypes.c_float, ptr, dim]

    def product(a, b, out, ta=False, tb=False):
        m, k = (a.shape[1], a.shape[0]) if ta else a.shape
        n = b.shape[0] if tb else b.shape[1]
        trans_a, trans_b = (_TRANS if t else _NO_TRANS for t in (ta, tb))
        sgemm(_ROW_MAJOR, trans_a, trans_b, m, n, k, 1.0, a.ctypes.data, a.shape[1],
              b.ctypes.data, b.shape[1], 0.0, out.ctypes.data, out.shape[1])  # fmt: skip

    return product


def time_step(backend: str, sizes: list[int], batch: int, steps: int) -> float:
    """Milliseconds per step of the products of one training step, after a warm-up."""
    product = mkl_product() if backend == "mkl" else numpy_product()
    rng = np.random.default_rng(0)
    pairs = list(itertools.pairwise(sizes))
    w = [rng.standard_normal((a, b), dtype=np.float32) for a, b in pairs]
    inputs = [rng.standard_normal((batch, a), dtype=np.float32) for a, _ in pairs]
    deltas = [rng.standard_normal((batch, b), dtype=np.float32) for _, b in pairs]
    z = [np.empty((batch, b), np.float32) for _, b in pairs]
    grads = [np.empty_like(m) for m in w]
    below = [np.empty((batch, a), np.float32) for a, _ in pairs]
    # the same products as NumPy's, before any is timed
    for i in range(len(w)):
        product(inputs[i], w[i], z[i])
        np.testing.assert_allclose(z[i], inputs[i] @ w[i], rtol=1e-3, atol=1e-2)
        product(inputs[i], deltas[i], grads[i], ta=True)
        np.testing.assert_allclose(grads[i], inputs[i].T @ deltas[i], rtol=1e-3, atol=1e-2)
        product(deltas[i], w[i], below[i], tb=True)
        np.testing.assert_allclose(below[i], deltas[i] @ w[i].T, rtol=1e-3, atol=1e-2)

    def step():
        for i in range(len(w)):
            product(inputs[i], w[i], z[i])
        for i in reversed(range(len(w))):
            product(inputs[i], deltas[i], grads[i], ta=True)
            if i:
                product(deltas[i], w[i], below[i], tb=True)

    for _ in range(steps // 5):
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - started) / steps * 1e3


def measure(python: str, backend: str, sizes: str, batch: int, steps: int) -> float:
    command = [python, __file__, "--child", backend, sizes, str(batch), str(steps)]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(THREADS)}
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return float(done.stdout.split()[-1])


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        backend, sizes, batch, steps = sys.argv[2:6]
        ms = time_step(backend, [int(s) for s in sizes.split("-")], int(batch), int(steps))
        print(f"ms {ms}")
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mkl_python", help="a Python with the mkl wheel installed")
    parser.add_argument("--sizes", default="784-1024-1024-10,784-256-128-10")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from before_after import machine_line

    print(machine_line(args.repeats) + f"; {THREADS} threads each; batch {args.batch}")
    print("| network | OpenBLAS (ms/step) | MKL (ms/step) | OpenBLAS / MKL | rounds |")
    print("|---|---|---|---|---|")
    for sizes in args.sizes.split(","):
        rounds = []
        for _ in range(args.repeats):
            ours = measure(sys.executable, "numpy", sizes, args.batch, args.steps)
            theirs = measure(args.mkl_python, "mkl", sizes, args.batch, args.steps)
            rounds.append((ours, theirs))
        ours, theirs = (statistics.median(r[i] for r in rounds) for i in (0, 1))
        each = " ".join(f"{a / b:.2f}" for a, b in rounds)
        print(f"| {sizes} | {ours:.3f} | {theirs:.3f} | {ours / theirs:.2f}x | {each} |")


if __name__ == "__main__":
    main()
