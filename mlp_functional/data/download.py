"""Download one dataset file from a list of mirrors, verify it, store it atomically.

The transfer itself is pooch's :class:`pooch.HTTPDownloader` (requests underneath);
this module adds what pooch does not do: trying each mirror in order, retrying a
transient failure (timeout, broken connection, HTTP 5xx/408/429, wrong or damaged
content) a bounded number of times but never a 403/404, checking the SHA-256 of the
*decompressed* content, and writing through a temporary file renamed into place only
once it verifies. pooch and tqdm are imported only when a download actually starts.

>>> DownloadOptions().retries, DownloadOptions(timeout=2.0).timeout
(3, 2.0)
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..files import atomic_file
from .errors import ChecksumError, DatasetNotFoundError, IdxError
from .idx import read_idx
from .registry import FileSpec

__all__ = ["DownloadOptions", "download_file"]


class DownloadOptions(NamedTuple):
    """How hard to try.

    Attributes:
      timeout: seconds to wait for the server to connect or send more bytes.
      retries: attempts per mirror for a transient failure (>= 1).
      backoff: seconds to wait before the second attempt, doubled before each next one.
      progress: ``file name -> bar`` making a tqdm-like bar (``total``, ``update``,
        ``reset``, ``close``) for each download, or ``None`` for none; the command line
        passes one that draws on a terminal (this library prints nothing itself).
    """

    timeout: float = 30.0
    retries: int = 3
    backoff: float = 1.0
    progress: Callable[[str], Any] | None = None


class _TransientError(Exception):
    """A failure worth retrying on the same mirror."""


class _PermanentError(Exception):
    """A failure that retrying the same mirror will not fix (403, 404...)."""


def download_file(
    file: FileSpec,
    mirrors: Sequence[str],
    folder: str | Path,
    options: DownloadOptions | None = None,
) -> tuple[Path, np.ndarray]:
    """Download ``file`` into ``folder`` from the first mirror that serves it intact.

    Each mirror is tried in order; on each, a transient failure is retried up to
    ``options.retries`` times with exponential backoff. The bytes go to a hidden
    temporary file in ``folder`` which is renamed to ``file.name`` only after its
    decompressed content matches ``file.sha256``; nothing else is ever left there.

    Args:
      file: the file name (appended to each mirror URL) and its SHA-256.
      mirrors: base URLs, each ending in ``/``.
      folder: an existing folder to store the file in.
      options: timeouts, retries and progress bar (defaults: :class:`DownloadOptions`).

    Returns:
      ``(path, array)``: where the verified file now is, and its content.

    Raises:
      DatasetNotFoundError: every mirror failed; the message gives each URL and why.
    """
    opts = options or DownloadOptions()
    if opts.retries < 1:
        raise ValueError(f"retries must be >= 1, got retries={opts.retries}")
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + file.name
        reason = "not tried"
        for attempt in range(1, opts.retries + 1):
            if attempt > 1 and opts.backoff > 0:
                time.sleep(opts.backoff * 2 ** (attempt - 2))
            try:
                return _download_once(url, file, Path(folder), opts)
            except _PermanentError as e:
                reason = f"{e} (not retried)"
                break
            except _TransientError as e:
                reason = f"{e} ({attempt} attempt{'s' if attempt > 1 else ''})"
        failures.append(f"{url}: {reason}")
    if not failures:
        failures.append("no mirror is listed for this dataset")
    raise DatasetNotFoundError(f"could not download {file.name}: " + "; ".join(failures))


def _download_once(
    url: str, file: FileSpec, folder: Path, opts: DownloadOptions
) -> tuple[Path, np.ndarray]:
    import pooch  # lazily: pooch and requests are only needed to download
    import requests

    bar = opts.progress(file.name) if opts.progress is not None else None
    downloader = pooch.HTTPDownloader(
        progressbar=bar if bar is not None else False, timeout=opts.timeout, chunk_size=1 << 16
    )
    dest = folder / file.name
    try:
        with atomic_file(dest) as (f, tmp):
            try:
                downloader(url, f, None)
            except requests.HTTPError as e:
                status = getattr(e.response, "status_code", None)
                if status is not None and (status >= 500 or status in (408, 429)):
                    raise _TransientError(f"HTTP {status}") from None
                raise _PermanentError(f"HTTP {status}") from None
            except requests.Timeout:
                raise _TransientError(f"no answer within {opts.timeout:g} s") from None
            except requests.RequestException as e:
                raise _TransientError(_describe(e)) from None
            f.flush()
            try:
                array = read_idx(tmp, sha256=file.sha256)
            except ChecksumError as e:
                raise _TransientError(
                    f"wrong content: SHA-256 {e.actual}, expected {e.expected}"
                ) from None
            except IdxError as e:
                raise _TransientError(f"damaged file: {str(e).removeprefix(f'{tmp}: ')}") from None
    finally:
        if bar is not None:
            bar.close()
    return dest, array


def _describe(e: BaseException) -> str:
    """A short reason for a connection failure, without requests' long wrapping."""
    text = str(e)
    errno = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    if errno:
        return f"connection failed: {errno.group(0).strip()}"
    if "IncompleteRead" in text or "Connection broken" in text:
        return "connection broken during the transfer"
    return f"connection failed: {type(e).__name__}: {text[:120]}"
