"""Every bad input gets one line on stderr and the right exit status, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from _cli_util import cli, copy_run, one_line_error

from mlp_functional.cli.errors import message_for
from mlp_functional.cli.main import main

USAGE = [
    ((), "the following arguments are required: COMMAND"),
    (("trian",), "invalid choice: 'trian'"),
    (("train", "--bogus"), "unrecognized arguments: --bogus"),
    (("train", "--lr", "0"), "--lr: must be a finite number > 0, got 0"),
    (("train", "--lr", "-0.1"), "--lr: must be a finite number > 0"),
    (("train", "--lr", "nan"), "--lr: must be a finite number > 0"),
    (("train", "--lr", "fast"), "--lr: expected a number > 0, got 'fast'"),
    (("train", "--batch-size", "0"), "--batch-size: must be an integer >= 1, got 0"),
    (("train", "--batch-size", "1.5"), "--batch-size: expected an integer >= 1"),
    (("train", "--epochs", "-2"), "--epochs: must be an integer in [1, 1,000,000], got -2"),
    (("train", "--hidden", "256,x"), "--hidden: expected comma-separated positive widths"),
    (("train", "--hidden", "256,,128"), "--hidden: expected comma-separated positive widths"),
    (("train", "--hidden", "0"), "--hidden: expected comma-separated positive widths"),
    (("train", "--val-size", "-1"), "--val-size: must be an integer >= 0"),
    (("train", "--optimizer", "rmsprop"), "--optimizer: invalid choice: 'rmsprop'"),
    (("train", "--dataset", "cifar"), "--dataset: invalid choice: 'cifar'"),
    (("train", "--patience", "2", "--val-size", "0"), "--patience needs a validation split"),
    (("train", "--recipe", "fastest"), "--recipe: invalid choice: 'fastest'"),
    (("train", "--dropout", "1"), "--dropout: must be a number in [0, 1), got 1"),
    (("train", "--input-dropout", "1"), "--input-dropout: must be a number in [0, 1), got 1"),
    (("train", "--input-dropout", "-0.2"), "--input-dropout: must be a number in [0, 1)"),
    (("train", "--label-smoothing", "x"), "--label-smoothing: expected a number in [0, 1)"),
    (("train", "--schedule", "exp"), "--schedule: invalid choice: 'exp'"),
    (("train", "--augment", "blur"), "--augment: invalid choice: 'blur'"),
    (("train", "--weight-decay", "-1"), "--weight-decay: must be a finite number >= 0"),
    (("train", "--max-norm", "0"), "--max-norm: must be a finite number > 0, got 0"),
    (("train", "--max-norm", "inf"), "--max-norm: must be a finite number > 0, got inf"),
    (("predict", "runs/x"), "the following arguments are required: FILE"),
    (("evaluate", "--top", "0", "r"), "--top: must be a positive integer"),
]


@pytest.mark.parametrize(("args", "message"), USAGE, ids=[" ".join(a) or "none" for a, _ in USAGE])
def test_usage_errors_exit_2_with_one_line(
    tmp_path: Path, env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    line = one_line_error(cli(*args, cwd=tmp_path, env=env), code=2)
    assert message in line
    assert not (tmp_path / "runs").exists()


def test_help_of_every_subcommand(tmp_path: Path, env: dict[str, str]) -> None:
    for command in ("train", "evaluate", "predict", "fetch", "report"):
        result = cli(command, "--help", cwd=tmp_path, env=env)
        assert result.returncode == 0 and f"usage: mlp-functional {command}" in result.stdout
    result = cli("--version", cwd=tmp_path, env=env)
    assert result.returncode == 0 and result.stdout.startswith("mlp-functional 0.")


@pytest.mark.parametrize("command", ["evaluate", "report", "predict"])
def test_missing_run_folder(tmp_path: Path, env: dict[str, str], command: str) -> None:
    extra = ["x.npy"] if command == "predict" else []
    line = one_line_error(cli(command, "nope", *extra, cwd=tmp_path, env=env))
    assert "nope: no such run folder" in line


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "config.json").unlink(), "config.json is missing, though manifest.json"),
        (
            lambda f: (f / "config.json").write_text("{oops"),
            "config.json does not match manifest.json",
        ),
        (lambda f: (f / "model.safetensors").unlink(), "model.safetensors is missing"),
        (
            lambda f: (f / "model.safetensors").write_bytes(
                (f / "model.safetensors").read_bytes()[:1000]
            ),
            "model.safetensors does not match manifest.json",
        ),
    ],
)
def test_corrupt_run_folder(
    run_dir: Path, tmp_path: Path, env: dict[str, str], damage, message: str
) -> None:
    folder = copy_run(run_dir, tmp_path / "r")
    damage(folder)
    for command in ("evaluate", "report"):
        assert message in one_line_error(cli(command, str(folder), cwd=tmp_path, env=env))
    assert not (folder / "report").exists()


def test_a_file_where_the_out_folder_should_be(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "taken").write_text("x")
    line = one_line_error(cli("train", "--out", "taken", cwd=tmp_path, env=env))
    assert "is a file, not a folder" in line


def test_missing_data_offline_is_one_line_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlp_functional.data import DatasetNotFoundError

    def offline(*args, **kwargs):
        raise DatasetNotFoundError("could not download: no network")

    monkeypatch.setattr("mlp_functional.data.datasets.download_file", offline)
    monkeypatch.setenv("MLP_FUNCTIONAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MLP_FUNCTIONAL_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--out", "run"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mlp-functional: error: mnist not found")
    assert "mlp-functional fetch" in err[0]
    assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()


def test_a_failed_run_without_out_leaves_no_runs_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--data", "missing.csv"]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_failed_run_keeps_a_runs_folder_that_was_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    assert main(["train", "--data", "missing.csv"]) == 1
    capsys.readouterr()
    assert [p.name for p in tmp_path.iterdir()] == ["runs"]
    assert list((tmp_path / "runs").iterdir()) == []


def test_missing_extra_names_the_pip_install() -> None:
    missing = ModuleNotFoundError("No module named 'PIL'", name="PIL")
    assert message_for(missing) == (
        "PIL is not installed; install the optional extra: pip install 'mlp-functional[images]'"
    )
    assert message_for(ModuleNotFoundError("No module named 'yaml'", name="yaml")) is None


def test_bugs_keep_their_traceback() -> None:
    from mlp_functional.cli.errors import fail

    with pytest.raises(KeyError):
        fail(KeyError("a bug"))
