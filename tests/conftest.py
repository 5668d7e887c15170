"""Shared fixtures: where the real MNIST files are, a tiny synthetic dataset, and the
system Chromium for the pages' browser tests; Hypothesis without deadlines."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# Timings are shown by benchmarks, never asserted: Hypothesis's default 200 ms deadline
# failed a property test whose first example ran beside a training run on a shared core.
settings.register_profile("untimed", deadline=None)
settings.load_profile("untimed")

REPO_ROOT = Path(__file__).resolve().parent.parent
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The folder of the real MNIST files: ``$MLP_FUNCTIONAL_DATA/mnist``.

    A relative ``MLP_FUNCTIONAL_DATA`` is taken from the repository root; unset, it is
    ``../shared/data``. Missing files skip the test locally but fail it in CI (CI=true).
    """
    root = Path(os.environ.get("MLP_FUNCTIONAL_DATA") or "../shared/data")
    folder = (root if root.is_absolute() else REPO_ROOT / root).resolve() / "mnist"
    missing = [n for n in MNIST_FILES if not (folder / n).is_file()]
    if missing:
        message = (
            f"real MNIST missing in {folder} ({', '.join(missing)}); "
            "set MLP_FUNCTIONAL_DATA to the folder that holds mnist/"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return folder


@pytest.fixture
def data_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the dataset cache at a fresh temporary folder and unset MLP_FUNCTIONAL_DATA."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("MLP_FUNCTIONAL_CACHE", str(cache))
    monkeypatch.delenv("MLP_FUNCTIONAL_DATA", raising=False)
    return cache


def _sha256(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha256(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).hexdigest()


@pytest.fixture
def make_tiny() -> Callable[..., tuple]:
    """Write a tiny synthetic dataset (MNIST file names, 28x28 images) into a folder.

    Returns ``make(folder, seed=0) -> (spec, arrays)``: the ``DatasetSpec`` named "tiny"
    with these files' hashes and no mirrors, and the four arrays in registry order.
    """
    from mlp_functional.data import DatasetSpec, Files, FileSpec, write_idx

    def make(folder: Path, seed: int = 0) -> tuple:
        rng = np.random.default_rng(seed)
        arrays = [
            rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
            rng.integers(0, 3, 5, dtype=np.uint8),
            rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
            rng.integers(0, 3, 3, dtype=np.uint8),
        ]
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in zip(MNIST_FILES, arrays, strict=True):
            write_idx(folder / name, array)
        files = Files(*(FileSpec(n, _sha256(folder / n)) for n in MNIST_FILES))
        return DatasetSpec("tiny", files, mirrors=(), classes=("a", "b", "c")), arrays

    return make


@pytest.fixture
def env(mnist_dir: Path, tmp_path: Path) -> dict[str, str]:
    """The environment for running the command: real MNIST, an empty private cache."""
    from _cli_util import env_for

    return env_for(mnist_dir, tmp_path / "cache")


@pytest.fixture
def run_dir(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder trained once per test session (1 epoch, 32 hidden units)."""
    from _cli_util import trained_run

    return trained_run(tmp_path_factory.getbasetemp(), mnist_dir)


# The system Chromium driven by Playwright, for the pages' tests (never a downloaded browser).
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    """The system Chromium, or skip (locally) / fail (CI=true) saying how to get it."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "playwright is missing: pip install 'mlp-functional[browser]'"
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if problem is None and path is None:
        problem = "no Chromium found: apt-get install chromium (never `playwright install`)"
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    assert path is not None
    return path


@pytest.fixture(scope="module")
def browser():
    path = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()
