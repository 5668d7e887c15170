"""Kills at random moments during `train` and `train --resume`, then recovery with the
command the user would run, asserted bit-identical to a run that was never interrupted.

Every run here is a process of its own (a kill needs one), on the NumPy kernels, so that
the killed runs, their recoveries and the uninterrupted run compute alike and spend their
time training rather than compiling. A kill lands a drawn fraction of the way through the
uninterrupted run's time after its lock was taken. A few moments run in the normal suite,
more under the ``slow`` marker.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from _faults_util import digits, final_files

from mlp_functional.runs.commit import read_manifest

EPOCHS = 6
#: The epochs the folder a resume starts from was trained for.
FIRST_EPOCHS = 3
SETTINGS = ("--hidden", "32", "--batch-size", "10", "--val-size", "100", "--quiet")
#: Fractions of the run's time at which kills land: a few in the normal suite, more in slow.
QUICK_MOMENTS = (0.2, 0.55, 0.9)
SLOW_MOMENTS = tuple(np.random.default_rng(26).uniform(0, 1.1, 8).round(3))


class Runs(NamedTuple):
    """The kill tests' data, the uninterrupted run and the folder a resume starts from."""

    archive: Path
    straight: dict[str, bytes]
    train_seconds: float
    first: Path
    resume_seconds: float


def _env() -> dict[str, str]:
    return {**os.environ, "MLP_FUNCTIONAL_KERNELS": "numpy"}


def _train_args(archive: Path, folder: Path, epochs: int = EPOCHS) -> list[str]:
    return [
        "train",
        "--data",
        str(archive),
        *SETTINGS,
        "--epochs",
        str(epochs),
        "--out",
        str(folder),
    ]


def _resume_args(folder: Path) -> list[str]:
    return ["train", "--resume", str(folder), "--epochs", str(EPOCHS), "--quiet"]


def _start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mlp_functional", "--threads", "1", *args],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _locked_by(process: subprocess.Popen[bytes], folder: Path) -> float:
    """Wait until ``process`` holds ``folder``'s lock (or has ended); the time then."""
    lock = folder / ".lock"
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if lock.read_text().strip() == str(process.pid):
                break
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.005)
    return time.monotonic()


def _complete(args: list[str], folder: Path) -> float:
    """Run to the end; the seconds from taking the lock to exiting."""
    process = _start(args)
    locked = _locked_by(process, folder)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()
    return time.monotonic() - locked


def _kill(args: list[str], folder: Path, delay: float) -> None:
    """Start the command and kill it (SIGKILL) ``delay`` seconds after it took the lock."""
    process = _start(args)
    _locked_by(process, folder)
    time.sleep(delay)
    process.kill()
    _, err = process.communicate(timeout=300)
    assert process.returncode in (0, -9), err.decode()  # finished first, or killed


def _recover(archive: Path, folder: Path) -> None:
    """What the user does after a kill: the same command again if no epoch was committed
    (it starts afresh), else `--resume`."""
    if read_manifest(folder) is None:
        _complete(_train_args(archive, folder), folder)
    else:
        _complete(_resume_args(folder), folder)


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("kills")
    images, labels = digits(1500, seed=2)
    np.savez(root / "digits.npz", x=images, y=labels)
    archive = root / "digits.npz"
    straight = root / "straight"
    train_seconds = _complete(_train_args(archive, straight), straight)
    first = root / "first"
    _complete(_train_args(archive, first, FIRST_EPOCHS), first)
    resumed = root / "resumed"
    shutil.copytree(first, resumed)
    resume_seconds = _complete(_resume_args(resumed), resumed)
    assert final_files(resumed) == final_files(straight)  # the law the kills must keep
    return Runs(archive, final_files(straight), train_seconds, first, resume_seconds)


def _killed_train_recovers(runs: Runs, folder: Path, moment: float) -> None:
    _kill(_train_args(runs.archive, folder), folder, moment * runs.train_seconds)
    _recover(runs.archive, folder)
    assert final_files(folder) == runs.straight, f"killed at {moment:.0%} of train"


def _killed_resume_recovers(runs: Runs, folder: Path, moment: float) -> None:
    shutil.copytree(runs.first, folder)
    _kill(_resume_args(folder), folder, moment * runs.resume_seconds)
    _recover(runs.archive, folder)
    assert final_files(folder) == runs.straight, f"killed at {moment:.0%} of the resume"


@pytest.mark.parametrize("moment", QUICK_MOMENTS[:2])
def test_a_train_killed_at_a_random_moment_recovers_bit_identically(
    runs: Runs, tmp_path: Path, moment: float
) -> None:
    _killed_train_recovers(runs, tmp_path / "run", moment)


@pytest.mark.parametrize("moment", QUICK_MOMENTS[1:])
def test_a_resume_killed_at_a_random_moment_recovers_bit_identically(
    runs: Runs, tmp_path: Path, moment: float
) -> None:
    _killed_resume_recovers(runs, tmp_path / "run", moment)


@pytest.mark.slow
@pytest.mark.parametrize("moment", SLOW_MOMENTS)
@pytest.mark.parametrize("command", ["train", "resume"])
def test_kills_at_many_moments_recover_bit_identically(
    runs: Runs, tmp_path: Path, command: str, moment: float
) -> None:
    if command == "train":
        _killed_train_recovers(runs, tmp_path / "run", moment)
    else:
        _killed_resume_recovers(runs, tmp_path / "run", moment)
