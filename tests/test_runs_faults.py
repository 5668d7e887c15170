"""Faults against run folders: kills at every write step, two writers, damaged files of
every kind, hostile weights, a FIFO. Each case ends in a committed epoch that resumes
exactly, or in one clear error; never a traceback, a hang or a silent wrong answer."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from _runs_util import TOY_SETTINGS, toy_dataset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlp_functional as mf
from mlp_functional.runs import RunError, lifecycle, load_run
from mlp_functional.runs.checkpoint import CheckpointError, encode_params
from mlp_functional.runs.commit import MANIFEST_FILE, CommitError, commit, read_manifest
from mlp_functional.runs.folder import (
    CONFIG_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    STATE_FILE,
)
from mlp_functional.runs.migrate import migrate
from mlp_functional.runs.settings import SettingsError

TESTS = Path(__file__).resolve().parent
#: Every error a damaged run folder may raise: each prints as one line.
KNOWN = (RunError, CheckpointError, CommitError, SettingsError)


def _train(folder: Path, epochs: int = 2, **changes) -> lifecycle.Session:
    with lifecycle.start(
        TOY_SETTINGS._replace(epochs=epochs, **changes), folder, dataset=toy_dataset()
    ) as run:
        run, _ = lifecycle.train(run)
        run, _ = lifecycle.finish(run)
    return run


def _resume(folder: Path, epochs: int = 2) -> lifecycle.Session:
    with lifecycle.resume(folder, epochs=epochs, dataset=toy_dataset()) as run:
        run, _ = lifecycle.train(run)
        run, _ = lifecycle.finish(run)
    return run


def _bytes(folder: Path) -> dict[str, bytes]:
    """The model, the state and the history but its timings: what must be bit-identical."""
    history = json.loads((folder / HISTORY_FILE).read_text())
    for record in history:
        record.pop("seconds")
    files = {n: (folder / n).read_bytes() for n in (MODEL_FILE, STATE_FILE)}
    return {**files, HISTORY_FILE: repr(history).encode()}


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A toy run trained for 2 epochs without a stop."""
    folder = tmp_path_factory.mktemp("straight") / "run"
    _train(folder)
    return folder


def _recommit(folder: Path, name: str, data: bytes) -> None:
    """Replace a file *and* its manifest entry, as if the run had written it so."""
    manifest = read_manifest(folder)
    assert manifest is not None
    keep = {n: e for n, e in manifest.files.items() if n != name}
    commit(folder, {name: data}, epoch=manifest.epoch, keep=keep)


# ---- kill at every write step ----------------------------------------------------------

_KILLER = """
import os, sys
sys.path.insert(0, {tests!r})
from _runs_util import TOY_SETTINGS, toy_dataset
from mlp_functional.runs import lifecycle
steps = []
def fault(step):
    steps.append(step)
    if len(steps) == {at}:
        os._exit(9)
with lifecycle.start(TOY_SETTINGS, {folder!r}, dataset=toy_dataset(), fault=fault) as run:
    run, _ = lifecycle.train(run)
    run, _ = lifecycle.finish(run)
print(len(steps))
"""


def _kill_at(folder: Path, at: int) -> subprocess.CompletedProcess[str]:
    code = _KILLER.format(tests=str(TESTS), at=at, folder=str(folder))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_a_kill_at_every_write_step_leaves_a_committed_epoch_that_resumes_exactly(
    straight: Path, tmp_path: Path
) -> None:
    total = int(_kill_at(tmp_path / "count", at=-1).stdout.split()[-1])
    assert total == 2 * 9 + 3  # two epochs of 4 files + manifest + 4 renames; metrics
    for at in range(1, total + 1):
        folder = tmp_path / f"k{at}"
        assert _kill_at(folder, at).returncode == 9
        manifest = read_manifest(folder) if folder.exists() else None
        if manifest is None:  # killed before the first commit: the same command restarts
            _train(folder)
        else:
            run = load_run(folder)  # the committed epoch reads back, whatever was half done
            assert len(run.history) == manifest.epoch
            _resume(folder)
        assert _bytes(folder) == _bytes(straight), f"killed at step {at}"
        assert not [p.name for p in folder.iterdir() if p.name.endswith((".part", ".next"))]


# ---- two writers -----------------------------------------------------------------------


