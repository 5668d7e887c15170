"""Read a CSV table of numeric features and a label column, strictly, with NumPy's loader.

The first line is a header when some column holds a non-number there and a number on
the next line (so ``label,pixel0,...`` is a header, and ``cat,1,2`` over ``dog,3,4`` is
not). The delimiter is the commonest of ``,`` ``;`` and tab on the first line. The label
column is ``label_column`` (a name, or an index, negative from the end), else the column
named ``label``, ``class``, ``target`` or ``y`` (any case), else the first. Labels may
be numbers or strings; every other cell must be a finite number.

Integer tables with every feature in 0..255 (pixels) stay uint8; any other features
become float32. The table is read by :func:`numpy.loadtxt` (0.8 s for Kaggle's
42,000 x 785 ``train.csv``, see BENCHMARKS.md); when it refuses a file, a second,
slower pass with :mod:`csv` finds the first bad line and names it.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     path = pathlib.Path(d) / "pets.csv"
...     _ = path.write_text("weight,class\\n4.5,cat\\n30,dog\\n")
...     table = read_csv(path)
>>> table.features.tolist(), table.features.dtype, table.labels.tolist(), table.label_name
([[4.5], [30.0]], dtype('float32'), ['cat', 'dog'], "column 'class' (index 1)")

``labels=False`` reads rows of features alone (to predict on):

>>> with tempfile.TemporaryDirectory() as d:
...     path = pathlib.Path(d) / "rows.csv"
...     _ = path.write_text("pixel0,pixel1\\n0,255\\n")
...     read_csv(path, labels=False).features
array([[  0, 255]], dtype=uint8)
"""

from __future__ import annotations

import csv
import itertools
import math
import os
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from .errors import DataFormatError
from .memory import check_fits

__all__ = ["LABEL_NAMES", "Table", "read_csv"]

#: Column names taken as the label column by default (compared without case).
LABEL_NAMES = ("label", "class", "target", "y")
_DELIMITERS = (",", ";", "\t")
_ENCODING = "utf-8-sig"  # tolerates the byte-order mark spreadsheets write
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class Table(NamedTuple):
    """A CSV file's content.

    Attributes:
      features: ``(N, D)`` uint8 (integers in 0..255) or float32, read-only.
      labels: ``(N,)`` the label cells as strings, stripped (``None`` when read
        without labels).
      label_name: how errors name the label column, e.g. ``"column 'label'"``.
      columns: the header's names, or ``None`` when the file has no header.
    """

    features: np.ndarray
    labels: np.ndarray | None
    label_name: str
    columns: tuple[str, ...] | None


