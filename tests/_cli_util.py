"""Helpers for the command-line tests: run the real command in a subprocess, share a run.

The command runs as ``python -m mlp_functional`` with the real MNIST folder in
``MLP_FUNCTIONAL_DATA`` and an empty temporary cache, so nothing is ever downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

#: Flags that make training quick: one small hidden layer, a small validation split.
QUICK = ("--hidden", "32", "--val-size", "1000", "--quiet")

_RUNS: dict[str, Path] = {}


def env_for(mnist_dir: Path, cache: Path) -> dict[str, str]:
    """The environment for the command: MNIST from ``mnist_dir``, an isolated cache."""
    env = dict(os.environ)
    env["MLP_FUNCTIONAL_DATA"] = str(mnist_dir.parent)
    env["MLP_FUNCTIONAL_CACHE"] = str(cache)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: threads only contend
    return env


def cli(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``mlp-functional ARGS`` and capture its output (never raises on failure)."""
    return subprocess.run(
        [sys.executable, "-m", "mlp_functional", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line_error(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """Assert the command failed with ``code`` and exactly one line on stderr; return it."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mlp-functional"), lines[0]
    return lines[0]


def trained_run(root: Path, mnist_dir: Path) -> Path:
    """A run trained once per test process (1 epoch, 32 hidden units); copy it to change it."""
    key = str(mnist_dir)
    if key not in _RUNS:
        folder = root / "trained"
        result = cli(
            "train",
            *QUICK,
            "--epochs",
            "1",
            "--out",
            str(folder),
            cwd=root,
            env=env_for(mnist_dir, root / "cache"),
        )
        assert result.returncode == 0, result.stderr
        _RUNS[key] = folder
    return _RUNS[key]


def copy_run(run: Path, dest: Path) -> Path:
    """A private copy of a run folder."""
    shutil.copytree(run, dest)
    return dest
