"""Class labels of the user's own data: any labels in, indices ``0..K-1`` and names out.

Labels may be integers (or floats that are whole numbers) or strings. The class names
are the distinct labels, sorted (numerically when every label is a number, else as
text), and a label's index is its name's position in that order; the names are what a
run saves, so that evaluate and predict print them.

>>> import numpy as np
>>> labels, classes = encode_labels(np.array(["cat", "dog", "cat"]), "pets.csv")
>>> labels.tolist(), classes
([0, 1, 0], ('cat', 'dog'))
>>> encode_labels(np.array(["10", "9", "10"]), "n.csv")[1]  # numbers sort as numbers
('9', '10')
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import DataFormatError

__all__ = ["encode_labels", "label_dtype"]


def label_dtype(classes: int) -> np.dtype:
    """The smallest unsigned dtype that holds ``classes`` indices (uint8 up to 256).

    >>> label_dtype(10), label_dtype(300)
    (dtype('uint8'), dtype('uint16'))
    """
    return np.min_scalar_type(max(classes - 1, 0))


def _row(i: int) -> str:
    return f"example {i}"


def encode_labels(
    values: np.ndarray,
    where: str,
    locate: Callable[[int], str] = _row,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Map labels to class indices and sorted class names.

    Args:
      values: ``(N,)`` labels: integers, whole-number floats or strings.
      where: the file (and column) they come from, named in errors.
      locate: where the ``i``-th label sits (e.g. ``"line 7"``), named in errors.

    Returns:
      ``(labels, classes)``: ``(N,)`` indices (uint8 up to 256 classes) and the names.

    Raises:
      DataFormatError: an empty or non-whole-number label, or fewer than two classes.

    >>> encode_labels(np.array([3.0, 0.5]), "t.csv", lambda i: f"line {i + 2}")
    Traceback (most recent call last):
    ...
    mlp_functional.data.errors.DataFormatError: t.csv: label 0.5 at line 3 is not a whole ...
    """
    values = np.asarray(values)
    if values.dtype.kind in "US":
        names, inverse = np.unique(np.char.strip(values.astype(str)), return_inverse=True)
        if len(names) and names[0] == "":
            first = int(np.flatnonzero(inverse == 0)[0])
            raise DataFormatError(
                f"{where}: missing label at {locate(first)}; fill in every label or "
                "remove the rows without one"
            )
        numbers = _as_numbers(names)
        if numbers is None:
            return _finish(inverse, tuple(str(n) for n in names), where)
        values = numbers[inverse]
    if values.dtype.kind == "b":
        values = values.astype(np.int64)
    if values.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))
        if len(bad):
            raise DataFormatError(
                f"{where}: label {float(values[bad[0]]):g} at {locate(int(bad[0]))} is not a whole "
                "number; class labels must be integers or names (this is a classifier, "
                "not a regression), or choose another column with --label-column"
            )
        values = values.astype(np.int64)
    if values.dtype.kind not in "iu":
        raise DataFormatError(
            f"{where}: labels of dtype {values.dtype} are not supported; use integers or strings"
        )
    uniques, inverse = np.unique(values, return_inverse=True)
    return _finish(inverse, tuple(str(int(u)) for u in uniques), where)


def _as_numbers(names: np.ndarray) -> np.ndarray | None:
    """The names as float64 numbers when every one is a number, else None."""
    try:
        numbers = names.astype(np.float64)
    except ValueError:
        return None
    return numbers if bool(np.isfinite(numbers).all()) else None


def _finish(
    inverse: np.ndarray, classes: tuple[str, ...], where: str
) -> tuple[np.ndarray, tuple[str, ...]]:
    if len(classes) < 2:
        only = f"the label {classes[0]!r}" if classes else "no labels"
        raise DataFormatError(
            f"{where}: every example has {only}: a classifier needs at least two classes; "
            "check the label column (--label-column) or add examples of other classes"
        )
    labels = inverse.reshape(-1).astype(label_dtype(len(classes)))
    labels.setflags(write=False)
    return labels, classes
