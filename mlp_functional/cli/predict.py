"""``mlp-functional predict RUN_DIR IMAGE...``: read digits from image files or arrays.

PNG/JPEG files are brought to MNIST's form first (:func:`mlp_functional.imaging.to_mnist`:
grayscale, inverted if the background is light, cropped, scaled to 20 px, centred by
mass). ``.npy`` files are read without pickle: an array already in MNIST's form,
``(28, 28)``, ``(N, 28, 28)``, ``(784,)`` or ``(N, 784)``, uint8 pixels or floats in
[0, 1], is used as it is; any other 2-D array is treated as a picture. Files are read and
the model is run by :mod:`mlp_functional.inputs`, the path ``serve`` shares.

>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> add_parser(sub)
>>> sub.choices["predict"].parse_args(["runs/demo", "a.png", "--top", "2"]).top
2
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from .argtypes import positive_int
from .errors import CliError

__all__ = ["add_parser", "run"]

HELP = "predict the digits in PNG/JPEG images or .npy arrays with a trained model"


def add_parser(sub: Any) -> None:
    """Register ``predict`` with the subcommand parsers."""
    p = sub.add_parser("predict", help=HELP, description=HELP + ".")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by `train`")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="PNG/JPEG files or .npy arrays")
    p.add_argument(
        "--top", type=positive_int, default=3, metavar="K", help="classes to list (default 3)"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print, per input, the predicted class, its probability and the top classes."""
    from ..inputs import PIXELS, check_model, class_names, read, read_input
    from ..runs import MODEL_FILE, load_run

    run_ = load_run(args.run_dir)
    model = f"{args.run_dir}/{MODEL_FILE}"
    if run_.params.sizes[0] != PIXELS:
        raise CliError(
            f"{model}: the model reads {run_.params.sizes[0]} inputs, not {PIXELS}; "
            "predict needs a model trained on 28x28 images"
        )
    check_model(run_.params, model)
    inputs = [item for path in args.images for item in read_input(path)]
    names = class_names(run_.config, run_.params.sizes[-1])
    probs = read(run_.params, [row for _, row in inputs], name=model).probabilities
    top = min(args.top, probs.shape[1])
    for (name, _), p in zip(inputs, probs, strict=True):
        order = np.argsort(-p, kind="stable")[:top]
        best = order[0]
        ranked = ", ".join(f"{names[c]} {100 * p[c]:.1f}%" for c in order)
        print(f"{name}: {names[best]} ({100 * p[best]:.1f}%)  top {top}: {ranked}")
    return 0
