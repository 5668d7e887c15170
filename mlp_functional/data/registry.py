"""The datasets this package knows: their files, checksums, mirrors and class names.

Each file is identified by the SHA-256 of its *decompressed* content, so any gzip
wrapping of the canonical bytes is accepted (mirrors recompress). Every dataset has the
same four file names; an uncompressed copy named without ``.gz`` is accepted too.

>>> spec = DATASETS["mnist"]
>>> spec.files.train_images.name, len(spec.classes)
('train-images-idx3-ubyte.gz', 10)
>>> DATASETS["fashion-mnist"].classes[0]
'T-shirt/top'
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

__all__ = ["DATASETS", "DatasetSpec", "FileSpec", "Files", "get_spec"]


class FileSpec(NamedTuple):
    """One file of a dataset: its name (as on the mirrors) and the SHA-256 of its content.

    ``sha256`` is the hash of the decompressed IDX bytes, not of the ``.gz`` file.
    """

    name: str
    sha256: str

    @property
    def names(self) -> tuple[str, ...]:
        """The file names accepted on disk, in the order they are looked for.

        >>> FileSpec("a-idx1-ubyte.gz", "0" * 64).names
        ('a-idx1-ubyte.gz', 'a-idx1-ubyte')
        """
        if self.name.endswith(".gz"):
            return (self.name, self.name[: -len(".gz")])
        return (self.name,)


class Files(NamedTuple):
    """The four files of a dataset."""

    train_images: FileSpec
    train_labels: FileSpec
    test_images: FileSpec
    test_labels: FileSpec


class DatasetSpec(NamedTuple):
    """Everything needed to find, download and check one dataset.

    Attributes:
      name: the dataset name, also the name of its folder (``<root>/<name>/``).
      files: the four files and their SHA-256.
      mirrors: base URLs tried in order; a file's URL is ``mirror + file name``.
      classes: the class names, indexed by label.
      image_shape: the ``(height, width)`` of every image.
    """

    name: str
    files: Files
    mirrors: tuple[str, ...]
    classes: tuple[str, ...]
    image_shape: tuple[int, int] = (28, 28)


_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def _files(*hashes: str) -> Files:
    return Files(*(FileSpec(n, h) for n, h in zip(_NAMES, hashes, strict=True)))


MNIST = DatasetSpec(
    name="mnist",
    files=_files(
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    classes=tuple(str(d) for d in range(10)),
)

FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    files=_files(
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    classes=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
)

#: Every known dataset by name (read-only).
DATASETS: Mapping[str, DatasetSpec] = MappingProxyType(
    {spec.name: spec for spec in (MNIST, FASHION_MNIST)}
)


def get_spec(name: str | DatasetSpec) -> DatasetSpec:
    """The spec of a dataset by name; a :class:`DatasetSpec` is returned as it is.

    >>> get_spec("mnist").mirrors[0]
    'https://ossci-datasets.s3.amazonaws.com/mnist/'
    >>> get_spec("digits")
    Traceback (most recent call last):
    ...
    ValueError: unknown dataset 'digits'; choose one of: mnist, fashion-mnist
    """
    if isinstance(name, DatasetSpec):
        return name
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}"
        ) from None
