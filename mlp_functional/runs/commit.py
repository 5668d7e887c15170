"""Commit an epoch's files to a run folder all at once, and read back only what was committed.

An epoch's files (model, state, history, config, metrics) are first written in full
beside their final names, as ``.<name>.next``. Then ``manifest.json``, naming every file
of the epoch with its size and SHA-256, is written and renamed into place: that rename is
the commit point. Only then are the ``.next`` files renamed over the old ones. A crash
before the commit point leaves the previous epoch intact (its files were not touched); a
crash after it leaves ``.next`` files the manifest vouches for, which the next reader
uses and the next writer renames into place.

Readers trust only what the manifest names, and only after checking its size and hash,
so a byte flipped anywhere is refused with the file's name. Every file is read through
:func:`read_regular`, which refuses FIFOs, devices and folders instead of blocking.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     run = pathlib.Path(d)
...     _ = commit(run, {"a.json": b"{}", "b.bin": b"xyz"}, epoch=1)
...     manifest = read_manifest(run)
...     (run / "b.bin").write_bytes(b"xyZ")
...     try:
...         read_committed(run, manifest, "b.bin")
...     except CommitError as e:
...         print(str(e).split(": ", 1)[1][:34])
3
b.bin does not match manifest.json
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from ..files import atomic_file, fsync_dir
from .errors import RunError
from .limits import MAX_FILE_BYTES, MAX_JSON_BYTES, too_large

__all__ = [
    "MANIFEST_FILE",
    "CommitError",
    "Entry",
    "Manifest",
    "commit",
    "read_committed",
    "read_manifest",
    "read_regular",
    "recover",
    "remove_leftovers",
]

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "mlp_functional.run-manifest"
MANIFEST_VERSION = 1
_NEXT = ".next"

#: ``fault(step)`` is called after each write step of :func:`commit` (tests kill there).
Fault = Callable[[str], None]


class CommitError(RunError):
    """A run folder's file is missing, damaged, or not what its manifest names."""


class Entry(NamedTuple):
    """One committed file: its size in bytes and the SHA-256 of its contents."""

    size: int
    sha256: str


class Manifest(NamedTuple):
    """What an epoch's commit vouches for: the epoch and each file's size and hash."""

    epoch: int
    files: Mapping[str, Entry]


def _entry(data: bytes) -> Entry:
    return Entry(len(data), hashlib.sha256(data).hexdigest())


def _staged(folder: Path, name: str) -> Path:
    return folder / f".{name}{_NEXT}"


