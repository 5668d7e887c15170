"""Find, verify and load a dataset: ``load("mnist")`` gives ``Dataset(train, test, ...)``.

Where :func:`load` looks, in order:

1. ``data_dir``, a folder holding the four files (or their ``<name>/`` subfolder);
2. ``$MLP_FUNCTIONAL_DATA/<name>/``;
3. the user cache ``<cache>/<name>/`` (``$MLP_FUNCTIONAL_CACHE``, else the platform's
   cache folder: ``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux, ``~/Library/Caches`` on
   macOS, ``%LOCALAPPDATA%`` on Windows, each with ``mlp_functional`` appended);
4. the mirrors, downloading into the cache.

Every file is verified (SHA-256 of its decompressed content) each time it is read.
A bad file in a folder you supplied raises :class:`ChecksumError`; a bad file in the
cache is reported with a warning, deleted and downloaded again.

>>> import gzip, hashlib, pathlib, tempfile, numpy as np
>>> from mlp_functional.data import DATASETS, write_idx
>>> tmp = tempfile.TemporaryDirectory()
>>> folder, files = pathlib.Path(tmp.name), DATASETS["mnist"].files
>>> arrays = [np.zeros((2, 28, 28), np.uint8), np.array([3, 1], np.uint8)] * 2
>>> for f, a in zip(files, arrays):
...     write_idx(folder / f.name, a)
>>> def sha(p): return hashlib.sha256(gzip.decompress(p.read_bytes())).hexdigest()
>>> tiny = DatasetSpec("tiny", Files(*(FileSpec(f.name, sha(folder / f.name)) for f in files)),
...                    mirrors=(), classes=tuple("0123"))
>>> ds = load(tiny, data_dir=folder)
>>> ds.train.images.shape, ds.test.labels.tolist(), ds.train.images.flags.writeable
((2, 28, 28), [3, 1], False)
>>> tmp.cleanup()
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np

from ..files import atomic_file
from .download import DownloadOptions, download_file
from .errors import ChecksumError, DatasetNotFoundError, IdxError
from .idx import read_idx
from .registry import DatasetSpec, Files, FileSpec, get_spec
from .splits import Dataset, Split

__all__ = ["CACHE_ENV", "DATA_ENV", "cache_dir", "fetch", "load"]

#: Environment variable naming a root folder that holds ``<name>/`` dataset folders.
DATA_ENV = "MLP_FUNCTIONAL_DATA"
#: Environment variable overriding the cache root (the cache holds ``<name>/`` folders).
CACHE_ENV = "MLP_FUNCTIONAL_CACHE"


def cache_dir(name: str | None = None) -> Path:
    """The cache root, or the cache folder of dataset ``name``; nothing is created.

    >>> cache_dir("mnist").parent == cache_dir(), cache_dir("mnist").name
    (True, 'mnist')
    """
    override = os.environ.get(CACHE_ENV)
    root = Path(override).expanduser() if override else _platform_cache() / "mlp_functional"
    return root / name if name is not None else root


def _platform_cache() -> Path:
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        return Path(local) if local else Path.home() / "AppData" / "Local"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"


def load(
    name: str | DatasetSpec,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download_options: DownloadOptions | None = None,
) -> Dataset:
    """Load a dataset, verified, from the first place that has it (see the module doc).

    Args:
      name: ``"mnist"``, ``"fashion-mnist"`` (see ``DATASETS``) or a :class:`DatasetSpec`.
      data_dir: a folder holding the four files (or their ``<name>/`` subfolder),
        looked at first.
      download_options: timeouts and retries if it comes to downloading.

    Returns:
      ``Dataset(train, test, classes, name)``; the arrays are read-only, images uint8
      ``(N, 28, 28)`` and labels uint8 ``(N,)``.

    Raises:
      ChecksumError: a file in ``data_dir`` or ``$MLP_FUNCTIONAL_DATA`` is not the
        expected one.
      IdxError: such a file is malformed.
      DatasetNotFoundError: found nowhere and the download failed; the message lists
        every place looked at and the command that fixes it.

    >>> load("mnist").train.images.shape  # doctest: +SKIP
    (60000, 28, 28)
    >>> load("mnsit")
    Traceback (most recent call last):
    ...
    ValueError: unknown dataset 'mnsit'; choose one of: mnist, fashion-mnist
    """
    spec = get_spec(name)
    looked = []
    for label, folder in _local_places(spec, data_dir):
        found, missing = _find(folder, spec.files)
        if not missing:
            return _assemble(spec, found, [_read_supplied(p, f, spec) for f, p in found])
        looked.append(_describe_place(label, folder, missing, spec.files))

    cache = cache_dir(spec.name)
    found, missing = _find(cache, spec.files)
    looked.append(_describe_place("the cache", cache, missing, spec.files))
    paths: dict[str, Path] = {}
    arrays: dict[str, np.ndarray] = {}
    for f, p in found:
        array = _read_cached(p, f)
        if array is not None:
            paths[f.name], arrays[f.name] = p, array
    for f in spec.files:
        if f.name not in arrays:
            paths[f.name], arrays[f.name] = _download(spec, f, cache, download_options, looked)
    return _assemble(
        spec,
        [(f, paths[f.name]) for f in spec.files],
        [arrays[f.name] for f in spec.files],
    )


def fetch(
    name: str | DatasetSpec,
    *,
    source_dir: str | os.PathLike[str] | None = None,
    download_options: DownloadOptions | None = None,
) -> Path:
    """Put a dataset, verified, into the cache, by downloading it or copying it.

    Files already in the cache are checked: a good one is kept, a bad one is reported
    (a warning naming its path), deleted and fetched again.

    Args:
      name: ``"mnist"``, ``"fashion-mnist"`` or a :class:`DatasetSpec`.
      source_dir: a folder holding the four files (or their ``<name>/`` subfolder) to
        copy from instead of downloading; each is verified before it is copied.
      download_options: timeouts and retries.

    Returns:
      The dataset's cache folder.

    Raises:
      ChecksumError, IdxError: a file in ``source_dir`` is not the expected one.
      DatasetNotFoundError: ``source_dir`` lacks files, or a download failed.

    >>> fetch("mnist")  # doctest: +SKIP
    PosixPath('/home/me/.cache/mlp_functional/mnist')
    >>> fetch("mnist", source_dir="no/such/folder")
    Traceback (most recent call last):
    ...
    mlp_functional.data.errors.DatasetNotFoundError: .../no/such/folder lacks ...
    """
    spec = get_spec(name)
    cache = cache_dir(spec.name)
    if source_dir is not None:
        _copy_from(spec, Path(source_dir), cache)
        return cache
    found, _ = _find(cache, spec.files)
    good = set()
    for f, p in found:
        if _read_cached(p, f) is not None:
            good.add(f.name)
    looked = [_describe_place("the cache", cache, [], spec.files)]
    for f in spec.files:
        if f.name not in good:
            _download(spec, f, cache, download_options, looked)
    return cache


# ---- finding files -------------------------------------------------------------------


def _local_places(
    spec: DatasetSpec, data_dir: str | os.PathLike[str] | None
) -> list[tuple[str, Path | None]]:
    places: list[tuple[str, Path | None]] = []
    if data_dir is not None:
        folder = Path(data_dir)
        places.append(("data_dir", folder))
        if (folder / spec.name).is_dir():
            places.append(("data_dir", folder / spec.name))
    root = os.environ.get(DATA_ENV)
    places.append((f"${DATA_ENV}/{spec.name}", Path(root) / spec.name if root else None))
    return places


def _find(folder: Path | None, files: Files) -> tuple[list[tuple[FileSpec, Path]], list[str]]:
    """The files present in ``folder`` (first accepted name of each) and those missing."""
    found, missing = [], []
    for f in files:
        path = None
        if folder is not None:
            path = next((folder / n for n in f.names if (folder / n).is_file()), None)
        if path is None:
            missing.append(f.name)
        else:
            found.append((f, path))
    return found, missing


def _describe_place(label: str, folder: Path | None, missing: list[str], files: Files) -> str:
    if folder is None:
        return f"{label} (not set)"
    where = f"{label} {folder.absolute()}"
    if not folder.is_dir():
        return f"{where} (no such folder)"
    if len(missing) == len(files):
        return f"{where} (none of the files)"
    if missing:
        return f"{where} (missing {', '.join(missing)})"
    return where


def _fix(spec: DatasetSpec) -> str:
    names = ", ".join(f.name for f in spec.files)
    return (
        f"to fix: run `mlp-functional fetch --dataset {spec.name}` while online, or put "
        f"the four files ({names}) in a folder DIR and pass --data-dir DIR "
        f"(or set {DATA_ENV}=ROOT with the files in ROOT/{spec.name}/)"
    )


# ---- reading and verifying -----------------------------------------------------------


def _read_supplied(path: Path, f: FileSpec, spec: DatasetSpec) -> np.ndarray:
    """Read a file from a folder the user supplied; a bad one is an error, never skipped."""
    try:
        return read_idx(path, sha256=f.sha256)
    except ChecksumError as e:
        raise ChecksumError(
            f"{path}: SHA-256 of the decompressed content is {e.actual}, expected "
            f"{e.expected} for {spec.name}'s {f.name}; the file is damaged or not the "
            f"canonical one: replace it with a good copy, or remove it and run "
            f"`mlp-functional fetch --dataset {spec.name}`",
            path=str(path),
            expected=e.expected,
            actual=e.actual,
        ) from None


def _read_cached(path: Path, f: FileSpec) -> np.ndarray | None:
    """A cached file's content; if it no longer verifies, warn by path, delete it, None."""
    try:
        return read_idx(path, sha256=f.sha256)
    except (ChecksumError, IdxError) as e:
        reason = str(e).removeprefix(f"{path}: ")
        warnings.warn(
            f"cached file {path} no longer verifies ({reason}); deleting it to fetch it again",
            UserWarning,
            stacklevel=3,
        )
        path.unlink(missing_ok=True)
        return None


