"""``mlp-functional predict RUN_DIR FILE...``: the classes of images, arrays or table rows.

What a file is read as depends on the file and on the data the run was trained on
(:func:`mlp_functional.inputs.read_as_trained` reads it):

- a ``.csv`` (``.tsv``, ``.txt``) file: rows of features, one example per row, with the
  training data's columns minus the label column (read by
  :func:`mlp_functional.data.read_csv` with ``labels=False``);
- for a run on MNIST-like data (28x28 grayscale images, or rows of their 784 pixels):
  PNG/JPEG files brought to MNIST's form (:func:`mlp_functional.imaging.to_mnist`:
  grayscale, inverted if the background is light, cropped, scaled to 20 px, centred by
  mass), and ``.npy`` arrays read without pickle, by :mod:`mlp_functional.inputs`, the
  path ``serve`` shares;
- for a run on another image folder: image files prepared exactly as its training images
  were (:func:`mlp_functional.data.decode_example` with the recorded options: grayscale or
  colour, resized to the recorded size).

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

__all__ = ["add_parser", "run"]

HELP = "predict the classes of images, .npy arrays or CSV rows with a trained model"


def add_parser(sub: Any) -> None:
    """Register ``predict`` with the subcommand parsers."""
    p = sub.add_parser("predict", help=HELP, description=HELP + ".")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by `train`")
    p.add_argument(
        "images",
        metavar="FILE",
        nargs="+",
        help="PNG/JPEG images, .npy arrays (28x28 runs), or CSV files of feature rows",
    )
    p.add_argument(
        "--top", type=positive_int, default=3, metavar="K", help="classes to list (default 3)"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print, per input, the predicted class, its probability and the top classes."""
    from ..inputs import check_model, class_names, read, read_as_trained, training_form
    from ..runs import CONFIG_FILE, MODEL_FILE, data_source, load_run

    run_ = load_run(args.run_dir)
    model = f"{args.run_dir}/{MODEL_FILE}"
    check_model(run_.params, model)
    config = f"{args.run_dir}/{CONFIG_FILE}"
    source = data_source(run_.config, config)
    form = training_form(run_.config, source, run_.params.sizes[0], config)
    inputs = read_as_trained(args.images, form, model)
    names = class_names(run_.config, run_.params.sizes[-1])
    probs = read(run_.params, [row for _, row in inputs], name=model).probabilities
    top = min(args.top, probs.shape[1])
    for (name, _), p in zip(inputs, probs, strict=True):
        order = np.argsort(-p, kind="stable")[:top]
        best = order[0]
        ranked = ", ".join(f"{names[c]} {100 * p[c]:.1f}%" for c in order)
        print(f"{name}: {names[best]} ({100 * p[best]:.1f}%)  top {top}: {ranked}")
    return 0