def read_regular(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes.

    Opens without blocking, so a FIFO or a device is refused rather than waited on.

    Raises:
      FileNotFoundError: there is no such file.
      CommitError: it is not a regular file, or too large.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise CommitError(f"{path}: is a folder, not a file; check the run folder") from None
    except PermissionError:
        raise CommitError(f"{path}: permission denied; check the file's permissions") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise CommitError(f"{path}: is a folder, not a file; check the path")
        raise CommitError(
            f"{path}: not a regular file (a FIFO, device or socket); replace it with the file"
        )
    with os.fdopen(fd, "rb") as f:
        if info.st_size > limit:
            raise CommitError(too_large(path, info.st_size, limit))
        return f.read(limit + 1)


def _parse_manifest(path: Path, data: bytes) -> Manifest:
    bad = f"{path}: not a valid run manifest"
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CommitError(f"{bad} (not JSON); restore it or train again") from None
    if not isinstance(raw, dict) or raw.get("format") != MANIFEST_FORMAT:
        raise CommitError(f"{bad} (no '{MANIFEST_FORMAT}' format); restore it or train again")
    if raw.get("version") != MANIFEST_VERSION:
        raise CommitError(
            f"{path}: manifest version {raw.get('version')!r}, this mlp_functional reads "
            f"version {MANIFEST_VERSION}; use the mlp_functional version that wrote it"
        )
    epoch, files = raw.get("epoch"), raw.get("files")
    if not (isinstance(epoch, int) and not isinstance(epoch, bool) and epoch >= 0):
        raise CommitError(f"{bad}: epoch={epoch!r}; restore it or train again")
    if not isinstance(files, dict):
        raise CommitError(f"{bad}: 'files' is not an object; restore it or train again")
    entries = {}
    for name, entry in files.items():
        ok = (
            isinstance(entry, dict)
            and "/" not in name
            and "\\" not in name
            and not name.startswith(".")
            and isinstance(entry.get("size"), int)
            and not isinstance(entry.get("size"), bool)
            and 0 <= entry["size"] <= MAX_FILE_BYTES
            and isinstance(entry.get("sha256"), str)
            and len(entry["sha256"]) == 64
        )
        if not ok:
            raise CommitError(f"{bad}: entry {name!r}; restore it or train again")
        entries[name] = Entry(entry["size"], entry["sha256"])
    return Manifest(epoch, MappingProxyType(entries))


def read_manifest(folder: Path) -> Manifest | None:
    """The folder's manifest, or ``None`` when no epoch was ever committed (or the folder
    was written by a version before manifests)."""
    path = folder / MANIFEST_FILE
    try:
        data = read_regular(path, MAX_JSON_BYTES[MANIFEST_FILE])
    except FileNotFoundError:
        return None
    return _parse_manifest(path, data)


def _matches(path: Path, entry: Entry) -> bytes | None:
    """The bytes of ``path`` if they are the ones ``entry`` names."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            read_regular(path)  # raises, naming what the file is instead
        if info.st_size != entry.size:
            return None
        data = read_regular(path, entry.size)
    except FileNotFoundError:
        return None
    return data if _entry(data) == entry else None


def read_committed(
    folder: Path, manifest: Manifest, name: str, limit: int = MAX_FILE_BYTES
) -> bytes:
    """The committed bytes of ``name``: checked against the manifest's size and SHA-256,
    and refused unread when the manifest names more than ``limit`` bytes.

    Raises:
      CommitError: the manifest does not name the file, names a size over ``limit``, or
        neither the file nor its staged copy is what the manifest names.
    """
    entry = manifest.files.get(name)
    if entry is None:
        raise CommitError(f"{folder}: {MANIFEST_FILE} names no {name}; train again")
    if entry.size > limit:
        raise CommitError(too_large(folder / name, entry.size, limit))
    for candidate in (folder / name, _staged(folder, name)):
        data = _matches(candidate, entry)
        if data is not None:
            return data
    if not (folder / name).exists():
        raise CommitError(
            f"{folder}: {name} is missing, though {MANIFEST_FILE} names it (epoch "
            f"{manifest.epoch} was committed); restore the file or train again"
        )
    raise CommitError(
        f"{folder}: {name} does not match {MANIFEST_FILE} (SHA-256 or size differ: damaged "
        "or replaced); restore it or train again"
    )


def recover(folder: Path) -> Manifest | None:
    """Finish an interrupted commit: rename staged files the manifest vouches for into
    place. Call with the folder's lock held. Returns the manifest (``None`` if none)."""
    manifest = read_manifest(folder)
    if manifest is None:
        return None
    for name, entry in manifest.files.items():
        staged = _staged(folder, name)
        if _matches(folder / name, entry) is None and _matches(staged, entry) is not None:
            os.replace(staged, folder / name)
    fsync_dir(folder)
    return manifest


def remove_leftovers(folder: Path) -> list[str]:
    """Delete the hidden ``.part`` and ``.next`` files an interrupted write left behind.

    Call with the folder's lock held, after :func:`recover`. Returns the names removed.
    """
    removed = []
    for child in folder.iterdir():
        name = child.name
        if name.startswith(".") and name.endswith((".part", _NEXT)) and child.is_file():
            with contextlib.suppress(FileNotFoundError):
                child.unlink()
                removed.append(name)
    return removed


def _write_file(path: Path, data: bytes, shown: Path | None = None) -> None:
    try:
        with atomic_file(path) as (f, _):
            f.write(data)
    except OSError as e:
        e.filename = str(shown or path)  # a full disk says which file it was writing
        raise


def commit(
    folder: Path,
    files: Mapping[str, bytes],
    *,
    epoch: int,
    keep: Mapping[str, Entry] = MappingProxyType({}),
    extra: Mapping[str, Any] = MappingProxyType({}),
    fault: Fault | None = None,
) -> Manifest:
    """Write ``files`` and commit them, with the ``keep`` entries, as epoch ``epoch``.

    Args:
      folder: the run folder (its lock held by the caller).
      files: name -> new contents.
      epoch: the epoch these files describe.
      keep: committed files carried over unchanged (name -> entry, from the last manifest).
      extra: more JSON-able fields for the manifest.
      fault: called with the name of each step once it is done (for fault-injection tests).

    Returns:
      The new manifest.
    """
    step = fault or (lambda name: None)
    entries = dict(keep)
    for name, data in files.items():
        _write_file(_staged(folder, name), data, folder / name)
        entries[name] = _entry(data)
        step(f"write {name}")
    record = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "epoch": epoch,
        **extra,
        "files": {n: {"size": e.size, "sha256": e.sha256} for n, e in sorted(entries.items())},
    }
    _write_file(folder / MANIFEST_FILE, (json.dumps(record, indent=2) + "\n").encode())
    step(f"commit {MANIFEST_FILE}")
    for name in files:
        os.replace(_staged(folder, name), folder / name)
        step(f"rename {name}")
    fsync_dir(folder)
    return Manifest(epoch, MappingProxyType(entries))
