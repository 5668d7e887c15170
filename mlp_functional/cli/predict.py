"""``mlp-functional predict RUN_DIR FILE...``: the classes of images, arrays or table rows.

What a file is read as depends on the file and on the data the run was trained on:

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
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .argtypes import positive_int

if TYPE_CHECKING:
    from ..data import Source

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


def _on_training_scale(x: np.ndarray, trained: str) -> np.ndarray:
    """Feature rows brought to the training data's form: the network divides uint8 rows by
    255, so float rows of a run trained on uint8 rows are divided here, and uint8 rows of a
    run trained on floats are used as numbers."""
    if trained == "uint8" and x.dtype != np.uint8:
        return x.astype(np.float32) / np.float32(255)
    if trained != "uint8" and x.dtype == np.uint8:
        return x.astype(np.float32)
    return x


def _table_rows(
    path: str, width: int, trained: str, scaling: Any = None
) -> list[tuple[str, np.ndarray]]:
    from ..data import read_csv
    from ..inputs import InputError

    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file; check the path")
    rows = read_csv(path, labels=False).features
    if rows.shape[1] != width:
        raise InputError(
            f"{path}: rows of {rows.shape[1]} features, the model reads {width}; give the "
            "training data's feature columns, without the label column"
        )
    if scaling is not None:  # a table standardised by its training rows, as recorded
        from ..data import scale_features

        rows = scale_features(rows, scaling)
    else:
        rows = _on_training_scale(rows, trained)
    return [(f"{path}[{i}]", row) for i, row in enumerate(rows)]


def _image(path: str, source: Source) -> list[tuple[str, np.ndarray]]:
    """One image file, prepared like the run's training images."""
    from ..data import DataFormatError, decode_example, describe_examples
    from ..imaging import ImageError, read_regular_file
    from ..inputs import InputError

    options, shape = source.options, source.shape[1:]
    try:
        image = decode_example(
            read_regular_file(path, name=path), color=options.color, image_size=options.image_size
        )
    except (ImageError, DataFormatError) as e:
        raise InputError(f"{path}: {e}; give a PNG or JPEG image") from None
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; check the path") from None
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror or e}); check the path") from None
    if image.shape != shape:
        size = "x".join(map(str, shape[:2]))
        raise InputError(
            f"{path}: a {describe_examples(image.shape).replace('images', 'image')}, the run "
            f"was trained on {describe_examples(shape)}; resize it to {size} (height x width)"
        )
    return [(path, image)]


def _read(
    path: str, source: Source | None, width: int, trained: str, scaling: Any = None
) -> list[tuple[str, np.ndarray]]:
    """The named examples in one input file, as the run's training examples were."""
    from ..data import describe_examples, mnist_like
    from ..data.own import TABLE_SUFFIXES
    from ..inputs import InputError, read_input

    if Path(path).suffix.lower() in TABLE_SUFFIXES:
        return _table_rows(path, width, trained, scaling)
    if source is None or mnist_like(source.shape[1:]):
        return read_input(path)
    if len(source.shape) == 2:
        raise InputError(
            f"{path}: the run was trained on {describe_examples(source.shape[1:])} "
            f"({source.path}); give a CSV file of feature rows"
        )
    if Path(path).suffix.lower() == ".npy":
        raise InputError(
            f"{path}: .npy arrays are read for runs on 28x28 grayscale images only; give "
            "image files (PNG or JPEG)"
        )
    return _image(path, source)


def run(args: argparse.Namespace) -> int:
    """Print, per input, the predicted class, its probability and the top classes."""
    from ..inputs import check_model, class_names, read
    from ..runs import MODEL_FILE, data_source, load_run

    run_ = load_run(args.run_dir)
    model = f"{args.run_dir}/{MODEL_FILE}"
    check_model(run_.params, model)
    source = data_source(run_.config, f"{args.run_dir}/config.json")
    width = run_.params.sizes[0]
    recorded = run_.config.get("data") or {}
    trained = str(recorded.get("dtype", "uint8"))
    scaling = _recorded_scaling(recorded, f"{args.run_dir}/config.json")
    inputs = [item for path in args.images for item in _read(path, source, width, trained, scaling)]
    _check_width(inputs, width, model)
    names = class_names(run_.config, run_.params.sizes[-1])
    probs = read(run_.params, [row for _, row in inputs], name=model).probabilities
    top = min(args.top, probs.shape[1])
    for (name, _), p in zip(inputs, probs, strict=True):
        order = np.argsort(-p, kind="stable")[:top]
        best = order[0]
        ranked = ", ".join(f"{names[c]} {100 * p[c]:.1f}%" for c in order)
        print(f"{name}: {names[best]} ({100 * p[best]:.1f}%)  top {top}: {ranked}")
    return 0


def _recorded_scaling(recorded: dict[str, Any], where: str) -> Any:
    """The feature scaling config.json records for a table of the user's own, or ``None``."""
    from ..data import scaling_from_record
    from ..inputs import InputError

    if recorded.get("scaling") is None:
        return None
    try:
        return scaling_from_record(recorded["scaling"])
    except ValueError as e:
        raise InputError(f"{where}: {e}") from None


def _check_width(inputs: list[tuple[str, np.ndarray]], width: int, model: str) -> None:
    """Refuse an input of another size than the model reads (a 28x28 picture given to a
    model trained on other data), naming the first such input."""
    from ..inputs import InputError

    for name, row in inputs:
        if row.size != width:
            raise InputError(
                f"{name}: gives {row.size} inputs, {model} reads {width}; predict needs "
                "inputs like the run's training data"
            )
