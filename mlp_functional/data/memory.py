"""Check that an array fits in memory before allocating it, and say how big it would be.

The sizes come from what a file declares (an ``.npy`` header, the images' headers, a CSV's
length), so a damaged or hostile file is refused before it can exhaust the machine.

>>> format_bytes(47_040_000)
'47.0 MB'
>>> check_fits(10**15, "data.npy: 'x'")
Traceback (most recent call last):
...
mlp_functional.data.errors.DataTooLargeError: data.npy: 'x' would take 1.0 PB in memory, ...
"""

from __future__ import annotations

import os

from .errors import DataTooLargeError

__all__ = ["available_memory", "check_fits", "format_bytes"]

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


def format_bytes(n: float) -> str:
    """A byte count in decimal units with one decimal, e.g. ``'1.5 GB'``.

    >>> format_bytes(999), format_bytes(1_500_000_000)
    ('999 B', '1.5 GB')
    """
    if n < 1000:
        return f"{int(n)} B"
    unit = 0
    while n >= 1000 and unit < len(_UNITS) - 1:
        n /= 1000
        unit += 1
    return f"{n:.1f} {_UNITS[unit]}"


def available_memory() -> int | None:
    """Bytes of memory available now (Linux ``MemAvailable``), else physical memory, else None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def check_fits(nbytes: int, what: str) -> None:
    """Raise :class:`DataTooLargeError` if ``nbytes`` exceed the memory available.

    Args:
      nbytes: the size of the array about to be allocated.
      what: the file (and part) it is for, named in the message.
    """
    limit = available_memory()
    if limit is not None and nbytes > limit:
        raise DataTooLargeError(
            f"{what} would take {format_bytes(nbytes)} in memory, more than the "
            f"{format_bytes(limit)} available; use a smaller subset of the data or a "
            "machine with more memory"
        )
