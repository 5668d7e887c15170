"""The run lifecycle as a library, and the messages the command gives for its failures:
memory, data folders, full disks, broken pipes, SIGTERM, re-planned schedules."""

from __future__ import annotations

import errno
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _runs_util import TOY_SETTINGS, toy_dataset

from mlp_functional.runs import RunError, lifecycle, load_run, resources
from mlp_functional.runs.commit import read_manifest
from mlp_functional.runs.settings import SPECS, Settings, SettingsError, check, from_record


def test_events_report_every_epoch_and_a_stop_request_ends_at_a_committed_epoch(
    tmp_path: Path,
) -> None:
    seen: list[int] = []
    examples: list[int] = []
    events = lifecycle.Events(
        examples=examples.append,
        epoch=lambda run, log: seen.append(run.progress.epoch),
        stop=lambda: len(seen) >= 2,
    )
    settings = TOY_SETTINGS._replace(epochs=5)
    with lifecycle.start(settings, tmp_path / "r", events=events, dataset=toy_dataset()) as run:
        run, outcome = lifecycle.train(run)
    assert (outcome, seen, run.progress.epoch) == ("stopped", [1, 2], 2)
    assert sum(examples) == 2 * 160
    assert read_manifest(tmp_path / "r").epoch == 2


def test_a_stop_before_the_first_commit_leaves_nothing(tmp_path: Path) -> None:
    events = lifecycle.Events(stop=lambda: True)
    with lifecycle.start(TOY_SETTINGS, tmp_path / "r", events=events, dataset=toy_dataset()) as run:
        _, outcome = lifecycle.train(run)
    assert outcome == "stopped" and not (tmp_path / "r").exists()


def test_epochs_is_the_total_and_extending_a_decaying_schedule_says_so(tmp_path: Path) -> None:
    notes: list[str] = []
    settings = TOY_SETTINGS._replace(schedule="cosine")
    with lifecycle.start(settings, tmp_path / "r", dataset=toy_dataset()) as run:
        lifecycle.train(run)
    events = lifecycle.Events(note=notes.append)
    with lifecycle.resume(tmp_path / "r", epochs=3, events=events, dataset=toy_dataset()) as run:
        run, _ = lifecycle.train(run)
    assert run.progress.epoch == 3 and len(load_run(tmp_path / "r").history) == 3
    (note,) = notes
    assert "cosine schedule now spans 3 epochs instead of 2" in note and "\n" not in note


def test_sizes_are_checked_before_allocating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resources, "_memory_available", lambda: 8 * 2**30)
    for changes in ({"batch_size": 10_000_000}, {"hidden": (100_000, 100_000)}):
        refused = pytest.raises(RunError, match=r"needs about [\d.]+ GiB of memory, 8\.0 GiB is")
        settings = TOY_SETTINGS._replace(**changes)
        with refused, lifecycle.start(settings, tmp_path / "r", dataset=toy_dataset()):
            pass
        assert not (tmp_path / "r").exists()


def test_a_full_disk_names_the_file_what_is_saved_and_how_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlp_functional.runs import commit as commit_module

    real = commit_module._write_file
    calls = []

    def fill_up(path: Path, data: bytes, shown: Path | None = None) -> None:
        calls.append(path)
        if len(calls) > 5:  # epoch 1 (4 files, manifest) fits; epoch 2 does not
            e = OSError(errno.ENOSPC, "No space left on device")
            e.filename = str(shown or path)
            raise e
        real(path, data, shown)

    monkeypatch.setattr(commit_module, "_write_file", fill_up)
    folder = tmp_path / "r"
    refused = pytest.raises(RunError)
    with refused as info, lifecycle.start(TOY_SETTINGS, folder, dataset=toy_dataset()) as run:
        lifecycle.train(run)
    message = str(info.value)
    assert message.startswith(f"{folder / 'model.safetensors'}: No space left on device")
    assert "keeps epoch 1" in message and f"--resume {folder}" in message
    monkeypatch.setattr(commit_module, "_write_file", real)
    with lifecycle.resume(folder, dataset=toy_dataset()) as run:
        run, outcome = lifecycle.train(run)
    assert (outcome, run.progress.epoch) == ("finished", 2)


def test_data_dir_must_exist_and_hold_every_file(tmp_path: Path, make_tiny) -> None:
    with pytest.raises(RunError, match="no such folder"):
        resources.load_data(Settings(data_dir=str(tmp_path / "nope")))
    (tmp_path / "some").mkdir()
    (tmp_path / "some" / "train-images-idx3-ubyte.gz").write_bytes(b"x")
    with pytest.raises(RunError, match=r"missing train-labels-idx1-ubyte\.gz, t10k-images"):
        resources.load_data(Settings(data_dir=str(tmp_path / "some")))


def test_settings_records_are_checked_field_by_field() -> None:
    record = Settings()._asdict()
    with pytest.raises(SettingsError, match="`warmup_epochs` must be a number in"):
        from_record({**record, "warmup_epochs": 1e308})
    with pytest.raises(SettingsError, match="lack recipe"):
        from_record({"lr": 1})
    with pytest.raises(SettingsError, match="`patience` needs a validation split"):
        check(Settings(patience=2, val_size=0))
    assert from_record({k: v for k, v in record.items() if k != "data"}).data is None
    assert set(SPECS) == set(Settings._fields)


