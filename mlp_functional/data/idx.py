"""Read and write IDX files, the format of MNIST, raw or gzip-compressed, strictly.

An IDX file is a 4-byte magic number ``00 00 <type code> <number of dimensions>``,
then one big-endian uint32 per dimension, then the elements, big-endian, row-major.
The reader refuses anything else with an :class:`IdxError` naming the file and the
reason, before any large allocation: the size the header declares is checked against
the size of the file first (for gzip, against the most a deflate stream of that size
can expand to), and the decompressed payload is read in bounded chunks straight into
the final array, stopping as soon as it runs past or short of the declared size.

>>> import tempfile, pathlib, numpy as np
>>> with tempfile.TemporaryDirectory() as d:
...     path = pathlib.Path(d) / "x-idx2-short.gz"
...     write_idx(path, np.arange(6, dtype=np.int16).reshape(2, 3))
...     read_idx(path)
array([[0, 1, 2],
       [3, 4, 5]], dtype=int16)
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import struct
import zlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import BinaryIO, Protocol

import numpy as np
import numpy.typing as npt

from ..files import atomic_file
from ..readonly import freeze
from .errors import ChecksumError, IdxError

__all__ = ["IDX_TYPES", "read_idx", "write_idx"]

#: IDX type code -> element dtype as stored on disk (big-endian).
IDX_TYPES: Mapping[int, np.dtype] = MappingProxyType(
    {
        0x08: np.dtype("u1"),
        0x09: np.dtype("i1"),
        0x0B: np.dtype(">i2"),
        0x0C: np.dtype(">i4"),
        0x0D: np.dtype(">f4"),
        0x0E: np.dtype(">f8"),
    }
)
_CODES: Mapping[tuple[str, int], int] = MappingProxyType(
    {(dt.kind, dt.itemsize): c for c, dt in IDX_TYPES.items()}
)

_GZIP_MAGIC = b"\x1f\x8b"
#: A deflate stream expands at most 1032-fold: the bound on what a gzip file can hold.
_MAX_DEFLATE_RATIO = 1032
_IN_CHUNK = 1 << 18
_OUT_CHUNK = 1 << 20

Source = str | os.PathLike[str] | BinaryIO


def read_idx(source: Source, *, sha256: str | None = None) -> np.ndarray:
    """Read an IDX file, raw or gzip (detected by its magic bytes, not its name).

    Args:
      source: a path, or a binary file object positioned at the start of the data.
      sha256: if given, the expected SHA-256 (hex) of the *decompressed* content;
        a mismatch raises :class:`ChecksumError` and no array is returned.

    Returns:
      A fresh native-endian array of the stored dtype (uint8, int8, int16, int32,
      float32 or float64) and shape.

    Raises:
      IdxError: the content is not a well-formed IDX file (or a corrupt gzip stream).
      ChecksumError: ``sha256`` was given and does not match.
      OSError: the file cannot be opened or read.

    >>> import io
    >>> read_idx(io.BytesIO(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9])))
    array([7, 8, 9], dtype=uint8)
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            return _read(f, os.fspath(source), os.fstat(f.fileno()).st_size, sha256)
    name = str(getattr(source, "name", "<IDX stream>"))
    size = _remaining_size(source)
    if size is None:  # not seekable: hold the (usually compressed) bytes to know the size
        data = source.read()
        return _read(io.BytesIO(data), name, len(data), sha256)
    return _read(source, name, size, sha256)


