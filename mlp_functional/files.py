"""Atomic file writes: a file appears complete under its name, or not at all.

The one home of the file helpers the data layer and the run folders share.

Bytes go to a hidden temporary file in the destination folder, are flushed and
fsynced, then renamed over the destination with :func:`os.replace` (atomic on POSIX
and Windows). On any exception the temporary file is removed, so an interrupted write
never leaves a half file under a name that is read later.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     target = pathlib.Path(d) / "out.bin"
...     with atomic_file(target) as (f, tmp):
...         _ = f.write(b"abc")
...     sorted(p.name for p in pathlib.Path(d).iterdir()), target.read_bytes()
(['out.bin'], b'abc')
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["STALE_PART_SECONDS", "atomic_file", "fsync_dir", "remove_stale_parts"]

#: A temporary ``.part`` file untouched this long belongs to a write that was killed: a
#: live write touches its file far more often. (Younger ones may be another process's.)
STALE_PART_SECONDS = 600


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[tuple[BinaryIO, Path]]:
    """Write ``path`` atomically: yield ``(file, temp_path)``, rename on clean exit.

    The caller writes into ``file``; it may flush and read ``temp_path`` back to check
    it before the block ends. Raising inside the block discards the temporary file and
    leaves ``path`` as it was.

    Args:
      path: the destination; its folder must exist.

    Yields:
      ``(file, temp_path)``: a binary file open for writing and its (hidden) path.
    """
    dest = Path(path)
    remove_stale_parts(dest.parent)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(name)
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes the file private (0600); a new file is not
            mask = os.umask(0)
            os.umask(mask)
            os.fchmod(fd, 0o666 & ~mask)
        with os.fdopen(fd, "w+b") as f:
            yield f, tmp
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(dest.parent)


def remove_stale_parts(folder: Path, max_age: float = STALE_PART_SECONDS) -> list[str]:
    """Delete the hidden ``.*.part`` files in ``folder`` older than ``max_age`` seconds,
    left there by writes that were killed; returns their names.

    >>> import tempfile, pathlib, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     old = pathlib.Path(d) / ".x.bin.abc.part"
    ...     _ = old.write_bytes(b"half")
    ...     os.utime(old, (0, 0))
    ...     remove_stale_parts(pathlib.Path(d))
    ['.x.bin.abc.part']
    """
    import time

    removed = []
    now = time.time()
    with contextlib.suppress(OSError):
        for child in folder.glob(".*.part"):
            with contextlib.suppress(OSError):
                if now - child.stat().st_mtime > max_age:
                    child.unlink()
                    removed.append(child.name)
    return removed


def fsync_dir(folder: Path) -> None:
    """Make a rename durable by syncing its folder (POSIX only; best effort)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