# ---- the command -----------------------------------------------------------------------


@pytest.fixture
def env(mnist_dir: Path, tmp_path: Path) -> dict[str, str]:
    from _cli_util import env_for

    return env_for(mnist_dir, tmp_path / "cache")


def test_warmup_epochs_overflow_is_a_usage_error(tmp_path: Path, env: dict[str, str]) -> None:
    from _cli_util import cli, one_line_error

    line = one_line_error(cli("train", "--warmup-epochs", "1e308", cwd=tmp_path, env=env), 2)
    assert "--warmup-epochs: must be a number in [0, 1e+06)" in line


def test_a_missing_data_dir_is_an_error_also_on_resume(
    run_dir: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    from _cli_util import cli, copy_run, one_line_error

    line = one_line_error(cli("train", "--data-dir", "nope", "--out", "r", cwd=tmp_path, env=env))
    assert "--data-dir nope: no such folder" in line and not (tmp_path / "r").exists()
    resumed = copy_run(run_dir, tmp_path / "again")
    args = ("train", "--resume", str(resumed), "--data-dir", "nope", "--epochs", "2")
    assert "--data-dir nope: no such folder" in one_line_error(cli(*args, cwd=tmp_path, env=env))


def test_evaluate_into_a_closed_pipe_exits_quietly(run_dir: Path, tmp_path: Path, env) -> None:
    evaluate = f"{sys.executable} -m mlp_functional evaluate {run_dir}"
    for reader, lines in (("head -1", 1), ("true", 0)):  # `true` has gone before we write
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", f"{evaluate} | {reader}"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.stderr == "" and len(done.stdout.splitlines()) == lines
        assert done.returncode in (0, 141)


def test_sigterm_saves_and_says_how_to_resume(tmp_path: Path, env: dict[str, str]) -> None:
    args = [sys.executable, "-m", "mlp_functional", "train", "--hidden", "16", "--quiet"]
    proc = subprocess.Popen(
        [*args, "--epochs", "50", "--out", "r"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (tmp_path / "r" / "manifest.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM
    (line,) = err.strip().splitlines()
    assert "terminated; r holds epoch" in line and "train --resume r --epochs 50" in line
    assert load_run(tmp_path / "r").history


def test_a_folder_killed_before_its_first_commit_restarts_with_the_same_command(
    tmp_path: Path, env: dict[str, str]
) -> None:
    from _cli_util import QUICK, cli

    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text("{}")  # what an old version's kill left
    (tmp_path / "r" / ".model.safetensors.abc.part").write_bytes(b"half")
    done = cli("train", *QUICK, "--epochs", "1", "--out", "r", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "r").iterdir() if p.name.startswith(".")) == [".lock"]
    shutil.rmtree(tmp_path / "r")


def test_a_folder_from_before_manifests_is_refused_until_migrated_then_resumed_as_before(
    tmp_path: Path,
) -> None:
    from mlp_functional.runs.migrate import migrate

    folder = tmp_path / "old"
    with lifecycle.start(TOY_SETTINGS._replace(epochs=1), folder, dataset=toy_dataset()) as run:
        run, _ = lifecycle.train(run)
    committed = read_manifest(folder)
    (folder / "manifest.json").unlink()  # as the previous version left its folders
    adopt = f"migrate {folder}"
    with pytest.raises(RunError, match=adopt):
        load_run(folder)
    with pytest.raises(RunError, match=adopt), lifecycle.resume(folder, dataset=toy_dataset()):
        pass
    assert migrate(folder) == committed
    assert len(load_run(folder).history) == 1
    with lifecycle.resume(folder, epochs=2, dataset=toy_dataset()) as run:
        run, outcome = lifecycle.train(run)
    assert (outcome, read_manifest(folder).epoch) == ("finished", 2)


def test_warnings_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    import warnings

    from mlp_functional.cli.main import _one_line_warning

    _one_line_warning(UserWarning("cache file damaged:\n  downloading again"), UserWarning, "x", 1)
    err = capsys.readouterr().err
    assert err == "mlp-functional: warning: cache file damaged: downloading again\n"
    assert warnings.showwarning is not _one_line_warning  # only inside a command


def test_out_never_clears_a_finished_run_without_its_state(tmp_path: Path) -> None:
    folder = tmp_path / "done"
    with lifecycle.start(TOY_SETTINGS._replace(epochs=1), folder, dataset=toy_dataset()) as run:
        run, _ = lifecycle.train(run)
        lifecycle.finish(run)
    for name in ("manifest.json", "state.safetensors"):  # as an earlier version, state lost
        (folder / name).unlink()
    before = sorted(p.name for p in folder.iterdir())
    with (
        pytest.raises(RunError, match="not empty"),
        lifecycle.start(TOY_SETTINGS, folder, dataset=toy_dataset()),
    ):
        pass
    assert sorted(p.name for p in folder.iterdir()) == before