def write_idx(path: str | os.PathLike[str], array: npt.ArrayLike) -> None:
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``.

    The inverse of :func:`read_idx`. The file is written atomically (temporary file,
    then rename) and the gzip wrapping is deterministic (no timestamp, no name).

    Args:
      path: the destination file.
      array: an array of dtype uint8, int8, int16, int32, float32 or float64 whose
        dimensions are each below 2**32.

    Raises:
      IdxError: the dtype or shape cannot be stored in IDX.

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     write_idx(pathlib.Path(d) / "a.idx", np.zeros((2, 2), dtype=np.float32))
    ...     (pathlib.Path(d) / "a.idx").stat().st_size  # 4 + 2*4 header + 4*4 data
    28
    """
    arr = np.asarray(array)
    code = _CODES.get((arr.dtype.kind, arr.dtype.itemsize))
    if code is None:
        raise IdxError(
            f"{os.fspath(path)}: dtype {arr.dtype} cannot be stored in IDX; "
            "convert first, e.g. array.astype(np.uint8), int8, int16, int32, float32 or float64"
        )
    if any(d >= 2**32 for d in arr.shape):  # (numpy's limit on ndim is below IDX's 255)
        raise IdxError(
            f"{os.fspath(path)}: shape {arr.shape} cannot be stored in IDX, whose "
            "dimensions must each be below 2**32; reshape the array"
        )
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    payload = np.ascontiguousarray(arr, dtype=IDX_TYPES[code]).reshape(-1).view(np.uint8)
    with atomic_file(path) as (f, _):
        if os.fspath(path).endswith(".gz"):
            with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as gz:
                gz.write(header)
                gz.write(payload.data)
        else:
            f.write(header)
            f.write(payload.data)


# ---- reading -------------------------------------------------------------------------


class _Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...


def _remaining_size(f: BinaryIO) -> int | None:
    """Bytes from the current position to the end, or None if ``f`` cannot seek."""
    try:
        if not f.seekable():
            return None
        pos = f.tell()
        end = f.seek(0, io.SEEK_END)
        f.seek(pos)
    except (AttributeError, OSError, ValueError):
        return None
    return end - pos


def _read(f: BinaryIO, name: str, size: int, sha256: str | None) -> np.ndarray:
    head = _read_upto(f.read, 2)
    gzipped = head == _GZIP_MAGIC
    stream: _Raw | _Gzip = _Gzip(f, head, name) if gzipped else _Raw(f, head)
    hasher: _Hasher | None = hashlib.sha256() if sha256 is not None else None

    magic = stream.read(4)
    if len(magic) < 4:
        raise IdxError(f"{name}: header is {len(magic)} bytes, shorter than the 4-byte magic")
    if magic[0] or magic[1]:
        raise IdxError(
            f"{name}: not an IDX file: the first two magic bytes must be zero, "
            f"got 0x{magic[0]:02x} 0x{magic[1]:02x}; is this the right file?"
        )
    code, ndim = magic[2], magic[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        raise IdxError(f"{name}: unknown IDX type code 0x{code:02X}; expected one of {known}")
    dims_raw = stream.read(4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise IdxError(
            f"{name}: header declares {ndim} dimensions ({4 + 4 * ndim} bytes) "
            f"but the file ends after {4 + len(dims_raw)} bytes"
        )
    shape = struct.unpack(f">{ndim}I", dims_raw)
    dtype = IDX_TYPES[code]
    nbytes = math.prod(shape) * dtype.itemsize
    header_len = 4 + 4 * ndim
    declared = f"header declares shape {shape} of {dtype.name} ({nbytes} bytes of data)"

    # Check the declared size against what the file can hold, before allocating.
    if not gzipped:
        available = size - header_len
        if nbytes > available:
            raise IdxError(f"{name}: {declared} but only {available} bytes follow the header")
        if nbytes < available:
            raise IdxError(
                f"{name}: {declared} but {available} bytes follow the header "
                f"({available - nbytes} extra)"
            )
    elif nbytes > size * _MAX_DEFLATE_RATIO:
        raise IdxError(
            f"{name}: {declared}, more than a {size}-byte gzip file can hold; the header is corrupt"
        )

    if hasher is not None:
        hasher.update(magic)
        hasher.update(dims_raw)
    buf = np.empty(nbytes, dtype=np.uint8)
    filled = stream.readinto(buf.data, hasher)
    if filled < nbytes:
        raise IdxError(f"{name}: {declared} but the data ends after {filled} bytes (truncated)")
    if not stream.at_end():
        raise IdxError(f"{name}: {declared} but more data follows (the file is too long)")

    if sha256 is not None and hasher is not None:
        actual = hasher.hexdigest()
        if actual != sha256.lower():
            raise ChecksumError(
                f"{name}: SHA-256 of the decompressed content is {actual}, expected "
                f"{sha256.lower()}; the file is damaged or not the expected one: replace it",
                path=name,
                expected=sha256.lower(),
                actual=actual,
            )

    arr = buf.view(dtype)
    if not dtype.isnative:
        arr.byteswap(inplace=True)
        arr = arr.view(dtype.newbyteorder("="))
    try:
        return freeze(arr.reshape(shape))
    except ValueError as e:  # more dimensions than this numpy supports
        raise IdxError(f"{name}: {declared}, which numpy cannot represent ({e})") from None


def _read_upto(read: Callable[[int], bytes], n: int) -> bytes:
    """Call ``read`` until it has given ``n`` bytes, fewer only at the end of its data."""
    parts = []
    while n > 0:
        part = read(n)
        if not part:
            break
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


class _Raw:
    """The bytes of an uncompressed file, after ``head`` already read from it."""

    def __init__(self, f: BinaryIO, head: bytes) -> None:
        self._f = f
        self._pending = head

    def read(self, n: int) -> bytes:
        first, self._pending = self._pending[:n], self._pending[n:]
        return first + _read_upto(self._f.read, n - len(first))

    def readinto(self, out: memoryview, hasher: _Hasher | None) -> int:
        """Fill ``out`` as far as the data goes; return the number of bytes filled."""
        readinto = getattr(self._f, "readinto", None)
        pos = 0
        while pos < len(out):
            piece = out[pos : pos + _OUT_CHUNK]
            if self._pending:
                got = len(self._pending[: len(piece)])
                piece[:got] = self._pending[:got]
                self._pending = self._pending[got:]
            elif readinto is not None:
                got = readinto(piece)
            else:
                data = self._f.read(len(piece))
                got = len(data)
                piece[:got] = data
            if not got:
                break
            if hasher is not None:
                hasher.update(piece[:got])
            pos += got
        return pos

    def at_end(self) -> bool:
        return not self.read(1)


class _Gzip:
    """The decompressed bytes of a gzip file (one or more members), in bounded chunks."""

    def __init__(self, f: BinaryIO, head: bytes, name: str) -> None:
        self._f = f
        self._name = name
        self._pending = head
        self._d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        self._left = b""  # decompressed bytes produced but not yet handed out

    def _input(self) -> bytes:
        data, self._pending = self._pending + self._f.read(_IN_CHUNK), b""
        return data

    def _more(self, max_out: int) -> bytes:
        """Up to ``max_out`` (>= 1) more decompressed bytes; b"" at the clean end."""
        if self._left:
            out, self._left = self._left[:max_out], self._left[max_out:]
            return out
        while True:
            if self._d.eof:
                data = self._d.unused_data or self._input()
                if not data:
                    return b""
                self._d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # next member
            else:
                data = self._d.unconsumed_tail or self._input()
            try:
                out = self._d.decompress(data, max_out)
            except zlib.error as e:
                raise IdxError(
                    f"{self._name}: corrupt gzip stream ({e}); the file is damaged: "
                    "get a fresh copy"
                ) from None
            if out:
                return out
            if not data and not self._d.eof:
                raise IdxError(
                    f"{self._name}: the gzip stream ends before its end marker "
                    "(truncated file); get a fresh copy"
                )

    def read(self, n: int) -> bytes:
        return _read_upto(self._more, n)

    def readinto(self, out: memoryview, hasher: _Hasher | None) -> int:
        pos = 0
        while pos < len(out):
            part = self._more(min(len(out) - pos, _OUT_CHUNK))
            if not part:
                break
            out[pos : pos + len(part)] = part
            if hasher is not None:
                hasher.update(part)
            pos += len(part)
        return pos

    def at_end(self) -> bool:
        extra = self._more(1)
        self._left = extra
        return not extra
