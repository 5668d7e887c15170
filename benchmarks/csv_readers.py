"""How fast each CSV reader loads a Kaggle-style MNIST table (42,000 x 785, with a header).

The table is written from the MNIST training files into a temporary folder (never kept):
the first 42,000 images with the header ``label,pixel0,...,pixel783``, as Kaggle's Digit
Recognizer ``train.csv``. Each candidate reads it to a uint8 pixel array and its labels;
the candidates run in turn, round after round, and the table gives the median of each.
pandas and pyarrow are timed when they are installed (``pip install pandas pyarrow``).
Usage (MNIST from ``$MLP_FUNCTIONAL_DATA`` or the cache):

    python benchmarks/csv_readers.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mlp_functional.cli.bench import blas_info, cpu_model
from mlp_functional.data import load

ROWS = 42_000


def write_kaggle_csv(path: Path) -> None:
    train = load("mnist").train
    pixels = train.images[:ROWS].reshape(ROWS, -1)
    table = np.column_stack([train.labels[:ROWS], pixels])
    header = ",".join(["label", *(f"pixel{i}" for i in range(pixels.shape[1]))])
    np.savetxt(path, table, fmt="%d", delimiter=",", header=header, comments="")


def numpy_loadtxt(path: Path) -> tuple[np.ndarray, np.ndarray]:
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.uint8)
    return table[:, 1:], table[:, 0]


def numpy_genfromtxt(path: Path) -> tuple[np.ndarray, np.ndarray]:
    table = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.uint8)
    return table[:, 1:], table[:, 0]


def pandas_read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    table = pd.read_csv(path, dtype=np.uint8).to_numpy()
    return table[:, 1:], table[:, 0]


def pyarrow_read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(path)
    columns = [c.to_numpy().astype(np.uint8) for c in table.columns]
    return np.column_stack(columns[1:]), columns[0]


def library_load_data(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from mlp_functional.data import load_data

    data = load_data(path)
    return data.train.images, data.train.labels


CANDIDATES: dict[str, Callable[[Path], tuple[np.ndarray, np.ndarray]]] = {
    "numpy.loadtxt (uint8)": numpy_loadtxt,
    "numpy.genfromtxt (uint8)": numpy_genfromtxt,
    "pandas.read_csv (C engine)": pandas_read_csv,
    "pyarrow.csv.read_csv": pyarrow_read_csv,
    "mlp_functional.data.load_data (with checks, split)": library_load_data,
}
NEEDS = {"pandas.read_csv (C engine)": "pandas", "pyarrow.csv.read_csv": "pyarrow"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=[], help="candidate prefixes to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.csv"
        write_kaggle_csv(path)
        candidates = {
            name: read
            for name, read in CANDIDATES.items()
            if (name not in NEEDS or importlib.util.find_spec(NEEDS[name]))
            and (name.split(" ")[0] in args.only or not args.only)
        }
        reference = numpy_loadtxt(path)
        times: dict[str, list[float]] = {name: [] for name in candidates}
        for _ in range(args.repeats):
            for name, read in candidates.items():
                start = time.perf_counter()
                pixels, labels = read(path)
                times[name].append(time.perf_counter() - start)
                if name.startswith("mlp_functional"):
                    # the training part: 80% of each class (20% held out as the test set)
                    assert pixels.dtype == np.uint8 and abs(len(labels) - 0.8 * ROWS) < 10
                else:
                    assert np.array_equal(pixels, reference[0])
                    assert np.array_equal(labels, reference[1])
        size = path.stat().st_size / 1e6
    print(f"{ROWS} x 785 CSV ({size:.0f} MB); {cpu_model()}; BLAS {blas_info()}")
    print(f"median of {args.repeats}, candidates alternating\n")
    print("| reader | median (s) | min (s) |")
    print("|---|---|---|")
    for name, ts in times.items():
        print(f"| {name} | {statistics.median(ts):.2f} | {min(ts):.2f} |")


if __name__ == "__main__":
    main()
