"""Tests of mlp_functional.data.idx: round trips, strict validation, a bounded fuzz."""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
import tempfile
import tracemalloc
import zlib
from pathlib import Path

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlp_functional.data import IDX_TYPES, ChecksumError, IdxError, read_idx, write_idx
from mlp_functional.files import atomic_file

DTYPES = [
    np.dtype(dt.str.replace(">", "<")) if dt.itemsize > 1 else dt for dt in IDX_TYPES.values()
]


def idx_bytes(array: np.ndarray) -> bytes:
    """The canonical IDX encoding, written independently of write_idx."""
    code = {dt.str[1:]: c for c, dt in IDX_TYPES.items()}[array.dtype.str[1:]]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def header(code: int, *dims: int) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def write(tmp_path: Path, data: bytes, name: str = "f.idx") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ---- round trips --------------------------------------------------------------------

arrays = st.sampled_from(DTYPES).flatmap(
    lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(array=arrays, gz=st.booleans(), big_endian_input=st.booleans())
def test_write_read_round_trip_every_type_and_shape(array, gz, big_endian_input):
    if big_endian_input:
        array = array.astype(array.dtype.newbyteorder(">"))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / ("a-idx.gz" if gz else "a-idx")
        write_idx(path, array)
        assert (path.read_bytes()[:2] == b"\x1f\x8b") == gz
        back = read_idx(path)
        raw = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
    assert raw == idx_bytes(array.astype(array.dtype.newbyteorder("=")))
    assert back.dtype.isnative
    assert back.dtype == array.dtype.newbyteorder("=")
    assert back.shape == array.shape
    assert back.tobytes() == array.astype(back.dtype).tobytes()  # bitwise, NaNs included


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_every_type_code_reads_native_values(dtype):
    values = np.array([[0, 1, 2], [3, 4, 5]]).astype(dtype)
    out = read_idx(io.BytesIO(idx_bytes(values)))
    np.testing.assert_array_equal(out, values)
    assert out.dtype == dtype and out.dtype.isnative


def test_gzip_is_detected_by_content_not_name(tmp_path):
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    raw_named_gz = write(tmp_path, idx_bytes(a), "raw.gz")
    gz_named_raw = write(tmp_path, gzip.compress(idx_bytes(a)), "packed.idx")
    np.testing.assert_array_equal(read_idx(raw_named_gz), a)
    np.testing.assert_array_equal(read_idx(gz_named_raw), a)


def test_reads_from_file_objects_and_non_seekable_streams():
    a = np.arange(6, dtype=np.float32)

    class Pipe(io.RawIOBase):  # readable, not seekable
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:
            return self._data.readinto(b)

    np.testing.assert_array_equal(read_idx(io.BytesIO(gzip.compress(idx_bytes(a)))), a)
    np.testing.assert_array_equal(read_idx(Pipe(gzip.compress(idx_bytes(a)))), a)
    np.testing.assert_array_equal(read_idx(io.BufferedReader(Pipe(idx_bytes(a)))), a)


def test_multi_member_gzip_is_one_stream(tmp_path):
    data = idx_bytes(np.arange(100, dtype=np.uint8))
    path = write(tmp_path, gzip.compress(data[:30]) + gzip.compress(data[30:]))
    np.testing.assert_array_equal(read_idx(path), np.arange(100, dtype=np.uint8))


def test_result_is_a_fresh_read_only_array(tmp_path):
    path = tmp_path / "a.idx"
    write_idx(path, np.zeros(3, np.int16))
    out = read_idx(path)
    with pytest.raises(ValueError, match="read-only"):
        out[0] = 7
    assert not np.shares_memory(read_idx(path), out)


# ---- sha256 -------------------------------------------------------------------------


def test_sha256_of_the_decompressed_content_is_checked(tmp_path):
    data = idx_bytes(np.arange(10, dtype=np.uint8))
    good = hashlib.sha256(data).hexdigest()
    path = write(tmp_path, gzip.compress(data, compresslevel=1), "x.gz")
    assert read_idx(path, sha256=good.upper()).tolist() == list(range(10))
    with pytest.raises(
        ChecksumError, match=r"x\.gz: SHA-256 .* is [0-9a-f]{64}, expected 0{64}"
    ) as e:
        read_idx(path, sha256="0" * 64)
    assert (e.value.path, e.value.expected, e.value.actual) == (str(path), "0" * 64, good)


# ---- strict validation --------------------------------------------------------------

BAD = {
    "magic": (b"\x01\x00\x08\x01" + b"\x00\x00\x00\x01" + b"\x05", r"first two magic bytes"),
    "type": (header(0x0A, 1) + b"\x05", r"unknown IDX type code 0x0A"),
    "short magic": (b"\x00\x00", r"shorter than the 4-byte magic"),
    "empty": (b"", r"shorter than the 4-byte magic"),
    "short header": (b"\x00\x00\x08\x03" + b"\x00\x00\x00\x02", r"declares 3 dimensions"),
    "short payload": (header(0x0C, 2, 2) + b"\x00" * 15, r"only 15 bytes follow the header"),
    "long payload": (header(0x08, 2, 2) + b"\x00" * 5, r"\(1 extra\)"),
    "huge": (header(0x08, 2**31, 2**31, 2**31), r"declares shape .* but only 0 bytes follow"),
}


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_malformed_files_raise_idx_error_naming_file_and_reason(tmp_path, case, gz):
    data, reason = BAD[case]
    if gz:
        reason = {
            "short payload": r"data ends after 15 bytes \(truncated\)",
            "long payload": r"more data follows",
            "huge": r"more than a \d+-byte gzip file can hold",
        }.get(case, reason)
        data = gzip.compress(data)
    path = write(tmp_path, data, "bad-file")
    with pytest.raises(IdxError, match=rf"^{path}: .*{reason}"):
        read_idx(path)


def test_huge_declared_size_is_refused_before_allocating(tmp_path):
    raw = write(tmp_path, header(0x0E, 2**31, 2**31, 2**31), "raw")  # 16 bytes, 2**96 B claimed
    packed = write(tmp_path, gzip.compress(header(0x08, 2**16, 2**16) + b"\x00" * 100), "gz")
    tracemalloc.start()
    try:
        for path in (raw, packed):
            with pytest.raises(IdxError, match="declares"):
                read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_more_dimensions_than_numpy_supports(tmp_path):
    path = write(tmp_path, header(0x08, *([1] * 255)) + b"\x07", "deep")
    with pytest.raises(IdxError, match=r"deep: header declares shape .* numpy cannot represent"):
        read_idx(path)


def test_corrupt_and_truncated_gzip_streams(tmp_path):
    packed = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int16)))
    crc = bytearray(packed)
    crc[-5] ^= 0xFF  # inside the CRC32 trailer
    with pytest.raises(IdxError, match=r"corrupt gzip stream .*incorrect data check"):
        read_idx(write(tmp_path, bytes(crc), "crc"))
    with pytest.raises(IdxError, match=r"ends before its end marker \(truncated file\)"):
        read_idx(write(tmp_path, packed[:-4], "cut-trailer"))
    with pytest.raises(IdxError, match=r"truncated"):
        read_idx(write(tmp_path, packed[: len(packed) // 2], "cut-half"))
    with pytest.raises(IdxError, match=r"corrupt gzip stream"):
        read_idx(write(tmp_path, packed + b"garbage!", "trailing"))
    with pytest.raises(IdxError, match=r"corrupt gzip stream"):
        read_idx(write(tmp_path, b"\x1f\x8b\x08\x00" + b"\xff" * 40, "header"))


def test_write_refuses_what_idx_cannot_hold(tmp_path):
    with pytest.raises(IdxError, match=r"dtype uint16 cannot be stored in IDX; convert"):
        write_idx(tmp_path / "a.idx", np.zeros(2, np.uint16))
    with pytest.raises(IdxError, match=r"dtype bool"):
        write_idx(tmp_path / "a.idx", [True, False])
    with pytest.raises(IdxError, match=r"dimensions must each be below 2\*\*32"):
        write_idx(tmp_path / "a.idx", np.broadcast_to(np.zeros(1, np.uint8), (2**32,)))
    assert list(tmp_path.iterdir()) == []


def test_atomic_file_leaves_nothing_behind_on_error(tmp_path):
    target = tmp_path / "t.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_file(target) as (f, tmp):
        f.write(b"half")
        assert tmp.exists()
        raise RuntimeError("interrupted")
    assert [p.name for p in tmp_path.iterdir()] == ["t.bin"]
    assert target.read_bytes() == b"old"


# ---- fuzz ---------------------------------------------------------------------------


@st.composite
def damaged(draw) -> bytes:
    """A valid small IDX file (raw or gzip), then damaged in one or two ways."""
    dt = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    data = idx_bytes(np.zeros(shape, dt))
    if draw(st.booleans()):
        data = gzip.compress(data, compresslevel=draw(st.integers(0, 9)))
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["flip", "header", "truncate", "extend", "splice"]))
        if kind == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :]
        elif kind == "header":
            data = draw(st.binary(min_size=0, max_size=16)) + data[16:]
        elif kind == "truncate":
            data = data[: draw(st.integers(0, max(len(data) - 1, 0)))]
        elif kind == "extend":
            data = data + draw(st.binary(min_size=1, max_size=8))
        else:  # a gzip wrapper around a random (often hostile) IDX header
            dims = draw(st.lists(st.integers(0, 2**32 - 1), max_size=4) | st.just([1] * 70))
            code = draw(st.sampled_from([0x08, 0x0B, 0x0E, 0x01]))
            data = zlib.compress(header(code, *dims), wbits=31) if draw(st.booleans()) else data
    return data


@settings(max_examples=200, deadline=None)
@given(data=damaged())
def test_fuzz_only_idx_error_and_no_large_allocation(data):
    tracemalloc.start()
    try:
        try:
            out = read_idx(io.BytesIO(data))
        except IdxError as e:
            assert str(e).startswith("<IDX stream>: ")
        else:
            assert isinstance(out, np.ndarray)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20


def test_written_files_get_the_permissions_a_new_file_gets(tmp_path):
    import os

    from mlp_functional.data import write_idx

    mask = os.umask(0)
    os.umask(mask)
    target = tmp_path / "x.idx"
    write_idx(target, np.zeros(3, np.uint8))
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
