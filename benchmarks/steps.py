"""One training step of the reference job split into forward, backward and update, with
the NumPy kernels and the compiled ones, in fresh processes taking turns (each phase
timed by :func:`mlp_functional.bench.step_breakdown`, 200 calls, median).

Usage: python benchmarks/steps.py --repeats 5 [--threads 1]
(it times the checkout it belongs to)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

from before_after import HERE, machine_line

_STEP = """
import sys
import numpy as np
from threadpoolctl import threadpool_limits
import mlp_functional as mf
from mlp_functional.bench.epoch import step_breakdown
from mlp_functional.data import load
from mlp_functional.fast import backend
threads = int(sys.argv[1])
data = load("mnist")
state = mf.init_state(mf.key(1), mf.init(mf.key(0), [784, 256, 128, 10]), mf.adam(1e-3))
with threadpool_limits(threads or None):
    t = step_breakdown(state, data.train.images[:128], data.train.labels[:128].astype(np.int64))
print(backend.name(), 1e6 * t.forward, 1e6 * t.backward, 1e6 * t.update)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="BLAS threads (0: its own)")
    args = parser.parse_args()
    runs: dict[str, list[list[float]]] = {"numpy": [], "native": []}
    for _ in range(args.repeats):
        for kernels in runs:
            env = {**os.environ, "MLP_FUNCTIONAL_KERNELS": kernels, "PYTHONPATH": str(HERE)}
            done = subprocess.run(
                [sys.executable, "-c", _STEP, str(args.threads)],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            name, *times = done.stdout.split()[-4:]
            assert name == kernels, (name, kernels)
            runs[kernels].append([float(t) for t in times])
    print(machine_line(args.repeats))
    print("reference step: 784-256-128-10, batch 128, adam, float32 (microseconds)")
    print()
    print("| kernels | forward | backward | update |")
    print("|---|---|---|---|")
    for kernels, rounds in runs.items():
        medians = [statistics.median(r[i] for r in rounds) for i in range(3)]
        print(f"| {kernels} | " + " | ".join(f"{m:.0f}" for m in medians) + " |")


if __name__ == "__main__":
    main()
