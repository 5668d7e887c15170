"""One writer per run folder: an advisory lock held for the whole life of a run.

The lock is taken on the hidden file ``.lock`` in the folder (``fcntl.flock`` on POSIX,
``msvcrt.locking`` on Windows), which also records the holder's process id. The
operating system releases it when the process ends, however it ends, so a lock left by a
dead process is simply taken over; the file itself stays.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     with hold(pathlib.Path(d)):
...         try:
...             with hold(pathlib.Path(d)):
...                 pass
...         except LockedError as e:
...             print("refused:", "another process (PID" in str(e))
refused: True
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import RunError

__all__ = ["LOCK_FILE", "LockedError", "hold"]

LOCK_FILE = ".lock"


class LockedError(RunError):
    """Another process is writing the run folder."""


def _try_lock(fd: int) -> bool:
    if os.name == "nt":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if os.name == "nt":  # pragma: no cover
        import msvcrt

        with contextlib.suppress(OSError):
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        os.lseek(fd, 0, os.SEEK_SET)
        pid = int(os.read(fd, 32).decode("ascii").split()[0])
        return f"PID {pid}"
    return "PID unknown"


@contextlib.contextmanager
def hold(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock for the duration of the block.

    Raises:
      LockedError: another live process holds it; the message names its PID.
    """
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            raise LockedError(
                f"{folder}: another process ({_holder(fd)}) is writing this run folder; "
                "wait for it to finish, or choose another --out"
            )
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)
