"""Read NumPy archives: ``.npz`` with Keras's four keys or ``x`` and ``y``, and ``.npy`` tables.

An ``.npz`` holds ``x_train``, ``y_train``, ``x_test`` and ``y_test`` (Keras's
``mnist.npz``), or ``x`` and ``y`` (no test set). An ``.npy`` holds one 2-D table whose
label column is chosen as in a CSV file (the first, unless ``label_column`` says).
Pickles are never loaded (``allow_pickle=False``): an array of Python objects is refused.
Every array's declared size is checked against the memory available before it is read;
in an ``.npz``, each member's inflated size is first read from the zip's own directory
and checked against the memory available, then against what the member's ``.npy`` header
declares, before its data are inflated (a small archive that inflates to gigabytes, or
claims more than it holds, is refused naming the member).

Features keep their form (``(N, H, W)`` images stay images): uint8 stays uint8, integers
in 0..255 become uint8, anything else float32 (and must be finite).

>>> import tempfile, pathlib, numpy as np
>>> with tempfile.TemporaryDirectory() as d:
...     path = pathlib.Path(d) / "data.npz"
...     np.savez(path, x=np.zeros((4, 2, 2), np.uint8), y=np.array([0, 1, 0, 1]))
...     parts = read_archive(path)
>>> parts.x_train.shape, parts.x_test is None
((4, 2, 2), True)
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from typing import IO, Any, NamedTuple

import numpy as np

from .errors import DataFormatError
from .memory import check_fits

__all__ = ["KERAS_KEYS", "XY_KEYS", "Arrays", "as_features", "read_archive"]

#: The keys of Keras's ``mnist.npz``.
KERAS_KEYS = ("x_train", "y_train", "x_test", "y_test")
#: The keys of an archive without a test set.
XY_KEYS = ("x", "y")


class Arrays(NamedTuple):
    """Features and labels read from an archive; the test parts are None when absent."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None


def _declared(f: IO[bytes], where: str) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype an ``.npy`` stream declares, read from its header alone."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(f)
        else:
            shape, _, dtype = fmt.read_array_header_2_0(f)
    except (ValueError, OSError, SyntaxError) as e:
        raise DataFormatError(
            f"{where}: not a valid .npy array ({e}); save it with numpy.save"
        ) from None
    if dtype.hasobject:
        raise DataFormatError(
            f"{where} holds Python objects (a pickle), which are never loaded; save plain "
            "numeric or string arrays, e.g. np.asarray(x, dtype=np.float32)"
        )
    return tuple(shape), dtype


def _check_size(headers: dict[str, tuple[tuple[int, ...], np.dtype]], path: str) -> None:
    total = sum(math.prod(shape) * dtype.itemsize for shape, dtype in headers.values())
    check_fits(total, f"{path} (arrays {', '.join(headers)})")


def _check_inflated(
    where: str, inflated: int, header: int, declared: tuple[tuple[int, ...], np.dtype]
) -> None:
    """Refuse a member whose zip directory and ``.npy`` header disagree on its size."""
    shape, dtype = declared
    data = math.prod(shape) * dtype.itemsize
    if inflated != header + data:
        raise DataFormatError(
            f"{where}: its .npy header declares {data:,} bytes of data, the zip directory "
            f"{max(inflated - header, 0):,}; the archive is damaged: save it again with "
            "numpy.savez"
        )


