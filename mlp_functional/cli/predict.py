"""``mlp-functional predict RUN_DIR IMAGE...``: read digits from image files or arrays.

PNG/JPEG files are brought to MNIST's form first (:func:`mlp_functional.imaging.to_mnist`:
grayscale, inverted if the background is light, cropped, scaled to 20 px, centred by
mass). ``.npy`` files are read without pickle: an array already in MNIST's form,
``(28, 28)``, ``(N, 28, 28)``, ``(784,)`` or ``(N, 784)``, uint8 pixels or floats in
[0, 1], is used as it is; any other 2-D array is treated as a picture.

>>> import numpy as np
>>> [name for name, _ in as_batch("a.npy", np.zeros((2, 784), np.uint8))]
['a.npy[0]', 'a.npy[1]']
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

from .argtypes import positive_int
from .errors import CliError

__all__ = ["add_parser", "as_batch", "read_input", "run"]

HELP = "predict the digits in PNG/JPEG images or .npy arrays with a trained model"
SIDE = 28
NPY_MAGIC = b"\x93NUMPY"


def add_parser(sub: Any) -> None:
    """Register ``predict`` with the subcommand parsers."""
    p = sub.add_parser("predict", help=HELP, description=HELP + ".")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by `train`")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="PNG/JPEG files or .npy arrays")
    p.add_argument(
        "--top", type=positive_int, default=3, metavar="K", help="classes to list (default 3)"
    )
    p.set_defaults(run=run)


def _pixels(name: str, a: np.ndarray) -> np.ndarray:
    """MNIST-form pixels as uint8, or floats checked to lie in [0, 1]."""
    if a.dtype == np.uint8:
        return a
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise CliError(f"{name}: holds NaN or infinity; save finite pixel values")
        if a.size and (a.min() < 0 or a.max() > 1):
            raise CliError(
                f"{name}: float pixels must lie in [0, 1], got [{a.min():g}, {a.max():g}]; "
                "divide 0-255 values by 255 or save uint8"
            )
        return a.astype(np.float32)
    raise CliError(f"{name}: pixels of dtype {a.dtype}; save uint8 (0-255) or floats in [0, 1]")


def _to_mnist(name: str, image: np.ndarray) -> np.ndarray:
    from ..imaging import ImageError, to_mnist

    try:
        return to_mnist(image).reshape(-1)
    except ImageError as e:
        raise CliError(f"{name}: {e}") from None


def as_batch(name: str, a: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Named ``(784,)`` rows from an array read from ``name``."""
    if a.shape in ((SIDE, SIDE), (SIDE * SIDE,)):
        return [(name, _pixels(name, a).reshape(-1))]
    if (a.ndim == 3 and a.shape[1:] == (SIDE, SIDE)) or (a.ndim == 2 and a.shape[1] == SIDE**2):
        rows = _pixels(name, a).reshape(len(a), -1)
        return [(f"{name}[{i}]", row) for i, row in enumerate(rows)]
    if a.ndim in (2, 3) and min(a.shape[:2]) > 1:
        return [(name, _to_mnist(name, a))]
    raise CliError(
        f"{name}: array of shape {a.shape} is not a digit; save (28, 28), (N, 28, 28), "
        "(N, 784) or a picture (height, width)"
    )


def read_input(path: str) -> list[tuple[str, np.ndarray]]:
    """The named MNIST-form rows in one input file."""
    from ..imaging import load_image

    if Path(path).suffix.lower() != ".npy":  # PNG, JPEG or anything else Pillow reads
        return [(path, _to_mnist(path, load_image(path)))]
    try:
        with open(path, "rb") as f:
            if f.read(len(NPY_MAGIC)) != NPY_MAGIC:
                raise CliError(f"{path}: not a .npy file; save the array with numpy.save")
            f.seek(0)
            array = np.load(f, allow_pickle=False)
    except FileNotFoundError:
        raise CliError(f"{path}: no such file; check the path") from None
    except (ValueError, OSError, EOFError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CliError(
            f"{path}: not a readable .npy array ({reason}); save it with numpy.save"
        ) from None
    if not isinstance(array, np.ndarray):
        raise CliError(f"{path}: holds several arrays; save one array with numpy.save")
    return as_batch(os.fspath(path), array)


def run(args: argparse.Namespace) -> int:
    """Print, per input, the predicted class, its probability and the top classes."""
    from ..features import to_features
    from ..predict import predict_proba
    from ..runs import load_run
    from .evaluate import class_names

    run_ = load_run(args.run_dir)
    if run_.params.sizes[0] != SIDE * SIDE:
        raise CliError(f"{args.run_dir}: the model reads {run_.params.sizes[0]} inputs, not 784")
    inputs = [item for path in args.images for item in read_input(path)]
    names = class_names(run_.config, run_.params.sizes[-1])
    batch = np.concatenate([to_features(row[None]) for _, row in inputs])
    probs = predict_proba(run_.params, batch)
    top = min(args.top, probs.shape[1])
    for (name, _), p in zip(inputs, probs, strict=True):
        order = np.argsort(-p, kind="stable")[:top]
        best = order[0]
        ranked = ", ".join(f"{names[c]} {100 * p[c]:.1f}%" for c in order)
        print(f"{name}: {names[best]} ({100 * p[best]:.1f}%)  top {top}: {ranked}")
    return 0