def test_a_second_writer_is_refused_naming_the_holder(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    with lifecycle.start(TOY_SETTINGS, folder, dataset=toy_dataset()) as run:
        lifecycle.train(run)
        for second in (
            lambda: lifecycle.start(TOY_SETTINGS, folder, dataset=toy_dataset()),
            lambda: lifecycle.resume(folder, dataset=toy_dataset()),
        ):
            refused = pytest.raises(RunError, match=rf"another process \(PID {os.getpid()}\)")
            with refused, second():
                pass
    assert load_run(folder).metrics is None  # the first run's epochs, untouched


def test_two_train_commands_on_one_out(tmp_path: Path, mnist_dir: Path) -> None:
    from _cli_util import cli, env_for

    env = env_for(mnist_dir, tmp_path / "cache")
    args = [sys.executable, "-m", "mlp_functional", "train", "--hidden", "16", "--quiet"]
    first = subprocess.Popen(
        [*args, "--epochs", "50", "--out", "X"], cwd=tmp_path, env=env, stderr=subprocess.PIPE
    )
    try:
        while not (tmp_path / "X" / ".lock").exists():
            assert first.poll() is None
            time.sleep(0.05)
        second = cli(
            "train", "--hidden", "64", "--epochs", "1", "--out", "X", cwd=tmp_path, env=env
        )
        assert second.returncode == 1
        assert f"another process (PID {first.pid}) is writing this run folder" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    assert first.returncode == 128 + signal.SIGTERM


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    (folder / ".lock").write_text(dead.stdout.decode())
    _train(folder, epochs=1)
    assert load_run(folder).metrics is not None


# ---- damaged and hostile files ---------------------------------------------------------


def test_a_flipped_byte_anywhere_in_the_model_is_refused(straight: Path, tmp_path: Path) -> None:
    size = (straight / MODEL_FILE).stat().st_size
    for offset in (0, 9, size // 3, size // 2, size - 1):
        folder = tmp_path / f"f{offset}"
        shutil.copytree(straight, folder)
        data = bytearray((folder / MODEL_FILE).read_bytes())
        data[offset] ^= 0x40  # e.g. an exponent bit of a float32 weight
        (folder / MODEL_FILE).write_bytes(bytes(data))
        for action in (lambda f: load_run(f), lambda f: _resume(f, epochs=3)):
            with pytest.raises(RunError, match=r"model\.safetensors does not match manifest\.json"):
                action(folder)


def test_huge_finite_weights_are_refused(straight: Path, tmp_path: Path) -> None:
    folder = tmp_path / "huge"
    shutil.copytree(straight, folder)
    params = load_run(folder).params
    _recommit(folder, MODEL_FILE, encode_params(mf.tree_map(lambda a: a * 0 + 3e38, params)))
    with pytest.raises(RunError, match="weights give NaN or infinite outputs"):
        load_run(folder)


def test_a_model_from_another_architecture_is_refused(straight: Path, tmp_path: Path) -> None:
    folder = tmp_path / "other"
    shutil.copytree(straight, folder)
    _recommit(folder, MODEL_FILE, encode_params(mf.init(mf.key(5), [784, 8, 10])))
    for action in (lambda f: load_run(f), lambda f: _resume(f, epochs=2)):
        with pytest.raises(RunError, match="mixes"):
            action(folder)


def test_a_fifo_in_place_of_the_model_does_not_hang(straight: Path, tmp_path: Path) -> None:
    folder = tmp_path / "fifo"
    shutil.copytree(straight, folder)
    (folder / MODEL_FILE).unlink()
    os.mkfifo(folder / MODEL_FILE)
    previous = signal.signal(signal.SIGALRM, lambda *a: pytest.fail("hung on a FIFO"))
    signal.alarm(30)
    try:
        for action in (lambda f: load_run(f), lambda f: _resume(f, epochs=2)):
            with pytest.raises(RunError, match=r"model\.safetensors: not a regular file"):
                action(folder)
        (folder / MANIFEST_FILE).unlink()  # as before manifests: migrate reads it directly
        with pytest.raises(RunError, match="not a regular file"):
            migrate(folder)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_deeply_nested_json_is_an_error_not_a_recursion(straight: Path, tmp_path: Path) -> None:
    for name in (CONFIG_FILE, HISTORY_FILE, METRICS_FILE):
        folder = tmp_path / name
        shutil.copytree(straight, folder)
        _recommit(folder, name, b"[" * 100_000)
        with pytest.raises(RunError, match="nested deeper than"):
            load_run(folder)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _mutations(original: bytes) -> st.SearchStrategy[bytes]:
    as_json = _json.map(lambda v: json.dumps(v).encode())
    flipped = st.tuples(st.integers(0, len(original) - 1), st.integers(1, 255)).map(
        lambda p: original[: p[0]] + bytes([original[p[0]] ^ p[1]]) + original[p[0] + 1 :]
    )
    if original.startswith((b"{", b"[")):
        value = json.loads(original)
        replaced = _json.map(lambda v: _replace_a_field(value, v))
        return as_json | flipped | replaced | st.binary(max_size=64)
    return flipped | st.binary(max_size=64) | as_json


def _replace_a_field(value, new):
    """``value`` with its first field (or first item) replaced by ``new``."""
    if isinstance(value, dict) and value:
        key = next(iter(value))
        return json.dumps({**value, key: new}).encode()
    if isinstance(value, list) and value:
        return json.dumps([new, *value[1:]]).encode()
    return json.dumps(new).encode()


@pytest.mark.parametrize(
    "name", [CONFIG_FILE, HISTORY_FILE, METRICS_FILE, STATE_FILE, MODEL_FILE, MANIFEST_FILE]
)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_fuzzed_run_files_give_one_clear_error_or_a_valid_run(
    straight: Path, tmp_path: Path, name: str, data: st.DataObject
) -> None:
    """Each file replaced by random bytes, random JSON or a damaged field, with the
    manifest vouching for it (so the reader's own checks are what is tested)."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path)) / "run"
    shutil.copytree(straight, folder)
    original = (folder / name).read_bytes()
    mutated = data.draw(_mutations(original))
    if name == MANIFEST_FILE:
        (folder / name).write_bytes(mutated)
    else:
        _recommit(folder, name, mutated)
    for action in (lambda f: load_run(f), lambda f: _resume(f, epochs=3)):
        try:
            action(folder)
        except KNOWN as e:
            assert "\n" not in str(e) and str(e)
    shutil.rmtree(folder)
