"""Data for mlp_functional: strict IDX files, verified MNIST / Fashion-MNIST, transforms.

One flat namespace. I/O (``read_idx``, ``write_idx``, ``load``, ``fetch``) is kept apart
from the pure per-batch transforms (``preprocess``, ``standardize``, ``train_val_split``).
Importing this package imports neither pooch nor tqdm; they load when a download starts.

>>> from mlp_functional import data
>>> sorted(data.DATASETS)
['fashion-mnist', 'mnist']
>>> issubclass(data.ChecksumError, data.DataError)
True
"""

from .datasets import CACHE_ENV, DATA_ENV, cache_dir, fetch, load
from .download import DownloadOptions, download_file
from .errors import ChecksumError, DataError, DatasetNotFoundError, IdxError
from .idx import IDX_TYPES, read_idx, write_idx
from .registry import DATASETS, DatasetSpec, Files, FileSpec, get_spec
from .splits import Dataset, Split
from .transforms import (
    PixelStats,
    TrainVal,
    pixel_stats,
    preprocess,
    standardize,
    take,
    to_features,
    train_val_split,
)

__all__ = [
    "CACHE_ENV",
    "DATASETS",
    "DATA_ENV",
    "IDX_TYPES",
    "ChecksumError",
    "DataError",
    "Dataset",
    "DatasetNotFoundError",
    "DatasetSpec",
    "DownloadOptions",
    "FileSpec",
    "Files",
    "IdxError",
    "PixelStats",
    "Split",
    "TrainVal",
    "cache_dir",
    "download_file",
    "fetch",
    "get_spec",
    "load",
    "pixel_stats",
    "preprocess",
    "read_idx",
    "standardize",
    "take",
    "to_features",
    "train_val_split",
    "write_idx",
]
