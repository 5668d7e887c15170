"""Your own data: one entry point, :func:`load_data`, for a CSV file, a NumPy archive or a
folder of images, giving the same :class:`Dataset` as the built-in datasets.

What the path is decides how it is read: a folder by
:func:`~mlp_functional.data.folders.read_folder`, a ``.csv`` (``.tsv``, ``.txt``) file by
:func:`~mlp_functional.data.tabular.read_csv`, a ``.npz`` or ``.npy`` file by
:func:`~mlp_functional.data.archives.read_archive`. Labels become class indices with
sorted class names (:func:`~mlp_functional.data.labels.encode_labels`). Data without a
test set get one by :func:`~mlp_functional.data.transforms.stratified_split`, with a fixed
key unless one is given, so the test set does not depend on the training seed.
:func:`load_recorded` reads a run's data again from its record and checks it is unchanged.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     path = pathlib.Path(d) / "table.csv"
...     rows = "".join(f"{'ab'[i % 2]},{i},{2 * i}\\n" for i in range(10))
...     _ = path.write_text("target,u,v\\n" + rows)
...     data = load_data(path, test_size=0.2)
>>> data.classes, data.kind, data.train.images.shape, data.test.labels.tolist()
(('a', 'b'), 'table', (8, 2), [1, 0])
>>> data.source.format, data.source.shape, data.train.images.flags.writeable
('csv', (10, 2), False)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..textbook.random import Key
from .archives import read_archive
from .errors import DataFormatError
from .folders import read_folder
from .labels import encode_labels
from .source import (
    DEFAULT_SPLIT_KEY,
    LoadOptions,
    Source,
    check_same_data,
    hash_file,
    source_from_record,
)
from .splits import Dataset, Split
from .tabular import read_csv
from .transforms import stratified_split

__all__ = ["TABLE_SUFFIXES", "load_data", "load_recorded", "parse_image_size"]

#: File name endings read as CSV tables.
TABLE_SUFFIXES = (".csv", ".tsv", ".txt")


def parse_image_size(text: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"HxW"`` (or a ``(H, W)`` pair) as ``(height, width)``; ``None`` stays ``None``.

    >>> parse_image_size("28x28"), parse_image_size((32, 48)), parse_image_size(None)
    ((28, 28), (32, 48), None)
    >>> parse_image_size("28")
    Traceback (most recent call last):
    ...
    ValueError: image size must be HxW with positive integers, e.g. 28x28, got '28'
    """
    if text is None:
        return None
    try:
        h, w = (int(n) for n in text.lower().split("x")) if isinstance(text, str) else text
    except (ValueError, TypeError):
        h = w = 0
    if not (isinstance(h, (int, np.integer)) and isinstance(w, (int, np.integer)) and h > 0 < w):
        raise ValueError(f"image size must be HxW with positive integers, e.g. 28x28, got {text!r}")
    return int(h), int(w)


def load_data(
    path: str | os.PathLike[str],
    *,
    label_column: str | int | None = None,
    test_size: float = 0.2,
    color: bool = False,
    image_size: str | tuple[int, int] | None = None,
    skip_bad: bool = False,
    key: Key | None = None,
) -> Dataset:
    """Read your own data into a :class:`Dataset` with class names and a :class:`Source`.

    Args:
      path: a ``.csv``/``.tsv``/``.txt`` table, an ``.npz`` or ``.npy`` archive, or a folder
        of images (``DIR/<class>/*``, or ``DIR/train/<class>/*`` and ``DIR/test/<class>/*``).
      label_column: for tables, the label column's name or index (default: the column
        named label, class, target or y, else the first).
      test_size: the fraction held out as the test set when the data has none.
      color: for image folders, keep RGB instead of reading grayscale.
      image_size: for image folders, resize every image to ``(H, W)`` or ``"HxW"``.
      skip_bad: for image folders, leave out files that are not images (listed in
        ``source.skipped``) instead of refusing the folder.
      key: the key of the test split; by default a fixed one, so the test set does not
        depend on the training seed.

    Returns:
      ``Dataset(train, test, classes, name, source)`` with read-only arrays.

    Raises:
      DataFormatError: the data cannot be used; one line naming the file, the line,
        column, key or image, and the fix.
      DataTooLargeError: the data would not fit in memory (checked before allocating).
      ValueError: an invalid option value.
      ImportError: an image folder without Pillow (the message names the extra).
    """
    where = Path(path).absolute()
    size = parse_image_size(image_size)
    options = LoadOptions(
        label_column, float(test_size), bool(color), size, bool(skip_bad), key or DEFAULT_SPLIT_KEY
    )
    stratified_split(options.split_key, np.zeros(2, np.uint8), options.test_size)  # validates
    if where.is_dir():
        if label_column is not None:
            raise ValueError(
                f"--label-column applies to tables (.csv, .npy); {where.name} is a folder of "
                "images, labelled by its subfolders: leave it out"
            )
        return _from_folder(where, options)
    if not where.is_file():
        raise DataFormatError(f"{where}: no such file or folder; check the path")
    suffix = where.suffix.lower()
    kinds = {**dict.fromkeys(TABLE_SUFFIXES, "csv"), ".npz": "npz", ".npy": "npy"}
    if suffix not in kinds:
        raise DataFormatError(
            f"{where}: unknown kind of data file {suffix or '(no extension)'!r}; give a .csv, "
            ".npz or .npy file, or a folder of images with one subfolder per class"
        )
    if color or size is not None or skip_bad:
        raise ValueError(
            f"--color, --image-size and --skip-bad apply to image folders; {where.name} is a "
            f"{kinds[suffix]} file: leave them out"
        )
    return _from_file(where, kinds[suffix], options)


