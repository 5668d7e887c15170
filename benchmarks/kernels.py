"""The fast engine's variants on one job: NumPy or compiled kernels, the update after
back propagation or overlapped with it, one or two BLAS threads, and an update that
does nothing (the bound). Fresh processes take turns; each ratio is to the matmul
floor timed in its own process (with the BLAS's own threads).

Usage::

    python benchmarks/kernels.py --repeats 5
    python benchmarks/kernels.py --sizes 784-1024-1024-10
    python benchmarks/kernels.py --batch-size 512

``--this`` times another checkout (a snapshot, so that edits cannot change a run).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from before_after import REFERENCE, machine_line, run_once, table

HERE = Path(__file__).resolve().parents[1]

#: name -> (kernels, MLP_FUNCTIONAL_OVERLAP, BLAS threads (0: the BLAS's own), update).
#: "after": the update after back propagation; "overlap": beside it (Nblocks: the first
#: layer's weight gradient in N blocks); "noop": no update at all, the bound.
VARIANTS = {
    "numpy": ("numpy", "0", 0, "adam"),
    "native-after": ("native", "0", 0, "adam"),
    "native-overlap": ("native", "1", 0, "adam"),
    "native-overlap-4blocks": ("native", "4", 0, "adam"),
    "native-overlap-8blocks": ("native", "8", 0, "adam"),
    "native-overlap-1thread": ("native", "1", 1, "adam"),
    "native-after-1thread": ("native", "0", 1, "adam"),
    "native-noop": ("native", "0", 0, "noop"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default=REFERENCE)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--only", help="comma-separated variant names to run")
    parser.add_argument("--this", type=Path, default=HERE, help="the checkout to time")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(VARIANTS)
    runs: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in chosen}
    for _ in range(args.repeats):
        for name in chosen:
            kernels, overlap, threads, update = VARIANTS[name]
            runs[name].append(
                run_once(
                    args.this,
                    "fast",
                    kernels,
                    sizes=args.sizes,
                    batch_size=args.batch_size,
                    threads=threads,
                    update=update,
                    env={"MLP_FUNCTIONAL_OVERLAP": overlap},
                )
            )
    print(machine_line(args.repeats))
    print(f"job: {args.sizes}, batch {args.batch_size}, adam, float32, MNIST 60k")
    print()
    print("\n".join(table(runs)))


if __name__ == "__main__":
    main()
