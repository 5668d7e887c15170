"""Adopt a run folder that has no manifest: check every file on its own, then commit them.

A folder written before manifests existed (or one whose manifest was lost) is refused by
every reader, since nothing in it can be checked against a SHA-256. :func:`migrate` is
the deliberate way back: each file must pass the checks its own format allows (the
JSON files their shapes, the safetensors files their names, shapes, dtypes, finiteness
and finite outputs, the training state its optimizer and progress, the model the sizes
config.json records), and then the files, exactly as they are, are committed under a new
manifest. A training state in an earlier version's layout, which no version continues,
is left out of the manifest: the run evaluates and predicts but cannot be resumed. A
weight changed but still finite passes those checks: adopting a folder vouches for it,
which is why readers never do it on their own.

>>> import tempfile, pathlib
>>> from mlp_functional import key
>>> from mlp_functional import init
>>> from mlp_functional.runs.checkpoint import save_params
>>> from mlp_functional.runs.folder import load_run, write_json
>>> with tempfile.TemporaryDirectory() as d:
...     run = pathlib.Path(d)
...     write_json(run / "config.json", {"model": {"sizes": [4, 3, 2]}})
...     save_params(run / "model.safetensors", init(key(0), [4, 3, 2]))
...     adopted = migrate(run)
...     load_run(run).params.sizes, adopted.epoch, sorted(adopted.files)
((4, 3, 2), 0, ['config.json', 'model.safetensors'])
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import lock
from .commit import CommitError, Manifest, commit, read_manifest
from .folder import (
    CONFIG_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    RUN_FILES,
    STATE_FILE,
    RunError,
    check_complete,
    model_of,
    parse_file,
    present,
    read_file,
)
from .schema import check_config, check_history, check_metrics

__all__ = ["migrate"]


def migrate(run_dir: str | os.PathLike[str]) -> Manifest | None:
    """Check the files of a folder without a manifest and commit them as they are.

    Returns:
      The new manifest, or ``None`` when the folder already has one (nothing is done).

    Raises:
      RunError: the folder is missing, locked, not a run's, or a file fails its checks
        (the message names it); nothing is written then.
    """
    folder = Path(run_dir)
    if not folder.is_dir():
        raise RunError(f"{folder}: no such run folder; check the path")
    with lock.hold(folder):
        try:
            if read_manifest(folder) is not None:
                return None
        except CommitError as e:
            raise RunError(f"{e} (migrate adopts only folders without one)") from None
        names = present(folder)
        check_complete(folder, names)
        files = {name: read_file(folder, None, name) for name in RUN_FILES if name in names}
        epoch = _checked_epoch(folder, files)
        return commit(folder, files, epoch=epoch)


def _checked_epoch(folder: Path, files: dict[str, bytes]) -> int:
    """Check every file; the epoch they hold (the state's, else the history's length).
    A state in an earlier layout is taken out of ``files``."""
    config = parse_file(folder / CONFIG_FILE, files[CONFIG_FILE], check_config)
    model_of(folder, files[MODEL_FILE], config)
    history = []
    if HISTORY_FILE in files:
        history = parse_file(folder / HISTORY_FILE, files[HISTORY_FILE], check_history)
    if METRICS_FILE in files:
        parse_file(folder / METRICS_FILE, files[METRICS_FILE], check_metrics)
    if STATE_FILE not in files:
        return len(history)
    epoch = _checked_state(folder, files[STATE_FILE], config)
    if epoch is None:
        del files[STATE_FILE]
        return len(history)
    if len(history) < epoch:
        raise RunError(
            f"{folder / HISTORY_FILE}: {len(history)} epochs, {STATE_FILE} is at epoch "
            f"{epoch}; the folder mixes files of two runs"
        )
    return epoch


def _checked_state(folder: Path, data: bytes, config: dict[str, Any]) -> int | None:
    """The epoch of the folder's training state, read with the optimizer its settings
    build (for as many examples as config.json records), and checked against the config;
    ``None`` for a state in an earlier version's layout."""
    from .checkpoint import CheckpointError, EarlierStateError, decode_train_state
    from .lifecycle import checked_progress
    from .recipes import build, steps_per_epoch
    from .settings import SettingsError, from_record

    where = folder / CONFIG_FILE
    try:
        settings = from_record(config.get("settings"))
    except SettingsError as e:
        plain = str(e).replace("`", "")
        raise RunError(f"{where}: settings: {plain}; train a new run") from None
    examples = (config.get("data") or {}).get("train_examples")
    if not isinstance(examples, int) or isinstance(examples, bool) or examples < 1:
        raise RunError(
            f"{where}: data.train_examples is {examples!r}, so {STATE_FILE} cannot be "
            "checked; restore the file or train a new run"
        )
    optimizer = build(settings, steps_per_epoch(examples, settings.batch_size)).optimizer
    try:
        state, raw = decode_train_state(data, str(folder / STATE_FILE), optimizer)
    except EarlierStateError:
        return None
    except CheckpointError as e:
        raise RunError(str(e)) from None
    progress = checked_progress(folder / STATE_FILE, raw)
    if list(state.params.sizes) != config["model"]["sizes"]:
        raise RunError(
            f"{folder}: {STATE_FILE} has sizes {list(state.params.sizes)}, {CONFIG_FILE} says "
            f"{config['model']['sizes']}; the folder mixes files of two runs"
        )
    return progress.epoch
