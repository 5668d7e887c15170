"""The exceptions of :mod:`mlp_functional.data`: one family, one class per kind of failure.

Catch :class:`DataError` to handle every data problem at once; each message is one line
that names the file or dataset, says what is wrong and how to fix it.

>>> issubclass(ChecksumError, DataError), issubclass(IdxError, DataError)
(True, True)
>>> str(IdxError("x.idx: unknown type code 0x01; expected one of 0x08 ..."))
'x.idx: unknown type code 0x01; expected one of 0x08 ...'
"""

from __future__ import annotations

__all__ = [
    "ChecksumError",
    "DataChangedError",
    "DataError",
    "DataFormatError",
    "DataTooLargeError",
    "DatasetNotFoundError",
    "IdxError",
]


class DataError(Exception):
    """Base class of every error raised by :mod:`mlp_functional.data`."""


class IdxError(DataError):
    """A file is not a well-formed IDX file (bad header, wrong length, corrupt gzip...)."""


class ChecksumError(DataError):
    """A file is well formed but its bytes are not the expected ones.

    Attributes:
      path: the file that failed, when there is one.
      expected: the expected SHA-256 (hex) of the decompressed content.
      actual: the SHA-256 (hex) actually found.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        expected: str | None = None,
        actual: str | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.expected = expected
        self.actual = actual


class DatasetNotFoundError(DataError):
    """A dataset was found nowhere it was looked for, and could not be downloaded."""


class DataFormatError(DataError):
    """A file or folder of the user's own data cannot be read as a dataset.

    The message names the file (and the line, column or key), says what is wrong and how
    to fix it: a ragged row, a non-numeric cell, a missing label, a single class, an
    empty class folder, an ``.npz`` without the expected keys, a pickle, a bad image...
    """


class DataTooLargeError(DataFormatError):
    """The data would not fit in memory; raised before anything large is allocated."""


class DataChangedError(DataError):
    """The data differ from the data a run was trained on (SHA-256 or shape)."""