def _from_file(path: Path, fmt: str, options: LoadOptions) -> Dataset:
    name = str(path)
    if fmt == "csv":
        table = read_csv(path, options.label_column)
        assert table.labels is not None
        labels, classes = encode_labels(
            table.labels, f"{name}, {table.label_name}", lambda i: f"data row {i + 1}"
        )
        x, y, test = table.features, labels, None
    else:
        arrays = read_archive(path, options.label_column)
        if arrays.x_test is None or arrays.y_test is None:
            y, classes = encode_labels(arrays.y_train, f"{name}: labels")
            x, test = arrays.x_train, None
        else:
            both, classes = encode_labels(
                np.concatenate([arrays.y_train, arrays.y_test]), f"{name}: y_train and y_test"
            )
            y = both[: len(arrays.y_train)]
            x, test = arrays.x_train, Split(arrays.x_test, _frozen(both[len(arrays.y_train) :]))
    total = len(x) + (len(test.images) if test is not None else 0)
    source = Source(
        path=name,
        format=fmt,
        sha256=hash_file(path),
        shape=(total, *x.shape[1:]),
        options=options,
        test_given=test is not None,
    )
    return _assemble(Split(x, _frozen(y)), test, classes, source)


def _from_folder(path: Path, options: LoadOptions) -> Dataset:
    found = read_folder(
        path, color=options.color, image_size=options.image_size, skip_bad=options.skip_bad
    )
    total = len(found.train.labels) + (len(found.test.labels) if found.test else 0)
    source = Source(
        path=str(path),
        format="images",
        sha256=found.sha256,
        shape=(total, *found.train.images.shape[1:]),
        options=options,
        skipped=found.skipped,
        test_given=found.test is not None,
    )
    return _assemble(found.train, found.test, found.classes, source)


def _frozen(a: np.ndarray) -> np.ndarray:
    if a.flags.writeable:
        a = a.copy() if a.base is not None else a
        a.setflags(write=False)
    return a


def _assemble(
    train: Split, test: Split | None, classes: tuple[str, ...], source: Source
) -> Dataset:
    name = Path(source.path).name
    if test is None:
        held = stratified_split(source.options.split_key, train.labels, source.options.test_size)
        if len(held.test) == 0:
            raise DataFormatError(
                f"{source.path}: a test set of {source.options.test_size:g} of "
                f"{len(train.labels)} examples holds none; pass a larger --test-size or "
                "use more data"
            )
        test = Split(_frozen(train.images[held.test]), _frozen(train.labels[held.test]))
        train = Split(_frozen(train.images[held.train]), _frozen(train.labels[held.train]))
    return Dataset(train, test, classes, name, source)


def load_recorded(record: Mapping[str, Any]) -> Dataset:
    """Read a run's data again, the same way, from its :func:`source_record`.

    Raises:
      DataFormatError: the file or folder is gone (the message names it).
      DataChangedError: it now holds other data than the run was trained on.
    """
    src = source_from_record(record)
    if not os.path.exists(src.path):
        raise DataFormatError(
            f"{src.path}: no such file or folder; the run was trained on it: put it back "
            "(or give the data's new place)"
        )
    o = src.options
    data = load_data(
        src.path,
        label_column=o.label_column,
        test_size=o.test_size,
        color=o.color,
        image_size=o.image_size,
        skip_bad=o.skip_bad,
        key=o.split_key,
    )
    assert data.source is not None
    check_same_data(record, data.source)
    return data
