"""Fault injection: hypothesis damages one file of a trained run in one way, then runs one
command on it, and only two outcomes are allowed: the intact run's answer, or exit status
1 with one line naming the damaged file (and, after a refused resume, the folder exactly
as it was). Never exit 0 with another answer, never a traceback.

Files: the five run files and manifest.json. Operations: flip bits, truncate, extend,
delete, replace with a symlink to /dev/zero (none of them vouched for by the manifest),
inflate a JSON field (the manifest rewritten to vouch for it, as a hostile or careless
writer would: the size limits are what is tested), and reorder the manifest. Commands:
evaluate, predict, report (its index page; drawing the figures is left to
test_cli_report.py), train --resume, and serve's loading of the run (the model card and
one prediction; no socket is opened).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _faults_util import (
    RESUMED_EPOCHS,
    Data,
    Outcome,
    final_files,
    resume,
    run_main,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlp_functional.runs.commit import MANIFEST_FILE, commit, read_manifest
from mlp_functional.runs.limits import MAX_JSON_BYTES

JSON_FILES = ("config.json", "history.json", "metrics.json", MANIFEST_FILE)
FILES = ("model.safetensors", "state.safetensors", *JSON_FILES)
OPERATIONS = ("flip", "truncate", "extend", "delete", "dev-zero", "inflate", "reorder")
COMMANDS = ("evaluate", "predict", "report", "resume", "serve")
#: Examples drawn per command: each draws a file, an operation and its details.
EXAMPLES = 60
#: The field "inflate" adds to a JSON file: no reader uses it, a resume carries it over.
_NOTE = "note"


# ---- the commands, and what each answers -------------------------------------------------


class _NoServer:
    """Stands in for serve's HTTP server: keeps the app it was given, listens nowhere."""

    apps: list[Any] = []  # noqa: RUF012 - one list for the whole suite, emptied per call
    url = "http://127.0.0.1:0/"

    def __init__(self, app: Any, *args: Any, **kwargs: Any) -> None:
        _NoServer.apps[:] = [app]

    def __enter__(self) -> _NoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def serve_forever(self) -> None:
        return None


def _normal(text: str, folder: Path) -> str:
    return text.replace(str(folder), "RUN")


def _evaluate(folder: Path, data: Data) -> tuple[Outcome, Any]:
    done = run_main("evaluate", str(folder))
    return done, _normal(done.out, folder)


def _predict(folder: Path, data: Data) -> tuple[Outcome, Any]:
    done = run_main("predict", str(folder), str(data.inputs))
    return done, _normal(done.out, folder)


def _report(folder: Path, data: Data) -> tuple[Outcome, Any]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("mlp_functional.cli.report._shown", lambda kind, shape: ((), None))
        done = run_main("report", str(folder))
    page = folder / "report" / "index.html"
    return done, (_normal(done.out, folder), page.read_text() if done.status == 0 else None)


def _resume(folder: Path, data: Data) -> tuple[Outcome, Any]:
    done = resume(folder, RESUMED_EPOCHS)
    return done, final_files(folder, ignored=(_NOTE,)) if done.status == 0 else None


def _serve(folder: Path, data: Data) -> tuple[Outcome, Any]:
    from mlp_functional.serve.api import handle

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("mlp_functional.serve.server.Server", _NoServer)
        done = run_main("serve", str(folder), "--port", "0")
    if done.status != 0:
        return done, None
    (app,) = _NoServer.apps
    digit = np.load(data.inputs)[0].reshape(-1)
    request = json.dumps({"pixels": digit.tolist()}).encode()
    answer = handle(app, "POST", "/api/predict", request)
    return done, (handle(app, "GET", "/api/model").body, answer.status, answer.body)


RUNNERS: dict[str, Callable[[Path, Data], tuple[Outcome, Any]]] = {
    "evaluate": _evaluate,
    "predict": _predict,
    "report": _report,
    "resume": _resume,
    "serve": _serve,
}


