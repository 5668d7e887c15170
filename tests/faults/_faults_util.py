"""Helpers of the fault suite: commands run in-process, the suite's own data, comparisons.

Commands are called in-process (``main(argv)``), their output captured, so that hundreds
of damaged folders cost a few seconds; only the kill tests start processes.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mlp_functional.cli.main import main

#: The run's training settings: 2 epochs of 5 batches, a 16-unit hidden layer.
TRAIN = ("--hidden", "16", "--epochs", "2", "--batch-size", "50", "--val-size", "50", "--quiet")
#: The epochs a resume trains to.
RESUMED_EPOCHS = 3


class Outcome(NamedTuple):
    """What a command did: its exit status and its output."""

    status: int
    out: str
    err: str


def run_main(*argv: str) -> Outcome:
    """``mlp-functional ARGV`` in this process, with its stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["--threads", "1", *argv])
    return Outcome(status, out.getvalue(), err.getvalue())


def digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 28x28 uint8 images of noise with a bright bar whose place is the class."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    images = rng.integers(0, 120, (n, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
        images[i, 2 * label : 2 * label + 8, 4:24] = 255
    return images, labels


class Data(NamedTuple):
    """The suite's own files: the training archive and a few images to predict."""

    archive: Path
    inputs: Path


def train(data: Data, folder: Path, *extra: str) -> Outcome:
    return run_main("train", "--data", str(data.archive), *TRAIN, *extra, "--out", str(folder))


def resume(folder: Path, epochs: int = RESUMED_EPOCHS) -> Outcome:
    return run_main("train", "--resume", str(folder), "--epochs", str(epochs), "--quiet")


def final_files(folder: Path, ignored: tuple[str, ...] = ()) -> dict[str, bytes]:
    """What must be bit-identical after a resume: model, state, history but its timings
    (and the ``ignored`` fields of its records)."""
    history = json.loads((folder / "history.json").read_text())
    for record in history:
        for key in ("seconds", *ignored):
            record.pop(key, None)
    files = {n: (folder / n).read_bytes() for n in ("model.safetensors", "state.safetensors")}
    return {**files, "history.json": repr(history).encode()}


def copy(trained: Path, dest: Path) -> Path:
    shutil.copytree(trained, dest)
    return dest


def one_error_line(outcome: Outcome) -> str:
    """Assert a failure in one line, ``mlp-functional: error: ...``, exit 1; return it."""
    assert outcome.status == 1, outcome
    lines = outcome.err.strip().splitlines()
    assert len(lines) == 1, outcome.err
    assert lines[0].startswith("mlp-functional: error: "), lines[0]
    return lines[0]
