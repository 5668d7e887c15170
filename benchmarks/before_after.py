"""The engine of another checkout against this one, on the reference job, alternating.

Each run is a fresh process that imports ``mlp_functional`` from one checkout, trains a
warm-up epoch of 784-256-128-10 (batch 128, Adam, float32, MNIST 60k), then times the
matmul floor and one epoch in that same process and prints their ratio. Runs of the
checkouts take turns, round after round; the table gives medians.

Usage (the earlier engine checked out beside the repository, outside its history)::

    git worktree add --detach ../old 85db1fc
    python benchmarks/before_after.py ../old --repeats 7

``--engines`` picks this checkout's engines to time (``fast,textbook``), ``--kernels``
the fast engine's kernels (``numpy``, ``native`` or both: ``MLP_FUNCTIONAL_KERNELS``;
an old checkout may name ``numba``);
``--this`` times another checkout of the present engine instead of this one. The other
checkout is timed with its one engine, or with ``--other-engine fast`` with its fast
engine under each of the kernels, beside ours (``--other-kernels numba``: under that
name instead, for a checkout whose compiled kernels were numba's).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

from mlp_functional.cli.bench import blas_info, cpu_model

HERE = Path(__file__).resolve().parents[1]

#: Runs in the child. argv: the engine ("" for a checkout without engine=), the sizes,
#: the batch size, BLAS threads during the epochs (0: as it comes), and "noop" to train
#: with an update that does nothing (the bound of any update). The floor runs with the
#: same threads. It prints the wall-time ratio and the CPU-time ratio: on a loaded
#: machine the second is the steadier, and it is meaningful with one BLAS thread and
#: no second thread of ours (the overlap).
_EPOCH = """
import sys, time
import numpy as np
from threadpoolctl import threadpool_limits
import mlp_functional as mf
try:  # the floor moved into bench/epoch.py; the earlier engine keeps it in bench.py
    from mlp_functional.bench.epoch import matmul_floor
except ImportError:
    from mlp_functional.bench import matmul_floor
from mlp_functional.data import load
engine, sizes, batch, threads, update = sys.argv[1:6]
sizes, batch, threads = [int(s) for s in sizes.split("-")], int(batch), int(threads)
if update == "noop":
    import mlp_functional.fast.loop as loop
    loop.compile_step = lambda *args: (lambda p, g, slots, scratch: None)
    loop.overlap_for = lambda *args: None
extra = {"engine": engine} if engine else {}
data = load("mnist")
images, labels = data.train.images, data.train.labels.astype(np.int64)
state = mf.init_state(mf.key(1), mf.init(mf.key(0), sizes), mf.adam(1e-3))
with threadpool_limits(threads or None):
    state, _ = mf.train_epoch(state, images, labels, batch_size=batch, **extra)
with threadpool_limits(threads or None):
    cpu = time.process_time()
    floor = matmul_floor(sizes, batch_size=batch, n_examples=len(images), repeats=1)
    floor_cpu = (time.process_time() - cpu) / 2  # a warm-up epoch, then the timed one
    start, cpu = time.perf_counter(), time.process_time()
    state, log = mf.train_epoch(state, images, labels, batch_size=batch, **extra)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
print(mf.__file__, seconds, floor, seconds / floor, cpu / floor_cpu)
"""

REFERENCE = "784-256-128-10"


def run_once(
    checkout: Path,
    engine: str,
    kernels: str,
    *,
    sizes: str = REFERENCE,
    batch_size: int = 128,
    threads: int = 0,
    update: str = "adam",
    env: dict[str, str] | None = None,
) -> tuple[float, float, float, float]:
    """(epoch seconds, floor seconds, ratio, CPU-time ratio) of a fresh process on ``checkout``."""
    env = {
        **os.environ,
        "PYTHONPATH": str(checkout),
        "MLP_FUNCTIONAL_KERNELS": kernels,
        **(env or {}),
    }
    argv = [engine, sizes, str(batch_size), str(threads), update]
    done = subprocess.run(
        [sys.executable, "-c", _EPOCH, *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=checkout,
        check=True,
    )
    where, seconds, floor, ratio, cpu_ratio = done.stdout.split()[-5:]
    if not Path(where).resolve().is_relative_to(checkout.resolve()):
        raise RuntimeError(f"imported {where}, not the checkout {checkout}")
    return float(seconds), float(floor), float(ratio), float(cpu_ratio)


def machine_line(repeats: int) -> str:
    """The processor, the BLAS, the load average (others' work shows there), the medians."""
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"machine: {cpu_model()}; BLAS {blas_info()}; load {load}; medians of {repeats}"


def table(runs: dict[str, list[tuple[float, float, float, float]]]) -> list[str]:
    """The markdown rows: medians of wall time, floor, both ratios, and each round's."""
    lines = [
        "| variant | epoch (s) | floor (s) | ratio to floor | CPU-time ratio | rounds |",
        "|---|---|---|---|---|---|",
    ]
    for name, rounds in runs.items():
        seconds, floor, ratio, cpu = (statistics.median(r[i] for r in rounds) for i in range(4))
        each = " ".join(f"{r[2]:.2f}" for r in rounds)
        lines.append(
            f"| {name} | {seconds:.3f} | {floor:.3f} | {ratio:.2f}x | {cpu:.2f}x | {each} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("other", type=Path, help="the other checkout (e.g. the earlier engine)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--engines", default="fast,textbook")
    parser.add_argument(
        "--kernels", default="numpy", help="numpy, native or numpy,native (numba for old checkouts)"
    )
    parser.add_argument("--this", type=Path, default=HERE, help="the present engine's checkout")
    parser.add_argument("--threads", type=int, default=0, help="BLAS threads (0: its own)")
    parser.add_argument(
        "--other-engine", default="", help="the other checkout's engine= (default: none given)"
    )
    parser.add_argument(
        "--other-kernels",
        default="",
        help="the other checkout's kernels, when its names differ (e.g. numba; default: --kernels)",
    )
    args = parser.parse_args()
    before = f"before ({args.other.name})"
    variants = {}
    if not args.other_engine:
        variants[before] = (args.other, "", "numpy")
    for engine in args.engines.split(","):
        for kernels in args.kernels.split(",") if engine == "fast" else ["numpy"]:
            if args.other_engine and engine == "fast":
                theirs = args.other_kernels or kernels
                label = f"{before}, {args.other_engine} engine, {theirs} kernels"
                variants[label] = (args.other, args.other_engine, theirs)
            label = f"now, fast engine, {kernels} kernels" if engine == "fast" else "now, textbook"
            variants[label] = (args.this, engine, kernels)
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, (checkout, engine, kernels) in variants.items():
            runs[name].append(run_once(checkout, engine, kernels, threads=args.threads))
    print(machine_line(args.repeats))
    threads = f"{args.threads} BLAS threads" if args.threads else "the BLAS's own threads"
    print(f"reference job: 784-256-128-10, batch 128, adam, float32, MNIST 60k; {threads}")
    print()
    print("\n".join(table(runs)))


if __name__ == "__main__":
    main()
