"""A few epochs of the reference job and nothing else: a target for profilers.

Usage: py-spy record -r 500 -f raw -o profile.txt -- python benchmarks/epochs.py [--epochs 4]
"""

from __future__ import annotations

import argparse

import numpy as np

import mlp_functional as mf
from mlp_functional.data import load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    data = load("mnist")
    images, labels = data.train.images, data.train.labels.astype(np.int64)
    state = mf.init_state(mf.key(1), mf.init(mf.key(0), [784, 256, 128, 10]), mf.adam(1e-3))
    for _ in range(args.epochs):
        state, _ = mf.train_epoch(state, images, labels, batch_size=128)


if __name__ == "__main__":
    main()
