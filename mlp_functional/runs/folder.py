"""The run folder: everything one training run leaves behind, and how to read it back.

A run folder holds::

    config.json          every setting, the data's checksums, package and numpy versions
    model.safetensors    the trained weights (see :mod:`mlp_functional.checkpoint`)
    state.safetensors    what an exact resume needs: optimizer state, key, step, progress
    history.json         one record per epoch: losses, accuracies, learning rate, seconds
    metrics.json         the final figures: train and test accuracy, epochs, seconds

Every file is written atomically, so a folder read at any moment holds complete files.

>>> import tempfile, pathlib
>>> from mlp_functional.random import key
>>> from mlp_functional.params import init
>>> from mlp_functional.checkpoint import save_params
>>> with tempfile.TemporaryDirectory() as d:
...     run = pathlib.Path(d)
...     write_json(run / CONFIG_FILE, {"model": {"sizes": [784, 32, 10]}})
...     save_params(run / MODEL_FILE, init(key(0), [784, 32, 10]))
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
from typing import Any, NamedTuple

from .checkpoint import load_params, write_atomic
from .params import Params

__all__ = [
    "CONFIG_FILE",
    "HISTORY_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "RUN_FILES",
    "STATE_FILE",
    "Run",
    "RunError",
    "jsonable",
    "load_run",
    "new_run_dir",
    "read_json",
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


class RunError(Exception):
    """A run folder is missing, incomplete or inconsistent."""


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


def write_json(path: PathLike, value: Any) -> None:
    """Write ``value`` as indented strict JSON, atomically (NaN becomes ``null``)."""
    text = json.dumps(jsonable(value), indent=2, allow_nan=False) + "\n"
    write_atomic(path, text.encode("utf-8"))


def read_json(path: PathLike) -> Any:
    """Read a JSON file of a run; a missing or damaged one raises :class:`RunError`."""
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunError(f"{name}: no such file; is this a run folder?") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        raise RunError(f"{name}: cannot be read ({type(e).__name__}); check the file") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise RunError(
            f"{name}: not valid JSON ({e.msg} at line {e.lineno}); the file is damaged: "
            "restore it or train again"
        ) from None


def _read_dict(path: Path) -> dict[str, Any]:
    value = read_json(path)
    if not isinstance(value, dict):
        raise RunError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def load_run(run_dir: PathLike) -> Run:
    """Read a run folder: the model, its settings, its history and final metrics.

    Raises:
      RunError: the folder or its config is missing or damaged, or the model does not
        match the config.
      CheckpointError: ``model.safetensors`` is missing or fails validation.
    """
    folder = Path(run_dir)
    if not folder.is_dir():
        raise RunError(
            f"{folder}: no such run folder; train one with `mlp-functional train --out {folder}`"
        )
    if not (folder / CONFIG_FILE).is_file():
        raise RunError(
            f"{folder}: not a run folder (no {CONFIG_FILE}); pass the folder that "
            "`mlp-functional train` wrote"
        )
    config = _read_dict(folder / CONFIG_FILE)
    if not (folder / MODEL_FILE).is_file():
        raise RunError(
            f"{folder}: has no {MODEL_FILE} yet (training stopped before the first epoch "
            f"ended?); train again, or resume with `mlp-functional train --resume {folder}`"
        )
    params = load_params(folder / MODEL_FILE)
    expected = (config.get("model") or {}).get("sizes")
    if expected is not None and list(params.sizes) != expected:
        raise RunError(
            f"{folder}: {MODEL_FILE} has sizes {list(params.sizes)}, {CONFIG_FILE} says "
            f"{expected}; the folder mixes files of two runs"
        )
    history: list[dict[str, Any]] = []
    if (folder / HISTORY_FILE).is_file():
        raw = read_json(folder / HISTORY_FILE)
        if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
            raise RunError(f"{folder / HISTORY_FILE}: expected a JSON list of epoch records")
        history = raw
    metrics = _read_dict(folder / METRICS_FILE) if (folder / METRICS_FILE).is_file() else None
    return Run(params, config, history, metrics)


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