def _download(
    spec: DatasetSpec,
    f: FileSpec,
    cache: Path,
    options: DownloadOptions | None,
    looked: list[str],
) -> tuple[Path, np.ndarray]:
    cache.mkdir(parents=True, exist_ok=True)
    try:
        return download_file(f, spec.mirrors, cache, options)
    except DatasetNotFoundError as e:
        raise DatasetNotFoundError(
            f"{spec.name} not found: looked in {'; '.join(looked)}; then {e}; {_fix(spec)}"
        ) from None


def _copy_from(spec: DatasetSpec, source: Path, cache: Path) -> None:
    folder = source / spec.name if (source / spec.name).is_dir() else source
    found, missing = _find(folder, spec.files)
    if missing:
        raise DatasetNotFoundError(
            f"{folder.absolute()} lacks {', '.join(missing)} of {spec.name}; put all four "
            f"files there, or run `mlp-functional fetch --dataset {spec.name}` to download them"
        )
    for f, path in found:  # all four verified before any is copied
        _read_supplied(path, f, spec)
    cache.mkdir(parents=True, exist_ok=True)
    for f, path in found:
        with atomic_file(cache / path.name) as (out, _), open(path, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
        for other in f.names:  # an older copy under the other accepted name would shadow it
            if other != path.name:
                (cache / other).unlink(missing_ok=True)


def _assemble(
    spec: DatasetSpec, found: list[tuple[FileSpec, Path]], arrays: list[np.ndarray]
) -> Dataset:
    """Check shapes and dtypes, make the arrays read-only, build the :class:`Dataset`."""
    paths = [p for _, p in found]
    splits = []
    for (images, labels), (ipath, lpath) in zip(
        (arrays[0:2], arrays[2:4]), (paths[0:2], paths[2:4]), strict=True
    ):
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != spec.image_shape:
            raise IdxError(
                f"{ipath}: expected uint8 images of shape (N, {spec.image_shape[0]}, "
                f"{spec.image_shape[1]}), got {images.dtype} {images.shape}; "
                "is this the right file?"
            )
        if labels.dtype != np.uint8 or labels.shape != images.shape[:1]:
            raise IdxError(
                f"{lpath}: expected uint8 labels of shape ({images.shape[0]},) to match "
                f"{ipath.name}, got {labels.dtype} {labels.shape}; is this the right file?"
            )
        if labels.size and int(labels.max()) >= len(spec.classes):
            raise IdxError(
                f"{lpath}: label {int(labels.max())} out of range for {len(spec.classes)} "
                f"classes of {spec.name}; is this the right file?"
            )
        images.setflags(write=False)
        labels.setflags(write=False)
        splits.append(Split(images, labels))
    return Dataset(splits[0], splits[1], spec.classes, spec.name)
