"""What a run needs before it trains: its data, its keys, its validation split, and
enough memory (checked before anything large is allocated).

>>> memory_needed([784, 256, 128, 10], 128) // 2**20
31
>>> [k == k2 for k, k2 in zip(keys(0), keys(0))]
[True, True, True]
"""

from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .folder import RunError
from .settings import DEFAULT_VAL_SIZE, Settings, SettingsError

if TYPE_CHECKING:
    from ..data import Dataset, TrainVal

__all__ = [
    "EVAL_CHUNK",
    "apply_recorded_scaling",
    "check_augment",
    "check_memory",
    "fit_table_scaling",
    "keys",
    "load_data",
    "memory_needed",
    "split",
]

#: Rows evaluated at a time when measuring the training split.
EVAL_CHUNK = 2_000


def _check_data_dir(settings: Settings) -> None:
    """``data_dir`` must exist and hold every file: never fall back to another place."""
    from ..data import get_spec

    spec = get_spec(settings.dataset or "")
    folder = Path(settings.data_dir or "")
    if not folder.is_dir():
        raise RunError(
            f"`data_dir` {folder}: no such folder; pass the folder holding "
            f"{', '.join(f.name for f in spec.files)}"
        )
    places = (folder, folder / spec.name)
    missing = [
        f.name for f in spec.files if not any((p / n).is_file() for p in places for n in f.names)
    ]
    if missing:
        raise RunError(
            f"`data_dir` {folder}: missing {', '.join(missing)}; put the dataset's files there "
            "or leave out `data_dir`"
        )


def load_data(settings: Settings) -> Dataset:
    """The data a run trains on: the one place runs read data from.

    ``data`` given: your own file or folder, read by :func:`mlp_functional.data.load_data`
    with the settings' options (its ``source`` records how). Else the built-in
    ``dataset``; ``data_dir`` given: exactly that folder (a missing folder or file is an
    error, with no fallback).
    """
    from ..data import load
    from ..data import load_data as load_own

    if settings.data is not None:
        return load_own(
            settings.data,
            label_column=settings.label_column,
            test_size=settings.test_size,
            color=settings.color,
            image_size=settings.image_size,
            skip_bad=settings.skip_bad,
        )
    assert settings.dataset is not None  # checked: one source of data
    if settings.data_dir is not None:
        _check_data_dir(settings)
    return load(settings.dataset, data_dir=settings.data_dir)


def check_augment(settings: Settings, dataset: Dataset) -> None:
    """Refuse augmentation for data that are not 28x28 grayscale images (or their rows):
    its shifts, rotations and elastic fields are drawn on 28x28 pictures."""
    from ..data import describe_examples, mnist_like

    if settings.augment == "none" or mnist_like(dataset.train.images.shape[1:]):
        return
    what = describe_examples(dataset.train.images.shape[1:])
    recipe = f" (from `recipe` {settings.recipe})" if settings.recipe != "default" else ""
    raise SettingsError(
        f"`augment` {settings.augment}{recipe} works on 28x28 grayscale images; "
        f"{dataset.name} holds {what}: set `augment` to none"
    )


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def memory_needed(sizes: list[int], batch_size: int, itemsize: int = 4) -> int:
    """Bytes training needs beyond the data, roughly: the params five times over (params,
    gradients, two optimizer moments, the update) and three batch-sized buffers per layer.

    >>> memory_needed([784, 256, 128, 10], 128) // 2**20
    31
    """
    n_params = sum(i * o + o for i, o in itertools.pairwise(sizes))
    batch = max(batch_size, EVAL_CHUNK) * sum(sizes) * 3
    return (5 * n_params + batch) * itemsize


def _memory_available() -> int | None:
    with (
        contextlib.suppress(OSError, ValueError, IndexError),
        open("/proc/meminfo", encoding="ascii") as f,
    ):
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    with contextlib.suppress(AttributeError, ValueError, OSError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return None


def check_memory(settings: Settings, sizes: list[int]) -> None:
    """Refuse, in one line saying how much is needed, a model and batch that would not fit."""
    need, have = memory_needed(sizes, settings.batch_size), _memory_available()
    if have is not None and need > have:
        shape = "-".join(map(str, sizes))
        raise RunError(
            f"{shape} with `batch_size` {settings.batch_size} needs about {_gib(need)} of "
            f"memory, {_gib(have)} is available; use a smaller `batch_size` or `hidden` sizes"
        )


def keys(seed: int) -> tuple[Any, Any, Any]:
    """The keys that initialise the weights, shuffle the batches and carve the split."""
    from ..engine.api import key
    from ..engine.api import split as split_keys

    init_key, shuffle_key, split_key = split_keys(key(seed), 3)
    return init_key, shuffle_key, split_key


def split(settings: Settings, dataset: Dataset) -> TrainVal:
    """The training and validation rows the settings' seed and ``val_size`` carve
    (by default :data:`~mlp_functional.runs.settings.DEFAULT_VAL_SIZE`, at most a tenth)."""
    from ..data import train_val_split

    n = len(dataset.train.labels)
    if settings.val_size is None:
        size = min(DEFAULT_VAL_SIZE, n // 10)
        return train_val_split(keys(settings.seed)[2], *dataset.train, size)
    if settings.val_size >= n:
        raise SettingsError(
            f"`val_size` {settings.val_size} leaves no training examples out of {n}; "
            f"use at most {n - 1}"
        )
    return train_val_split(keys(settings.seed)[2], *dataset.train, settings.val_size)


def fit_table_scaling(data: Dataset, split: TrainVal) -> tuple[Dataset, dict[str, Any] | None]:
    """A table of your own standardised by its training rows' mean and standard deviation
    (see :mod:`mlp_functional.data.scaling`), with the record config.json keeps; other data
    unchanged, with ``None``."""
    from ..data import fit_scaling, needs_scaling, scale_dataset, scaling_record

    if not needs_scaling(data):
        return data, None
    scaling = fit_scaling(data.train.images[split.train])
    return scale_dataset(data, scaling), scaling_record(scaling)


def apply_recorded_scaling(data: Dataset, config: dict[str, Any], where: Any) -> Dataset:
    """``data`` scaled as config.json records (unchanged when it records no scaling)."""
    from ..data import scale_dataset, scaling_from_record

    record = (config.get("data") or {}).get("scaling")
    if record is None:
        return data
    try:
        return scale_dataset(data, scaling_from_record(record))
    except ValueError as e:
        raise RunError(f"{where}: {e}") from None
