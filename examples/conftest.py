"""Run the walkthrough's doctest against the real MNIST, with one BLAS thread.

The data folder is ``$MLP_FUNCTIONAL_DATA`` (a relative path is taken from the repository
root), ``../shared/data`` when unset, as for the tests. Without MNIST there the walkthrough
is skipped locally and fails in CI (``CI=true``), rather than downloading it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _mnist_root() -> Path:
    root = Path(os.environ.get("MLP_FUNCTIONAL_DATA") or "../shared/data")
    return (root if root.is_absolute() else REPO_ROOT / root).resolve()


@pytest.fixture(autouse=True)
def _walkthrough_env(request: pytest.FixtureRequest) -> Iterator[None]:
    """For documents that load MNIST: point the loader at it, or skip; limit BLAS threads."""
    if request.node.path.suffix != ".md":
        yield
        return
    from mlp_functional.data import get_spec

    root = _mnist_root()
    folder = root / "mnist"
    if not all(any((folder / n).is_file() for n in f.names) for f in get_spec("mnist").files):
        message = f"real MNIST missing in {folder}; set MLP_FUNCTIONAL_DATA"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    import numpy  # noqa: F401  (loads OpenBLAS, so that the limit below reaches it)
    from threadpoolctl import threadpool_limits

    with pytest.MonkeyPatch.context() as mp, threadpool_limits(limits=1, user_api="blas"):
        mp.setenv("MLP_FUNCTIONAL_DATA", str(root))
        # On a busy machine OpenBLAS's own threads can stall these small products for
        # seconds; one thread keeps the walkthrough's run time steady.
        yield
