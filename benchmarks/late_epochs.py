"""Epochs late in a long run, where the training loss is near 0, in this checkout and another.

A confident network's small probabilities and gradients reach the subnormal range of
float32, where x86 processors compute slowly; this times what that costs. Each run is a
fresh process that imports ``mlp_functional`` from one checkout, reads a finished run's
settings and training state (``config.json``, ``state.safetensors``) and trains
``--epochs`` more epochs with them on the first 55,000 training images (the size of a
run's training rows), printing each epoch's seconds and loss. The checkouts take turns,
round after round; the table gives medians, and the losses show that both compute the
same thing.

Usage (the run from ``python scripts/run_recipes.py best-noaug``, an earlier engine
checked out beside the repository)::

    git worktree add --detach ../old 126a87a
    python benchmarks/late_epochs.py runs/recipes/best-noaug/seed-0 ../old --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

from before_after import machine_line

HERE = Path(__file__).resolve().parents[1]
ROWS = 55_000

_EPOCHS = """
import json, sys
import numpy as np
import mlp_functional as mf
from mlp_functional.data import load
from mlp_functional.runs import recipes
from mlp_functional.runs.checkpoint import load_train_state
from mlp_functional.runs.settings import from_record
run, epochs, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
settings = from_record(json.load(open(run + "/config.json"))["settings"])
data = load(settings.dataset)
optimizer, regimen = recipes.build(settings, recipes.steps_per_epoch(rows, settings.batch_size))
state, _ = load_train_state(run + "/state.safetensors", optimizer)
images, labels = data.train.images, data.train.labels.astype(np.int64)
for _, log in mf.fit(state, images, labels, epochs=epochs,
                     **regimen._replace(rows=np.arange(rows))._asdict()):
    print(mf.__file__, log.seconds, log.loss)
"""


def run_once(checkout: Path, run: Path, epochs: int) -> list[tuple[float, float]]:
    """(seconds, loss) of each epoch, in a fresh process importing ``checkout``'s package."""
    done = subprocess.run(
        [sys.executable, "-c", _EPOCHS, str(run.resolve()), str(epochs), str(ROWS)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(checkout)},
        cwd=checkout,
        check=True,
    )
    lines = [line.split() for line in done.stdout.splitlines()]
    for where, *_ in lines:
        if not Path(where).resolve().is_relative_to(checkout.resolve()):
            raise RuntimeError(f"imported {where}, not the checkout {checkout}")
    return [(float(seconds), float(loss)) for _, seconds, loss in lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished run's folder")
    parser.add_argument("other", type=Path, help="the other checkout (e.g. the earlier engine)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per process")
    args = parser.parse_args()
    checkouts = {f"before ({args.other.name})": args.other, "now": HERE}
    epochs: dict[str, list[tuple[float, float]]] = {name: [] for name in checkouts}
    for _ in range(args.repeats):
        for name, checkout in checkouts.items():
            epochs[name] += run_once(checkout, args.run, args.epochs)
    print(machine_line(args.repeats))
    print(f"{args.epochs} epochs per process of the run in {args.run}, {ROWS} training images")
    print()
    print("| checkout | epoch (s), median | each epoch (s) | last loss |")
    print("|---|---|---|---|")
    for name, each in epochs.items():
        seconds = statistics.median(s for s, _ in each)
        listed = " ".join(f"{s:.1f}" for s, _ in each)
        print(f"| {name} | {seconds:.2f} | {listed} | {each[-1][1]:.5f} |")


if __name__ == "__main__":
    main()