def _inflate(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> np.ndarray:
    """The array in one member, its sizes already checked; a stream that ends early or
    fails its CRC is refused naming the member."""
    try:
        with zf.open(info) as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataFormatError(
            f"{where}: cannot be inflated ({first}); the archive is damaged: save it again "
            "with numpy.savez"
        ) from None


def read_archive(path: str | os.PathLike[str], label_column: str | int | None = None) -> Arrays:
    """Read an ``.npz`` or ``.npy`` file (see the module doc).

    Raises:
      DataFormatError: missing keys, a pickle, mismatched lengths, bad values...
      DataTooLargeError: the arrays would not fit in memory.
    """
    name = os.fspath(path)
    if name.lower().endswith(".npy"):
        return _read_npy(name, label_column)
    try:
        with zipfile.ZipFile(name) as zf:
            members = {m.removesuffix(".npy"): m for m in zf.namelist() if m.endswith(".npy")}
            keys = next((k for k in (KERAS_KEYS, XY_KEYS) if set(k) <= set(members)), None)
            if keys is None:
                raise DataFormatError(
                    f"{name} has the arrays {', '.join(sorted(members)) or '(none)'}; expected "
                    f"{', '.join(KERAS_KEYS)} (as Keras's mnist.npz) or x and y: save with "
                    "np.savez(path, x=features, y=labels)"
                )
            infos = {key: zf.getinfo(members[key]) for key in keys}
            for key, info in infos.items():
                check_fits(info.file_size, f"{name}: {key!r}")
            headers = {}
            for key, info in infos.items():
                with zf.open(info) as f:
                    headers[key] = _declared(f, f"{name}: {key!r}")
                    _check_inflated(f"{name}: {key!r}", info.file_size, f.tell(), headers[key])
            _check_size(headers, name)
            arrays = {key: _inflate(zf, info, f"{name}: {key!r}") for key, info in infos.items()}
    except zipfile.BadZipFile:
        raise DataFormatError(
            f"{name}: not a valid .npz (zip) archive; save it with numpy.savez"
        ) from None
    if keys == XY_KEYS:
        x, y = _pair(arrays, "x", "y", name)
        return Arrays(x, y, None, None)
    x_train, y_train = _pair(arrays, "x_train", "y_train", name)
    x_test, y_test = _pair(arrays, "x_test", "y_test", name)
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataFormatError(
            f"{name}: x_train's examples have shape {x_train.shape[1:]}, x_test's "
            f"{x_test.shape[1:]}; save train and test examples of one shape"
        )
    return Arrays(x_train, y_train, x_test, y_test)


def _pair(arrays: dict[str, Any], xk: str, yk: str, path: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = arrays[xk], arrays[yk]
    if x.ndim < 2:
        raise DataFormatError(
            f"{path}: {xk!r} has shape {x.shape}; expected one example per row, "
            "(N, features) or (N, height, width)"
        )
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataFormatError(
            f"{path}: {yk!r} has shape {y.shape}; expected one class label per example "
            "(one-hot labels? save y.argmax(axis=1))"
        )
    if len(x) != len(y):
        raise DataFormatError(
            f"{path}: {xk!r} has {len(x)} examples but {yk!r} has {len(y)} labels; "
            "save one label per example"
        )
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    return as_features(x, f"{path}: {xk!r}"), y


def as_features(x: np.ndarray, where: str) -> np.ndarray:
    """Features as uint8 (integers in 0..255) or finite float32, read-only.

    >>> as_features(np.array([[0, 255]]), "x").dtype, as_features(np.array([[0, 256]]), "x").dtype
    (dtype('uint8'), dtype('float32'))
    """
    if x.dtype.kind == "b":
        x = x.astype(np.uint8)
    if x.dtype.kind in "iu":
        if x.dtype != np.uint8 and x.size and int(x.min()) >= 0 and int(x.max()) <= 255:
            x = x.astype(np.uint8)
    elif x.dtype.kind != "f":
        raise DataFormatError(
            f"{where} has dtype {x.dtype}; features must be numbers (integers or floats)"
        )
    if x.dtype != np.uint8:
        x = x.astype(np.float32)
        bad = np.argwhere(~np.isfinite(x))
        if len(bad):
            at = ", ".join(str(int(i)) for i in bad[0])
            raise DataFormatError(
                f"{where} holds {x[tuple(bad[0])]} at index [{at}]; features must be finite: "
                "fill in or drop the missing values"
            )
    x.setflags(write=False)  # always a fresh array here: read from a file or converted
    return x


def _read_npy(path: str, label_column: str | int | None) -> Arrays:
    with open(path, "rb") as f:
        shape, dtype = _declared(f, path)
    _check_size({"the table": (shape, dtype)}, path)
    table = np.load(path, allow_pickle=False)
    if table.ndim != 2 or table.shape[1] < 2:
        raise DataFormatError(
            f"{path} holds an array of shape {table.shape}; a .npy must be a 2-D table with "
            "a label column and feature columns (or save x and y together with np.savez)"
        )
    if isinstance(label_column, str):
        try:
            label_column = int(label_column)
        except ValueError:
            raise DataFormatError(
                f"{path}: a .npy table has no column names; give --label-column as an index"
            ) from None
    width = table.shape[1]
    index = 0 if label_column is None else label_column
    if not -width <= index < width:
        raise DataFormatError(
            f"{path}: no column {index}: the table has {width} columns (indices 0 to "
            f"{width - 1}, or -1 for the last); fix --label-column"
        )
    index %= width
    features = np.delete(table, index, axis=1)
    return Arrays(as_features(features, path), table[:, index], None, None)
