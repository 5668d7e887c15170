"""Test helpers for imaging and serving: real MNIST, a small trained model, digits on paper."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

import mlp_functional as mf


def load_mnist(mnist_dir: Path):
    """The real MNIST ``Dataset`` from the folder the ``mnist_dir`` fixture found."""
    from mlp_functional.data import load

    return load("mnist", data_dir=mnist_dir)


def train_small(images: np.ndarray, labels: np.ndarray, hidden: int = 64) -> mf.Params:
    """A quickly trained classifier: one epoch of Adam (91-95% on MNIST's test set)."""
    start = mf.init_state(mf.key(0), mf.init(mf.key(1), [784, hidden, 10]), mf.adam(1e-3))
    *_, (state, _) = mf.fit(start, images, labels, batch_size=64, epochs=1)
    return state.params


@functools.lru_cache(maxsize=4)
def small_model(mnist_dir: Path, examples: int = 20_000, hidden: int = 64) -> mf.Params:
    """:func:`train_small` on the first ``examples`` training digits, trained once per session."""
    from threadpoolctl import threadpool_limits

    train = load_mnist(mnist_dir).train
    # One BLAS thread: on a busy two-core machine OpenBLAS's own threads stall these small
    # matrix products (seconds instead of a fraction of one).
    with threadpool_limits(limits=1, user_api="blas"):
        return train_small(train.images[:examples], train.labels[:examples], hidden)


def bilinear(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resample a 2-D array bilinearly (pixel centres aligned), zero outside.

    An oracle independent of the library's area averaging: it blurs edges differently,
    so a round trip through it tests the preprocessing rather than repeating it.
    """
    h, w = image.shape
    pad = np.pad(image.astype(np.float64), 1)

    def coords(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = np.clip((np.arange(n_out) + 0.5) * n_in / n_out + 0.5, 0, n_in + 1 - 1e-9)
        lo = np.floor(c).astype(int)
        return lo, np.minimum(lo + 1, n_in + 1), c - lo

    r0, r1, fr = coords(h, shape[0])
    c0, c1, fc = coords(w, shape[1])
    fr, fc = fr[:, None], fc[None, :]
    return (
        (1 - fr) * (1 - fc) * pad[np.ix_(r0, c0)]
        + (1 - fr) * fc * pad[np.ix_(r0, c1)]
        + fr * (1 - fc) * pad[np.ix_(r1, c0)]
        + fr * fc * pad[np.ix_(r1, c1)]
    )


def on_paper(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An MNIST digit as a photo-like page: scaled x4-10, dark ink, light noisy paper, uint8."""
    n = round(28 * rng.uniform(4.0, 10.0))
    ink = np.clip(bilinear(digit / 255.0, (n, n)), 0.0, 1.0)
    top, bottom, left, right = rng.integers(10, 150, 4)
    paper, dark = rng.uniform(0.85, 1.0), rng.uniform(0.0, 0.25)
    page = np.full((n + top + bottom, n + left + right), paper)
    page[top : top + n, left : left + n] -= ink * (paper - dark)
    page += rng.normal(0.0, 0.01, page.shape)
    return np.clip(np.rint(page * 255), 0, 255).astype(np.uint8)


def ink_box_side(images: np.ndarray, threshold: int = 0) -> np.ndarray:
    """Longer side of the box of pixels above ``threshold``, per image of ``(N, H, W)``."""
    ink = images > threshold
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    height = rows.shape[1] - rows[:, ::-1].argmax(axis=1) - rows.argmax(axis=1)
    width = cols.shape[1] - cols[:, ::-1].argmax(axis=1) - cols.argmax(axis=1)
    return np.maximum(height, width)


def centres(images: np.ndarray) -> np.ndarray:
    """Centre of mass (row, column) of each image of ``(N, H, W)``, written out directly."""
    row_mass = images.sum(axis=2, dtype=np.float64)  # (N, H), no float copy of the images
    col_mass = images.sum(axis=1, dtype=np.float64)  # (N, W)
    mass = row_mass.sum(axis=1)
    rows = row_mass @ np.arange(images.shape[1]) / mass
    cols = col_mass @ np.arange(images.shape[2]) / mass
    return np.stack([rows, cols], axis=1)
