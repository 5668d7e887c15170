"""Atomic file writes: a file appears complete under its name, or not at all.

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

__all__ = ["atomic_file"]


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
    _fsync_dir(dest.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable by syncing its folder (POSIX only; best effort)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
