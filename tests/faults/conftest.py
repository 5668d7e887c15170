"""The fault suite's fixtures: a small data set of its own, one tiny run trained once per
session through the command itself, and its files after an intact resume."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _faults_util import Data, digits, final_files, resume, train


@pytest.fixture(scope="session")
def fault_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Data]:
    """The training archive (300 images) and three images to predict, in a private cache."""
    folder = tmp_path_factory.mktemp("fault-data")
    images, labels = digits(300, seed=0)
    np.savez(folder / "digits.npz", x=images, y=labels)
    np.save(folder / "inputs.npy", digits(3, seed=1)[0])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLP_FUNCTIONAL_CACHE", str(folder / "cache"))
        yield Data(folder / "digits.npz", folder / "inputs.npy")


@pytest.fixture(scope="session")
def trained(fault_data: Data, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The suite's run, trained once: 2 epochs on the suite's archive, finished."""
    folder = tmp_path_factory.mktemp("fault-run") / "run"
    done = train(fault_data, folder)
    assert done.status == 0, done.err
    (folder / ".lock").unlink(missing_ok=True)
    return folder


@pytest.fixture(scope="session")
def resumed(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The final files of the intact run resumed to ``RESUMED_EPOCHS`` epochs."""
    folder = tmp_path_factory.mktemp("fault-resumed") / "run"
    shutil.copytree(trained, folder)
    done = resume(folder)
    assert done.status == 0, done.err
    return final_files(folder)
