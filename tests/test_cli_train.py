"""`mlp-functional train` on real MNIST, in subprocesses: run files, exact resume, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _cli_util import QUICK, cli, copy_run, one_line_error

from mlp_functional import ravel
from mlp_functional.cli.train import build_parser_for_tests, resolve
from mlp_functional.runs import load_run
from mlp_functional.runs.checkpoint import load_params, load_train_state
from mlp_functional.runs.lifecycle import Progress
from mlp_functional.runs.lifecycle import advance as _advance
from mlp_functional.runs.recipes import build
from mlp_functional.runs.settings import recipe_settings


def build_optimizer(settings, steps_per_epoch):
    return build(settings, steps_per_epoch).optimizer


SUMMARY = re.compile(
    r"^Train accuracy: \d+\.\d\d%  Test accuracy: \d+\.\d\d%  Training time: \d+\.\d s$", re.M
)
# Tiny and fast; with this learning rate the validation loss goes up and down, so
# early stopping has something to do (it stops after epoch 4 with --patience 1).
ERRATIC = ("--hidden", "16", "--optimizer", "sgd", "--lr", "1e4", "--val-size", "1000")


def _same_epochs(a: list[dict], b: list[dict]) -> bool:
    def strip(h: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in h]

    return strip(a) == strip(b)


def test_a_run_folder_holds_everything(run_dir: Path) -> None:
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "model.safetensors", "state.safetensors"} <= names
    assert {"history.json", "metrics.json"} <= names
    assert [n for n in names if n.startswith(".")] == [".lock"]  # no temporary files left
    assert "manifest.json" in names
    config = json.loads((run_dir / "config.json").read_text())
    assert config["settings"]["hidden"] == [32] and config["settings"]["lr"] == 1e-3
    assert config["model"] == {"sizes": [784, 32, 10], "activation": "relu", "dtype": "float32"}
    assert len(config["data"]["sha256"]) == 4 and config["data"]["train_examples"] == 59000
    assert set(config["versions"]) == {"mlp_functional", "numpy", "python"}
    history = json.loads((run_dir / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1]
    assert set(history[0]) == {
        "epoch",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
        "learning_rate",
        "seconds",
    }
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 1 and 0.85 < metrics["test_accuracy"] <= 1
    assert metrics["train_seconds"] == pytest.approx(history[0]["seconds"])
    run = load_run(run_dir)
    assert run.params.sizes == (784, 32, 10) and run.metrics == metrics


def test_model_file_is_plain_safetensors(run_dir: Path) -> None:
    from safetensors.numpy import load_file

    tensors = load_file(str(run_dir / "model.safetensors"))
    assert sorted(tensors) == ["layers.0.b", "layers.0.w", "layers.1.b", "layers.1.w"]
    assert tensors["layers.0.w"].shape == (784, 32)


def test_resume_is_bit_identical_to_an_uninterrupted_run(
    run_dir: Path, env: dict[str, str], tmp_path: Path
) -> None:
    straight = cli(
        "train", *QUICK[:-1], "--epochs", "2", "--out", "straight", cwd=tmp_path, env=env
    )
    assert straight.returncode == 0, straight.stderr
    assert re.search(
        r"^epoch 1/2  loss \d\.\d{4}  val loss \d\.\d{4}  val acc ", straight.stdout, re.M
    )
    assert SUMMARY.search(straight.stdout)
    resumed = copy_run(run_dir, tmp_path / "resumed")
    result = cli("train", "--resume", str(resumed), "--epochs", "2", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "resuming" in result.stdout and "epoch 2/2" in result.stdout
    assert "epoch 1/2" not in result.stdout
    for name in ("model.safetensors", "state.safetensors"):
        assert (tmp_path / "straight" / name).read_bytes() == (resumed / name).read_bytes()
    a, b = load_run(tmp_path / "straight"), load_run(resumed)
    assert _same_epochs(a.history, b.history) and len(b.history) == 2
    assert a.metrics is not None and b.metrics is not None
    assert a.metrics["test_accuracy"] == b.metrics["test_accuracy"]
    assert b.config["settings"]["epochs"] == 2
    back = cli("train", "--resume", str(resumed), "--epochs", "1", cwd=tmp_path, env=env)
    assert "has already trained 2 epochs" in one_line_error(back, code=2)


def test_early_stopping_keeps_the_best_model_and_resumes_exactly(
    env: dict[str, str], tmp_path: Path
) -> None:
    straight = cli(
        "train", *ERRATIC, "--patience", "1", "--epochs", "6", "--out", "a", cwd=tmp_path, env=env
    )
    assert straight.returncode == 0, straight.stderr
    assert "early stop" in straight.stdout
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    history = json.loads((tmp_path / "a" / "history.json").read_text())
    assert metrics["stopped_early"] and metrics["epochs"] == len(history) < 6
    best = min(history, key=lambda r: r["val_loss"])
    assert metrics["best_epoch"] == best["epoch"] < metrics["epochs"]
    # model.safetensors holds the best epoch's weights, the state holds the last ones
    state, progress = load_train_state(
        tmp_path / "a" / "state.safetensors",
        build_optimizer(
            resolve(build_parser_for_tests().parse_args(["--optimizer", "sgd", "--lr", "1e4"])), 1
        ),
    )
    model = load_params(tmp_path / "a" / "model.safetensors")
    assert progress["best_epoch"] == best["epoch"] and progress["stopped_early"]
    assert not np.array_equal(ravel(model), ravel(state.params))

    first = cli(
        "train", *ERRATIC, "--patience", "1", "--epochs", "2", "--out", "b", cwd=tmp_path, env=env
    )
    assert first.returncode == 0, first.stderr
    resumed = cli("train", "--resume", "b", "--epochs", "6", "--quiet", cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr
    for name in ("model.safetensors", "state.safetensors"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # a run that stopped early has nothing left to do
    again = cli("train", "--resume", "b", "--epochs", "9", "--quiet", cwd=tmp_path, env=env)
    assert again.returncode == 0 and SUMMARY.search(again.stdout)
    assert len(json.loads((tmp_path / "b" / "history.json").read_text())) == len(history)


def test_default_folder_is_new_under_runs_and_val_size_zero_works(
    env: dict[str, str], tmp_path: Path
) -> None:
    args = ("train", "--hidden", "16", "--epochs", "1", "--val-size", "0", "--batch-size", "512")
    result = cli(*args, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    assert re.fullmatch(r"\d{8}-\d{6}", folder.name)
    assert re.search(r"^epoch 1/1  loss \d\.\d{4}  acc \d+\.\d\d%", result.stdout, re.M)
    history = json.loads((folder / "history.json").read_text())
    assert history[0]["val_loss"] is None  # strict JSON: no NaN
    assert json.loads((folder / "config.json").read_text())["data"]["val_examples"] == 0


def test_ctrl_c_stops_after_a_checkpoint_and_says_how_to_resume(
    env: dict[str, str], tmp_path: Path
) -> None:
    args = [sys.executable, "-m", "mlp_functional", "train", *QUICK, "--epochs", "50"]
    proc = subprocess.Popen(
        [*args, "--out", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    state = tmp_path / "run" / "state.safetensors"
    deadline = time.monotonic() + 120
    while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state.exists(), proc.stderr.read() if proc.stderr else ""
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert re.search(
        r"holds epoch (\d+) of 50; continue with: mlp-functional train --resume run --epochs 50$",
        line,
    )
    epochs = int(re.search(r"holds epoch (\d+)", line).group(1))
    run = load_run(tmp_path / "run")
    assert len(run.history) >= epochs >= 1 and run.metrics is None
    _, progress = load_train_state(
        state, build_optimizer(resolve(build_parser_for_tests().parse_args([])), 1)
    )
    assert progress["epoch"] == epochs
    # finishing at the epoch already reached trains nothing and writes the metrics
    done = cli(
        "train", "--resume", "run", "--epochs", str(epochs), "--quiet", cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["epochs"] == epochs


def test_divergence_before_the_first_checkpoint_leaves_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    args = ("train", "--hidden", "16", "--optimizer", "sgd", "--lr", "1e30", "--out", "boom")
    line = one_line_error(cli(*args, cwd=tmp_path, env=env))
    assert "diverged" in line and "--lr" in line
    assert not (tmp_path / "boom").exists()


def test_empty_out_folder_is_used_and_restored_on_failure(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    args = ("train", "--val-size", "60000", "--out", "empty")
    line = one_line_error(cli(*args, cwd=tmp_path, env=env), code=2)
    assert "--val-size 60000" in line
    assert (tmp_path / "empty").is_dir() and not list((tmp_path / "empty").iterdir())


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--hidden", "3"), "--hidden cannot change when resuming"),
        (("--epochs", "0"), "--epochs: must be an integer in [1, 1,000,000]"),
    ],
)
def test_resume_refuses_other_settings(
    run_dir: Path, env: dict[str, str], tmp_path: Path, flags: tuple[str, ...], message: str
) -> None:
    before = (run_dir / "state.safetensors").read_bytes()
    line = one_line_error(cli("train", "--resume", str(run_dir), *flags, cwd=tmp_path, env=env), 2)
    assert message in line
    assert (run_dir / "state.safetensors").read_bytes() == before


def test_resume_of_a_damaged_state_is_refused(
    run_dir: Path, env: dict[str, str], tmp_path: Path
) -> None:
    resumed = copy_run(run_dir, tmp_path / "r")
    data = (resumed / "state.safetensors").read_bytes()
    (resumed / "state.safetensors").write_bytes(data[: len(data) // 2])
    line = one_line_error(
        cli("train", "--resume", str(resumed), "--epochs", "2", cwd=tmp_path, env=env)
    )
    assert "state.safetensors does not match manifest.json" in line


def test_out_refuses_a_non_empty_folder(run_dir: Path, env: dict[str, str], tmp_path: Path) -> None:
    before = sorted(p.name for p in run_dir.iterdir())
    line = one_line_error(cli("train", "--out", str(run_dir), cwd=tmp_path, env=env))
    assert "not empty" in line and "--resume" in line
    assert sorted(p.name for p in run_dir.iterdir()) == before


def test_advance_tracks_the_best_validation_loss() -> None:
    p = Progress()
    p = _advance(p, 1, 0.5, patience=2)
    assert p == Progress(1, 0.5, 1, 0, False)
    p = _advance(p, 2, 0.6, patience=2)
    assert p == Progress(2, 0.5, 1, 1, False)
    p = _advance(p, 3, 0.5, patience=2)  # equal is not better
    assert p == Progress(3, 0.5, 1, 2, True)
    assert _advance(Progress(), 1, float("nan"), patience=None) == Progress(epoch=1)
    assert not _advance(Progress(1, 0.5, 1, 5, False), 2, 0.7, patience=None).stopped_early


def test_a_recipe_supplies_settings_and_flags_override_them(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = cli(
        "train",
        "--recipe",
        "quick",
        *QUICK,
        "--epochs",
        "1",
        "--dropout",
        "0.1",
        "--input-dropout",
        "0.2",
        "--augment",
        "affine",
        "--label-smoothing",
        "0.05",
        "--out",
        "r",
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    settings = load_run(tmp_path / "r").config["settings"]
    assert settings["recipe"] == "quick"
    quick = recipe_settings("quick")
    assert (settings["schedule"], settings["batch_size"]) == (quick.schedule, quick.batch_size)
    assert settings["hidden"] == [32] and settings["epochs"] == 1
    assert (settings["dropout"], settings["augment"], settings["label_smoothing"]) == (
        0.1,
        "affine",
        0.05,
    )
    assert settings["input_dropout"] == 0.2
    history = load_run(tmp_path / "r").history
    assert history[0]["learning_rate"] == pytest.approx(0.0, abs=1e-6)  # cosine ends at zero


def test_another_optimizer_takes_its_own_default_learning_rate() -> None:
    parse = build_parser_for_tests().parse_args
    assert resolve(parse(["--recipe", "quick", "--optimizer", "sgd"])).lr == 0.1
    assert resolve(parse(["--optimizer", "sgd", "--lr", "0.3"])).lr == 0.3
    assert resolve(parse(["--recipe", "seed"])).lr == 0.1