@pytest.fixture(scope="session")
def intact_answers(
    trained: Path, fault_data: Data, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Each command's answer on an undamaged copy of the run."""
    answers = {}
    for command, runner in RUNNERS.items():
        folder = tmp_path_factory.mktemp(f"intact-{command}") / "run"
        shutil.copytree(trained, folder)
        done, answer = runner(folder, fault_data)
        assert done.status == 0, done.err
        answers[command] = answer
    return answers


# ---- the damage ---------------------------------------------------------------------------


def _recommit(folder: Path, name: str, data: bytes) -> None:
    """Replace a file *and* its manifest entry, as a writer of the manifest would."""
    manifest = read_manifest(folder)
    assert manifest is not None
    keep = {n: e for n, e in manifest.files.items() if n != name}
    commit(folder, {name: data}, epoch=manifest.epoch, keep=keep)


def _inflated(value: Any, padding: str) -> Any:
    """``value`` with an extra field no reader uses, holding ``padding``: the same run."""
    if isinstance(value, dict):
        return {**value, _NOTE: padding}
    return [{**value[0], _NOTE: padding}, *value[1:]]


def _reordered(manifest: dict[str, Any]) -> dict[str, Any]:
    """The same manifest with its fields and its files in reverse order."""
    files = dict(reversed(list(manifest["files"].items())))
    return dict(reversed(list({**manifest, "files": files}.items())))


@st.composite
def damages(draw: st.DrawFn) -> tuple[str, str, Any]:
    """``(file, operation, detail)``: inflate only JSON files, reorder only the manifest."""
    operation = draw(st.sampled_from(OPERATIONS))
    if operation == "reorder":
        return MANIFEST_FILE, operation, None
    name = draw(st.sampled_from(JSON_FILES if operation == "inflate" else FILES))
    if operation == "flip":
        detail: Any = draw(
            st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 7)), min_size=1)
        )
    elif operation == "truncate":
        detail = draw(st.floats(0, 1, exclude_max=True))
    elif operation == "extend":
        detail = draw(st.binary(min_size=1, max_size=64) | st.just(b"\0" * 4096))
    elif operation == "inflate":  # around the file's limit, or small
        limit = MAX_JSON_BYTES[name]
        detail = draw(st.sampled_from([16, limit // 2, limit + 1]))
    else:
        detail = None
    return name, operation, detail


def _damage(folder: Path, name: str, operation: str, detail: Any) -> None:
    path = folder / name
    if operation == "flip":
        data = bytearray(path.read_bytes())
        for where, bit in detail:
            data[int(where * len(data))] ^= 1 << bit
        path.write_bytes(bytes(data))
    elif operation == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: int(detail * len(data))])
    elif operation == "extend":
        with open(path, "ab") as f:
            f.write(detail)
    elif operation == "delete":
        path.unlink()
    elif operation == "dev-zero":
        path.unlink()
        os.symlink("/dev/zero", path)
    elif operation == "inflate":
        value = _inflated(json.loads(path.read_text()), " " * detail)
        if name == MANIFEST_FILE:
            path.write_text(json.dumps(value))
        else:
            _recommit(folder, name, json.dumps(value).encode())
    elif operation == "reorder":
        path.write_text(json.dumps(_reordered(json.loads(path.read_text())), indent=1))


# ---- the law ------------------------------------------------------------------------------


def _check(
    command: str,
    trained: Path,
    fault_data: Data,
    intact: Any,
    damage: tuple[str, str, Any],
    tmp_path: Path,
) -> None:
    name, operation, detail = damage
    folder = Path(tempfile.mkdtemp(dir=tmp_path)) / "run"
    try:
        shutil.copytree(trained, folder)
        _damage(folder, name, operation, detail)
        manifest = folder / MANIFEST_FILE
        before = manifest.read_bytes() if manifest.is_file() else None
        done, answer = RUNNERS[command](folder, fault_data)
        if done.status == 0 and operation != "reorder":
            assert answer == intact, f"{command} answered differently after {damage}"
            return
        if operation == "reorder":  # the same manifest: the same answer
            assert (done.status, answer) == (0, intact), done.err
            return
        assert done.status == 1, done
        lines = done.err.strip().splitlines()
        assert len(lines) == 1, done.err
        assert lines[0].startswith("mlp-functional: error: "), lines[0]
        assert name in lines[0], f"{damage}: {lines[0]}"
        if command == "resume" and before is not None:
            assert manifest.read_bytes() == before  # a refused resume commits nothing
    finally:
        shutil.rmtree(folder.parent)


@pytest.mark.parametrize("command", COMMANDS)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(damage=damages())
def test_a_damaged_run_gives_the_intact_answer_or_one_line_naming_the_file(
    trained: Path,
    fault_data: Data,
    intact_answers: dict[str, Any],
    tmp_path: Path,
    command: str,
    damage: tuple[str, str, Any],
) -> None:
    _check(command, trained, fault_data, intact_answers[command], damage, tmp_path)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("operation", ["delete", "dev-zero"])
def test_every_file_missing_or_replaced_by_a_device_is_named(
    trained: Path,
    fault_data: Data,
    intact_answers: dict[str, Any],
    tmp_path: Path,
    command: str,
    name: str,
    operation: str,
) -> None:
    """The operations without details, over every file and command (hypothesis may not
    draw each pairing)."""
    damage = (name, operation, None)
    _check(command, trained, fault_data, intact_answers[command], damage, tmp_path)
