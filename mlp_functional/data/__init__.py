"""Data for mlp_functional: strict IDX files, verified MNIST / Fashion-MNIST, your own
data (CSV, ``.npz``/``.npy``, image folders), transforms.

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
from .errors import (
    ChecksumError,
    DataChangedError,
    DataError,
    DataFormatError,
    DatasetNotFoundError,
    DataTooLargeError,
    IdxError,
)
from .folders import decode_example
from .idx import IDX_TYPES, read_idx, write_idx
from .own import load_data, load_recorded, parse_image_size
from .registry import DATASETS, DatasetSpec, Files, FileSpec, get_spec
from .scaling import (
    FeatureScaling,
    fit_scaling,
    needs_scaling,
    scale_dataset,
    scale_features,
    scaling_from_record,
    scaling_record,
)
from .source import (
    MNIST_SHAPES,
    LoadOptions,
    Source,
    check_same_data,
    describe_examples,
    mnist_like,
    source_from_record,
    source_record,
)
from .splits import Dataset, Split
from .tabular import read_csv
from .transforms import (
    Holdout,
    PixelStats,
    TrainVal,
    pixel_stats,
    preprocess,
    standardize,
    stratified_split,
    take,
    to_features,
    train_val_split,
)

__all__ = [
    "CACHE_ENV",
    "DATASETS",
    "DATA_ENV",
    "IDX_TYPES",
    "MNIST_SHAPES",
    "ChecksumError",
    "DataChangedError",
    "DataError",
    "DataFormatError",
    "DataTooLargeError",
    "Dataset",
    "DatasetNotFoundError",
    "DatasetSpec",
    "DownloadOptions",
    "FeatureScaling",
    "FileSpec",
    "Files",
    "Holdout",
    "IdxError",
    "LoadOptions",
    "PixelStats",
    "Source",
    "Split",
    "TrainVal",
    "cache_dir",
    "check_same_data",
    "decode_example",
    "describe_examples",
    "download_file",
    "fetch",
    "fit_scaling",
    "get_spec",
    "load",
    "load_data",
    "load_recorded",
    "mnist_like",
    "needs_scaling",
    "parse_image_size",
    "pixel_stats",
    "preprocess",
    "read_csv",
    "read_idx",
    "scale_dataset",
    "scale_features",
    "scaling_from_record",
    "scaling_record",
    "source_from_record",
    "source_record",
    "standardize",
    "stratified_split",
    "take",
    "to_features",
    "train_val_split",
    "write_idx",
]