class _Layout(NamedTuple):
    delimiter: str
    header: tuple[str, ...] | None
    width: int
    label: int  # -1: no label column
    first_line_length: int


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _rows(path: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """``(line number, cells)`` of every non-blank line."""
    with open(path, encoding=_ENCODING, newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, quotechar='"')
        for cells in reader:
            if cells and any(c.strip() for c in cells):
                yield reader.line_num, cells


def _layout(path: str, label_column: str | int | None, labels: bool) -> _Layout:
    try:
        with open(path, encoding=_ENCODING, newline="") as f:
            first = f.readline()
    except UnicodeDecodeError:
        raise DataFormatError(
            f"{path}: not a UTF-8 text file; save the table as CSV (UTF-8)"
        ) from None
    counts = [first.count(d) for d in _DELIMITERS]
    delimiter = _DELIMITERS[counts.index(max(counts))]
    head = [cells for _, cells in itertools.islice(_rows(path, delimiter), 2)]
    if not head:
        raise DataFormatError(f"{path}: the file is empty; export the table with its rows")
    row0 = [c.strip() for c in head[0]]
    row1 = [c.strip() for c in head[1]] if len(head) > 1 else []
    header = any(not _is_number(a) and _is_number(b) for a, b in zip(row0, row1, strict=False)) or (
        len(head) == 1 and not all(_is_number(c) for c in row0)
    )
    names = tuple(row0) if header else None
    if header and len(head) == 1:
        raise DataFormatError(f"{path}: a header but no data rows; add the rows of the table")
    if len(row0) < 2 and labels:
        raise DataFormatError(
            f"{path}: only one column (delimiter {delimiter!r}); a table needs a label "
            "column and at least one feature column, separated by commas"
        )
    label = _label_index(path, names, len(row0), label_column) if labels else -1
    return _Layout(delimiter, names, len(row0), label, len(first.encode()))


def _label_index(
    path: str, names: tuple[str, ...] | None, width: int, label_column: str | int | None
) -> int:
    if label_column is None:
        lowered = [n.lower() for n in names or ()]
        return next((lowered.index(n) for n in LABEL_NAMES if n in lowered), 0)
    if isinstance(label_column, str):
        if names is not None and label_column in names:
            return names.index(label_column)
        try:
            label_column = int(label_column)
        except ValueError:
            if names is None:
                raise DataFormatError(
                    f"{path}: no header row, so no column is named {label_column!r}; "
                    f"give --label-column as an index from 0 to {width - 1}"
                ) from None
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            raise DataFormatError(
                f"{path}: no column named {label_column!r}; the columns are {shown}; "
                "give --label-column one of these names or an index"
            ) from None
    if not -width <= label_column < width:
        raise DataFormatError(
            f"{path}: no column {label_column}: the table has {width} columns "
            f"(indices 0 to {width - 1}, or -1 for the last); fix --label-column"
        )
    return label_column % width


def _column(layout: _Layout, j: int) -> str:
    if layout.header is not None:
        return f"column {layout.header[j]!r} (index {j})"
    return f"column {j}"


def read_csv(
    path: str | os.PathLike[str], label_column: str | int | None = None, *, labels: bool = True
) -> Table:
    """Read a CSV table (see the module doc) into features and label strings.

    Args:
      path: the CSV file.
      label_column: the label column's name or index; ``None`` for the default.
      labels: ``False`` reads every column as a feature (rows to predict on).

    Raises:
      DataFormatError: naming the line and column of the first bad cell, a ragged row,
        a missing label, a label column that does not exist, or an empty file.
      DataTooLargeError: the table would not fit in memory.
    """
    name = os.fspath(path)
    layout = _layout(name, label_column, labels)
    rows_estimate = max(os.path.getsize(name) // max(layout.first_line_length, 1), 1)
    features = layout.width - (layout.label >= 0)
    check_fits(rows_estimate * features, f"{name} (about {rows_estimate:,} rows)")
    for dtype in (np.uint8, np.float32):
        if dtype == np.float32:
            check_fits(rows_estimate * features * 4, f"{name} (about {rows_estimate:,} rows)")
        ids: dict[str, int] = {}

        def intern(cell: str, ids: dict[str, int] = ids) -> int:
            return ids.setdefault(cell.strip(), len(ids))

        try:
            with np.errstate(over="ignore"):  # an overflow to inf is refused below
                table = np.loadtxt(
                    name,
                    delimiter=layout.delimiter,
                    skiprows=1 if layout.header is not None else 0,
                    dtype=dtype,
                    converters={layout.label: intern} if labels else None,
                    comments=None,
                    quotechar='"',
                    encoding=_ENCODING,
                    ndmin=2,
                )
        except ValueError:
            continue
        if dtype == np.uint8 and len(ids) > 256:
            continue
        break
    else:
        _diagnose(name, layout)
        raise DataFormatError(f"{name}: cannot be read as a table of numbers; check the file")
    kept = np.delete(table, layout.label, axis=1) if labels else table
    if kept.dtype == np.float32 and not bool(np.isfinite(kept).all()):
        _diagnose(name, layout)
    kept.setflags(write=False)
    if not labels:
        return Table(kept, None, "", layout.header)
    tokens = np.array(list(ids), dtype=str) if ids else np.zeros(0, str)
    cells = tokens[table[:, layout.label].astype(np.int64)]
    cells.setflags(write=False)
    return Table(kept, cells, _column(layout, layout.label), layout.header)


def _diagnose(path: str, layout: _Layout) -> None:
    """Find the first bad line with the csv module, and raise an error naming it."""
    rows = _rows(path, layout.delimiter)
    if layout.header is not None:
        next(rows, None)
    for line, cells in rows:
        if len(cells) != layout.width:
            raise DataFormatError(
                f"{path}: line {line} has {len(cells)} cells, the table has {layout.width} "
                f"columns; fix that row (a missing or extra {layout.delimiter!r}?) or remove it"
            )
        for j, raw in enumerate(cells):
            cell = raw.strip()
            if j == layout.label:
                if not cell:
                    raise DataFormatError(
                        f"{path}: missing label at line {line}, {_column(layout, j)}; "
                        "fill in every label or remove the rows without one"
                    )
                continue
            if not cell:
                raise DataFormatError(
                    f"{path}: empty cell at line {line}, {_column(layout, j)}; "
                    "fill it in or remove that row"
                )
            try:
                value = float(cell)
            except ValueError:
                raise DataFormatError(
                    f"{path}: non-numeric cell {cell[:20]!r} at line {line}, "
                    f"{_column(layout, j)}; features must be numbers: fix the cell, remove "
                    "the row, or choose that column as the label with --label-column"
                ) from None
            if not math.isfinite(value):
                raise DataFormatError(
                    f"{path}: {cell[:20]!r} at line {line}, {_column(layout, j)}, is not a "
                    "finite number; features must be finite: fill in a value or remove the row"
                )
            if abs(value) > _FLOAT32_MAX:
                raise DataFormatError(
                    f"{path}: {cell[:20]!r} at line {line}, {_column(layout, j)}, overflows "
                    f"float32 (whose largest value is {_FLOAT32_MAX:.4g}); features are read as "
                    "float32: rescale that column or fix the cell"
                )
