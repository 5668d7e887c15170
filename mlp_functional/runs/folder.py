"""The run folder: everything one training run leaves behind, and how to read it back.

A run folder holds::

    config.json          every setting, the data's checksums, package and numpy versions
    model.safetensors    the trained weights (see :mod:`mlp_functional.runs.checkpoint`)
    state.safetensors    what an exact resume needs: optimizer state, key, step, progress
    history.json         one record per epoch: losses, accuracies, learning rate, seconds
    metrics.json         the final figures: train and test accuracy, epochs, seconds
    manifest.json        the last committed epoch: each file above with size and SHA-256

Every epoch is committed at once (see :mod:`mlp_functional.runs.commit`): readers use
only the files the manifest names, after checking them, so a folder read at any moment
gives the last committed epoch or a one-line error naming the damaged file. A folder
without a manifest is refused (deleting it must not turn the checks off): one written
before manifests existed is adopted deliberately with ``mlp-functional migrate``
(:mod:`mlp_functional.runs.migrate`). Every file's size is checked before it is read
(:mod:`mlp_functional.runs.limits`).

>>> import tempfile, pathlib
>>> from mlp_functional import key
>>> from mlp_functional import init
>>> from mlp_functional.runs.checkpoint import encode_params
>>> from mlp_functional.runs.commit import commit
>>> with tempfile.TemporaryDirectory() as d:
...     run = pathlib.Path(d)
...     config = {"model": {"sizes": [784, 32, 10]}}
...     model = init(key(0), [784, 32, 10])
...     files = {CONFIG_FILE: json_bytes(config), MODEL_FILE: encode_params(model)}
...     _ = commit(run, files, epoch=1)
...     loaded = load_run(run)
>>> loaded.params.sizes, loaded.history, loaded.metrics
((784, 32, 10), [], None)
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..textbook.params import Params
from .checkpoint import CheckpointError, decode_params, write_atomic
from .commit import (
    MANIFEST_FILE,
    CommitError,
    Manifest,
    read_committed,
    read_manifest,
    read_regular,
)
from .errors import RunError
from .limits import limit_for
from .schema import SchemaError, check_config, check_history, check_metrics, parse_json

if TYPE_CHECKING:
    from ..data.source import Source

__all__ = [
    "CONFIG_FILE",
    "HISTORY_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "RUN_FILES",
    "STATE_FILE",
    "Run",
    "RunError",
    "check_complete",
    "data_source",
    "json_bytes",
    "jsonable",
    "load_run",
    "model_of",
    "new_run_dir",
    "parse_file",
    "present",
    "read_file",
    "read_json",
    "unmanifested",
    "write_json",
]

CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
STATE_FILE = "state.safetensors"
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"
#: The files a run folder may hold, in the order training writes them.
RUN_FILES = (CONFIG_FILE, MODEL_FILE, HISTORY_FILE, STATE_FILE, METRICS_FILE)

PathLike = str | os.PathLike[str]


class Run(NamedTuple):
    """A trained run, as read back from its folder.

    Attributes:
      params: the model from ``model.safetensors``.
      config: the settings from ``config.json``.
      history: the per-epoch records from ``history.json`` (empty if absent).
      metrics: the final figures from ``metrics.json``, ``None`` if training did not finish.
    """

    params: Params
    config: dict[str, Any]
    history: list[dict[str, Any]]
    metrics: dict[str, Any] | None


def jsonable(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by ``None`` (strict JSON has neither).

    >>> jsonable({"loss": float("nan"), "acc": [0.5, float("inf")]})
    {'loss': None, 'acc': [0.5, None]}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def json_bytes(value: Any) -> bytes:
    """``value`` as indented strict JSON (NaN becomes ``null``), UTF-8 encoded.

    >>> json_bytes({"loss": float("nan")})
    b'{\\n  "loss": null\\n}\\n'
    """
    return (json.dumps(jsonable(value), indent=2, allow_nan=False) + "\n").encode("utf-8")


def write_json(path: PathLike, value: Any) -> None:
    """Write ``value`` as indented strict JSON, atomically (NaN becomes ``null``)."""
    write_atomic(path, json_bytes(value))


def read_file(folder: Path, manifest: Manifest | None, name: str) -> bytes:
    """The bytes of the run file ``name``: the committed, verified ones when a manifest
    is given, else the file as it is (a folder being migrated, a lone JSON file); either
    way refused unread when larger than :func:`~mlp_functional.runs.limits.limit_for`.

    Raises:
      RunError: the file is missing, too large, not a regular file, or not what the
        manifest names.
    """
    try:
        if manifest is not None:
            return read_committed(folder, manifest, name, limit_for(name))
        return read_regular(folder / name, limit_for(name))
    except FileNotFoundError:
        raise RunError(f"{folder / name}: no such file; is this a run folder?") from None
    except CommitError as e:
        raise RunError(str(e)) from None


def parse_file(path: Path, data: bytes, check: Any = None) -> Any:
    """The JSON in ``data`` (the bytes of ``path``), its shape checked by ``check``."""
    try:
        value = parse_json(data)
        if check is not None:
            check(value)
    except SchemaError as e:
        raise RunError(f"{path}: {e}; the file is damaged: restore it or train again") from None
    return value


def read_json(path: PathLike) -> Any:
    """Read a JSON file of a run; a missing or damaged one raises :class:`RunError`."""
    folder, name = Path(path).parent, Path(path).name
    return parse_file(Path(path), read_file(folder, None, name))


def data_source(config: Any, where: PathLike = "the run") -> Source | None:
    """The own data a run was trained on (``config["data"]["source"]``), or ``None`` for a
    built-in dataset (or a run from before own data could be read).

    >>> data_source({"data": {"name": "mnist"}}) is None
    True

    Raises:
      RunError: the record is damaged (naming ``where``).
    """
    from ..data import DataError, source_from_record

    record = ((config or {}).get("data") or {}).get("source")
    if record is None:
        return None
    try:
        return source_from_record(record)
    except DataError as e:
        raise RunError(f"{where}: {e}") from None


def load_run(run_dir: PathLike) -> Run:
    """Read a run folder: the model, its settings, its history and final metrics.

    Raises:
      RunError: the folder or one of its files is missing, damaged or not what the
        manifest names, or the model does not match the config.
    """
    folder = Path(run_dir)
    if not folder.is_dir():
        raise RunError(
            f"{folder}: no such run folder; train one with `mlp-functional train --out {folder}`"
        )
    try:
        manifest = read_manifest(folder)
    except CommitError as e:
        raise RunError(str(e)) from None
    if manifest is None:
        check_complete(folder, present(folder))
        raise unmanifested(folder)
    files = manifest.files
    for name in (CONFIG_FILE, MODEL_FILE):  # every commit names both
        if name not in files:
            raise RunError(
                f"{folder}: {MANIFEST_FILE} names no {name}, so it is damaged; restore it or "
                "train again"
            )

    def read(name: str, check: Any) -> Any:
        return parse_file(folder / name, read_file(folder, manifest, name), check)

    config = read(CONFIG_FILE, check_config)
    params = model_of(folder, read_file(folder, manifest, MODEL_FILE), config)
    history = read(HISTORY_FILE, check_history) if HISTORY_FILE in files else []
    metrics = read(METRICS_FILE, check_metrics) if METRICS_FILE in files else None
    return Run(params, config, history, metrics)


def model_of(folder: Path, data: bytes, config: dict[str, Any]) -> Params:
    """The model in ``data`` (the bytes of the folder's model file), checked on its own
    and against the sizes ``config`` records."""
    try:
        params = decode_params(data, str(folder / MODEL_FILE))
    except CheckpointError as e:
        raise RunError(str(e)) from None
    expected = config["model"]["sizes"]
    if list(params.sizes) != expected:
        raise RunError(
            f"{folder}: {MODEL_FILE} has sizes {list(params.sizes)}, {CONFIG_FILE} says "
            f"{expected}; the folder mixes files of two runs"
        )
    return params


def present(folder: Path) -> set[str]:
    """The run files a folder without a manifest holds."""
    return {name for name in RUN_FILES if (folder / name).exists()}


def check_complete(folder: Path, files: set[str]) -> None:
    """Refuse a folder whose ``files`` lack the config or the model: not a run's, or one
    stopped before its first epoch was saved."""
    if CONFIG_FILE not in files:
        raise RunError(
            f"{folder}: not a run folder (no {CONFIG_FILE}); pass the folder that "
            "`mlp-functional train` wrote"
        )
    if MODEL_FILE not in files:
        raise RunError(
            f"{folder}: has no {MODEL_FILE} yet (training stopped before the first epoch "
            f"ended?); train again with the same command"
        )


def unmanifested(folder: Path) -> RunError:
    """The refusal of a run folder without ``manifest.json``: nothing in it can be checked,
    so nothing is read until it is adopted deliberately."""
    return RunError(
        f"{folder}: no {MANIFEST_FILE}, so its files cannot be checked; if an earlier "
        f"mlp_functional wrote it, check and adopt it with `mlp-functional migrate {folder}`, "
        f"else restore {MANIFEST_FILE} or train again"
    )


def new_run_dir(root: PathLike = "runs", now: _dt.datetime | None = None) -> Path:
    """Create and return a fresh folder under ``root`` named by the time, never reused.

    >>> import tempfile, datetime
    >>> with tempfile.TemporaryDirectory() as d:
    ...     t = datetime.datetime(2024, 5, 1, 12, 30, 0)
    ...     a, b = new_run_dir(d, t), new_run_dir(d, t)
    ...     a.name, b.name
    ('20240501-123000', '20240501-123000-2')
    """
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    Path(root).mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        folder = Path(root) / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise RunError(f"{root}: too many runs named {stamp}*; pass --out to choose a folder")
