"""scikit-learn's 8x8 digits written out in each form of your own data: a CSV table, an
``.npz`` archive and a folder of PNG images (Pillow), for the own-data tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def as_csv(folder: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """``digits.csv``: a ``label`` column, then the 64 pixels (0..16)."""
    path = folder / "digits.csv"
    header = ",".join(["label", *(f"pixel{i}" for i in range(images[0].size))])
    rows = np.column_stack([labels, images.reshape(len(images), -1)])
    np.savetxt(path, rows, fmt="%d", delimiter=",", header=header, comments="")
    return path


def as_npz(folder: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """``digits.npz`` with the keys ``x`` and ``y`` (no test set)."""
    np.savez(folder / "digits.npz", x=images, y=labels)
    return folder / "digits.npz"


def scaled(image: np.ndarray) -> np.ndarray:
    """0..16 pixels as 0..255."""
    return (image.astype(np.uint16) * 255 // 16).astype(np.uint8)


def as_folder(folder: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """``digits/<label>/<i>.png``, 8x8 grayscale."""
    from PIL import Image

    root = folder / "digits"
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(scaled(image)).save(root / str(label) / f"{i}.png")
    return root
