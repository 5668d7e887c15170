"""The reference step's matrix products under two OpenBLAS kernels, alternating.

OpenBLAS reads ``OPENBLAS_CORETYPE`` once, when NumPy loads it. Each round starts one
fresh process per setting: the variable as this shell has it, and the variable removed
(OpenBLAS then picks the kernel for the processor itself). Each process times every
product of one step of 784-256-128-10 at batch 128 in float32 (``x @ w``, ``a.T @
delta``, ``delta @ w.T``, into preallocated outputs, as ``bench``'s floor does) and
prints microseconds per product; the table gives medians over the rounds.

Usage::

    python benchmarks/blas_kernels.py --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from mlp_functional.cli.bench import cpu_model

_CHILD = """
import json, statistics, time, itertools
import numpy as np
from threadpoolctl import threadpool_info
sizes, batch = [784, 256, 128, 10], 128
rng = np.random.default_rng(0)
def per_call(fn, calls=200, rounds=7):
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(times)
out = {}
for layer, (i, o) in enumerate(itertools.pairwise(sizes), start=1):
    a = rng.random((batch, i), dtype=np.float32)
    w = rng.standard_normal((i, o), dtype=np.float32)
    d = rng.standard_normal((batch, o), dtype=np.float32)
    z, gw, back = np.empty((batch, o), np.float32), np.empty_like(w), np.empty_like(a)
    out[f"layer {layer} x @ w"] = per_call(lambda: np.matmul(a, w, out=z))
    out[f"layer {layer} a.T @ delta"] = per_call(lambda: np.matmul(a.T, d, out=gw))
    if layer > 1:
        out[f"layer {layer} delta @ w.T"] = per_call(lambda: np.matmul(d, w.T, out=back))
kernels = sorted({f"{i['version']} {i['architecture']}" for i in threadpool_info()
                  if i["internal_api"] == "openblas"})
print(json.dumps({"times": out, "kernels": kernels}))
"""


def _run(environ: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, env=environ, check=True
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    as_set = dict(os.environ)
    unset = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    settings = {
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}": as_set,
        "variable removed": unset,
    }
    runs: dict[str, list[dict]] = {name: [] for name in settings}
    for _ in range(args.repeats):
        for name, environ in settings.items():
            runs[name].append(_run(environ))
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {cpu_model()}; load {load}; medians of {args.repeats}")
    names = list(settings)
    print("| product | " + " | ".join(f"{n} (us)" for n in names) + " | ratio |")
    print("|---|" + "---|" * (len(names) + 1))
    products = list(runs[names[0]][0]["times"])
    totals = dict.fromkeys(names, 0.0)
    for product in products:
        medians = [statistics.median(r["times"][product] for r in runs[n]) for n in names]
        for n, m in zip(names, medians, strict=True):
            totals[n] += m
        cells = " | ".join(f"{m:.0f}" for m in medians)
        print(f"| {product} | {cells} | {medians[0] / medians[1]:.2f}x |")
    cells = " | ".join(f"{totals[n]:.0f}" for n in names)
    print(f"| one step | {cells} | {totals[names[0]] / totals[names[1]]:.2f}x |")
    for n in names:
        print(f"{n}: OpenBLAS {', '.join(runs[n][0]['kernels'])}")


if __name__ == "__main__":
    main()
