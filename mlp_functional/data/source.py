"""Where a dataset came from: its path, format, SHA-256, shape and the options it was read with.

A run folder stores :func:`source_record` of its data, so that evaluate and report can
read the same data again and a resumed run can refuse different data
(:func:`check_same_data`): the SHA-256 and the shape must match; the path may change
(data moved to another folder is still the same data).

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     path = pathlib.Path(d) / "t.csv"
...     _ = path.write_text("label,a\\n1,2\\n")
...     digest = hash_file(path)
>>> digest[:12]
'ac5b90817b3e'
>>> src = Source("t.csv", "csv", digest, (1, 1), LoadOptions())
>>> source_from_record(source_record(src)) == src
True
>>> check_same_data(source_record(src), src._replace(shape=(2, 1)))
Traceback (most recent call last):
...
mlp_functional.data.errors.DataChangedError: t.csv: the data have shape (2, 1), ...
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from ..engine.api import key
from ..textbook.random import Key
from .errors import DataChangedError, DataFormatError

__all__ = [
    "MNIST_SHAPES",
    "LoadOptions",
    "Source",
    "check_same_data",
    "describe_examples",
    "hash_file",
    "hash_files",
    "mnist_like",
    "source_from_record",
    "source_record",
]

_CHUNK = 1 << 20
#: The shapes of one MNIST-like example: a 28x28 grayscale image, or a row of its pixels.
MNIST_SHAPES = ((28, 28), (784,))
#: The test split's key when none is given: the same test set whatever the training seed.
DEFAULT_SPLIT_KEY = key(0)


class LoadOptions(NamedTuple):
    """How the data were read: the options of :func:`~mlp_functional.data.load_data`."""

    label_column: str | int | None = None
    test_size: float = 0.2
    color: bool = False
    image_size: tuple[int, int] | None = None
    skip_bad: bool = False
    split_key: Key = DEFAULT_SPLIT_KEY


class Source(NamedTuple):
    """The provenance of a dataset read from the user's own file or folder.

    Attributes:
      path: the file or folder, absolute.
      format: ``"csv"``, ``"npz"``, ``"npy"`` or ``"images"``.
      sha256: hex SHA-256 of the file; of a folder, of its files' names and hashes.
      shape: the shape of all examples read, train and test together, e.g. ``(42000, 784)``.
      options: the options they were read with (needed to read them again the same way).
      skipped: the files left out by ``skip_bad`` (relative to ``path``).
      test_given: whether the data held a test set (else it was split off by key).
    """

    path: str
    format: str
    sha256: str
    shape: tuple[int, ...]
    options: LoadOptions
    skipped: tuple[str, ...] = ()
    test_given: bool = False


def mnist_like(example_shape: Iterable[int]) -> bool:
    """Whether examples of this shape are 28x28 grayscale images (or rows of their 784
    pixels, as in Kaggle's CSV): what augmentation, ``serve`` and digit pictures expect.

    >>> mnist_like((28, 28)), mnist_like((784,)), mnist_like((28, 28, 3)), mnist_like((8, 8))
    (True, True, False, False)
    """
    return tuple(example_shape) in MNIST_SHAPES


def describe_examples(example_shape: Iterable[int]) -> str:
    """What examples of this shape are, for messages.

    >>> describe_examples((64,)), describe_examples((8, 8)), describe_examples((32, 32, 3))
    ('rows of 64 features', '8x8 images', '32x32 colour images')
    """
    shape = tuple(example_shape)
    if len(shape) == 1:
        return f"rows of {shape[0]} features"
    colour = "colour " if len(shape) == 3 else ""
    return f"{shape[0]}x{shape[1]} {colour}images"


def hash_file(path: str | os.PathLike[str]) -> str:
    """The hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def hash_files(named_hashes: Iterable[tuple[str, str]]) -> str:
    """One SHA-256 for a folder: of the sorted ``name<TAB>sha256`` lines of its files.

    >>> hash_files([("b", "2"), ("a", "1")]) == hash_files([("a", "1"), ("b", "2")])
    True
    """
    lines = "".join(f"{name}\t{sha}\n" for name, sha in sorted(named_hashes))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def source_record(source: Source) -> dict[str, Any]:
    """The source as plain JSON values, for a run's ``config.json``."""
    options = source.options
    return {
        "path": source.path,
        "format": source.format,
        "sha256": source.sha256,
        "shape": list(source.shape),
        "options": {
            "label_column": options.label_column,
            "test_size": options.test_size,
            "color": options.color,
            "image_size": list(options.image_size) if options.image_size else None,
            "skip_bad": options.skip_bad,
            "split_key": list(options.split_key.words),
        },
        "skipped": list(source.skipped),
        "test_given": source.test_given,
    }


def source_from_record(record: Mapping[str, Any]) -> Source:
    """The :class:`Source` a :func:`source_record` describes; a damaged one raises DataError."""
    try:
        o = record["options"]
        size = o.get("image_size")
        options = LoadOptions(
            label_column=o.get("label_column"),
            test_size=float(o.get("test_size", 0.2)),
            color=bool(o.get("color", False)),
            image_size=(int(size[0]), int(size[1])) if size else None,
            skip_bad=bool(o.get("skip_bad", False)),
            split_key=Key(tuple(int(w) for w in o["split_key"])),  # type: ignore[arg-type]
        )
        return Source(
            path=str(record["path"]),
            format=str(record["format"]),
            sha256=str(record["sha256"]),
            shape=tuple(int(n) for n in record["shape"]),
            options=options,
            skipped=tuple(str(s) for s in record.get("skipped", ())),
            test_given=bool(record.get("test_given", False)),
        )
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        raise DataFormatError(
            f"the run's record of its data is damaged ({type(e).__name__}: {e}); train a new run"
        ) from None


def check_same_data(recorded: Mapping[str, Any], current: Source) -> None:
    """Refuse data that differ from a recorded source (by SHA-256 or shape).

    Args:
      recorded: a :func:`source_record`, as stored in a run folder.
      current: the source of the data just read.

    Raises:
      DataChangedError: naming both hashes or shapes and the fix.
    """
    before = source_from_record(recorded)
    if tuple(current.shape) != tuple(before.shape):
        raise DataChangedError(
            f"{current.path}: the data have shape {tuple(current.shape)}, the run was "
            f"trained on shape {tuple(before.shape)} from {before.path}; use the data the "
            "run was trained on, or train a new run"
        )
    if current.sha256 != before.sha256:
        raise DataChangedError(
            f"{current.path}: SHA-256 {current.sha256[:16]}... differs from "
            f"{before.sha256[:16]}..., the data the run was trained on ({before.path}); "
            "use the data the run was trained on, or train a new run"
        )
