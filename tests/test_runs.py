"""The run folder: reading it back, and refusing missing or inconsistent ones."""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path

import pytest

import mlp_functional as mf
from mlp_functional.runs import (
    CONFIG_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    Run,
    RunError,
    jsonable,
    load_run,
    new_run_dir,
    read_json,
    write_json,
)
from mlp_functional.runs.checkpoint import encode_params
from mlp_functional.runs.commit import MANIFEST_FILE, commit, read_manifest
from mlp_functional.runs.folder import json_bytes


def _run(folder: Path, sizes=(784, 8, 10)) -> Path:
    folder.mkdir(exist_ok=True)
    config = {"model": {"sizes": list(sizes)}, "settings": {}}
    model = encode_params(mf.init(mf.key(0), list(sizes)))
    commit(folder, {CONFIG_FILE: json_bytes(config), MODEL_FILE: model}, epoch=0)
    return folder


def _put(folder: Path, name: str, data: bytes | None) -> None:
    """Replace (or, with ``None``, remove) a file *and* its manifest entry, as a writer
    would, so that what is tested is the reader's own check of the file."""
    manifest = read_manifest(folder)
    assert manifest is not None
    keep = {n: e for n, e in manifest.files.items() if n != name}
    if data is None:
        (folder / name).unlink()
    commit(folder, {} if data is None else {name: data}, epoch=manifest.epoch, keep=keep)


def test_load_run_reads_every_file(tmp_path: Path) -> None:
    folder = _run(tmp_path / "r")
    _put(folder, HISTORY_FILE, json_bytes([{"epoch": 1, "val_loss": float("nan")}]))
    _put(folder, METRICS_FILE, json_bytes({"test_accuracy": 0.5}))
    run = load_run(folder)
    assert isinstance(run, Run) and run._fields == ("params", "config", "history", "metrics")
    assert run.params.sizes == (784, 8, 10)
    assert run.history == [{"epoch": 1, "val_loss": None}]
    assert run.metrics == {"test_accuracy": 0.5}


def test_metrics_are_none_until_training_finishes(tmp_path: Path) -> None:
    run = load_run(_run(tmp_path / "r"))
    assert run.metrics is None and run.history == []


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        (lambda f: _put(f, CONFIG_FILE, None), RunError, "manifest.json names no config.json"),
        (lambda f: _put(f, MODEL_FILE, None), RunError, "names no model.safetensors"),
        (
            lambda f: (f / MANIFEST_FILE).unlink() or (f / CONFIG_FILE).unlink(),
            RunError,
            "no config",
        ),
        (
            lambda f: (f / MANIFEST_FILE).unlink() or (f / MODEL_FILE).unlink(),
            RunError,
            "has no model",
        ),
        (lambda f: _put(f, CONFIG_FILE, b"{"), RunError, "not valid JSON"),
        (lambda f: _put(f, CONFIG_FILE, b"[1]"), RunError, "contents must be an object"),
        (lambda f: _put(f, HISTORY_FILE, b'{"a": 1}'), RunError, "contents must be a list"),
        (lambda f: _put(f, MODEL_FILE, b"junk"), RunError, "damaged"),
        (
            lambda f: _put(f, CONFIG_FILE, json_bytes({"model": {"sizes": [784, 9, 10]}})),
            RunError,
            "mixes files of two runs",
        ),
        (lambda f: (f / CONFIG_FILE).write_text("{}"), RunError, "does not match manifest"),
        (lambda f: (f / MODEL_FILE).unlink(), RunError, "model.safetensors is missing"),
        (lambda f: (f / MANIFEST_FILE).unlink(), RunError, "no manifest.json.*migrate"),
    ],
)
def test_damaged_folders_are_refused(tmp_path: Path, damage, error, message: str) -> None:
    folder = _run(tmp_path / "r")
    damage(folder)
    with pytest.raises(error, match=message) as info:
        load_run(folder)
    assert "\n" not in str(info.value)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="no such run folder"):
        load_run(tmp_path / "nope")


def test_json_is_strict_and_atomic(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"x": [1.5, math.inf], "y": None})
    text = (tmp_path / "a.json").read_text()
    assert json.loads(text) == {"x": [1.5, None], "y": None}
    assert "Infinity" not in text and "NaN" not in text
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    assert read_json(tmp_path / "a.json") == {"x": [1.5, None], "y": None}
    with pytest.raises(RunError, match="no such file"):
        read_json(tmp_path / "b.json")


def test_jsonable_keeps_finite_values() -> None:
    value = {"a": [1, 2.5, "s", True, None], "b": {"c": -0.0}}
    assert jsonable(value) == value


def test_new_run_dirs_never_collide(tmp_path: Path) -> None:
    t = datetime.datetime(2030, 1, 2, 3, 4, 5)
    folders = [new_run_dir(tmp_path / "runs", t) for _ in range(3)]
    assert [f.name for f in folders] == [
        "20300102-030405",
        "20300102-030405-2",
        "20300102-030405-3",
    ]
    assert all(f.is_dir() and not list(f.iterdir()) for f in folders)
