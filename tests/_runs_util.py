"""A toy dataset and a tiny run, for the run-lifecycle tests (no MNIST needed)."""

from __future__ import annotations

import numpy as np

from mlp_functional.data import Dataset, Split
from mlp_functional.runs.settings import Settings

#: Tiny and quick: 16 hidden units, 4 batches an epoch, a validation split.
TOY_SETTINGS = Settings(hidden=(16,), epochs=2, batch_size=40, val_size=40)


def toy_dataset(seed: int = 0) -> Dataset:
    """200 training and 50 test random 28x28 images with labels 0-9 (named mnist)."""
    rng = np.random.default_rng(seed)

    def split(n: int) -> Split:
        images = rng.integers(0, 256, (n, 28, 28), np.uint8)
        return Split(images, (np.arange(n) % 10).astype(np.uint8))

    return Dataset(split(200), split(50), tuple("0123456789"), "mnist")
