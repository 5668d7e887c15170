"""What committing an epoch costs: encoding the model and training state, writing them,
hashing them for the manifest and renaming them into place, against one training epoch.

Both are timed alternately on the same architecture (Adam, float32, MNIST); the table
gives medians and the commit's share of an epoch. Usage:

    python benchmarks/commit_cost.py [--hidden 1500,1000,500] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import mlp_functional as mf
from mlp_functional.cli.bench import blas_info
from mlp_functional.data import load
from mlp_functional.runs.checkpoint import encode_params, encode_train_state
from mlp_functional.runs.commit import commit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", default="1500,1000,500")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    hidden = [int(h) for h in args.hidden.split(",")]
    data = load("mnist")
    sizes = [784, *hidden, 10]
    state = mf.init_state(mf.key(1), mf.init(mf.key(0), sizes), mf.adam(1e-3))
    epochs, commits, written = [], [], 0
    with tempfile.TemporaryDirectory() as folder:
        for epoch in range(1, args.repeats + 1):
            start = time.perf_counter()
            state, _ = mf.train_epoch(state, data.train.images, data.train.labels)
            epochs.append(time.perf_counter() - start)
            start = time.perf_counter()
            files = {
                "model.safetensors": encode_params(state.params),
                "state.safetensors": encode_train_state(state, {"epoch": epoch}),
            }
            commit(Path(folder), files, epoch=epoch)
            commits.append(time.perf_counter() - start)
            written = sum(len(b) for b in files.values())
    epoch_s, commit_s = statistics.median(epochs), statistics.median(commits)
    print(f"architecture {'-'.join(map(str, sizes))}, Adam, float32; BLAS {blas_info()}")
    print(f"epoch  {epoch_s:.3f} s (median of {args.repeats})")
    share = 100 * commit_s / epoch_s
    print(f"commit {commit_s:.3f} s for {written / 2**20:.1f} MiB ({share:.1f}% of an epoch)")


if __name__ == "__main__":
    main()
