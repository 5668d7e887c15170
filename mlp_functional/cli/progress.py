"""Progress bars on stderr, drawn by the command line for the library's callbacks.

The library reports progress through callbacks and prints nothing; these turn the
callbacks into tqdm bars, and only when stderr is a terminal (a log file or a pipe
gets no bar).

>>> download_bar("train-images-idx3-ubyte.gz", terminal=False) is None
True
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["download_bar", "on_terminal"]


def on_terminal() -> bool:
    """Whether stderr is an interactive terminal."""
    return bool(sys.stderr and sys.stderr.isatty())


def download_bar(name: str, *, terminal: bool | None = None) -> Any:
    """A tqdm bar on stderr for downloading ``name``, or ``None`` off a terminal.

    Args:
      name: the file, shown as the bar's label.
      terminal: draw the bar (default: only when stderr is a terminal).
    """
    if not (on_terminal() if terminal is None else terminal):
        return None
    from tqdm import tqdm  # lazily: only a download on a terminal needs it

    return tqdm(total=0, desc=name, unit="B", unit_scale=True, file=sys.stderr, leave=True)
