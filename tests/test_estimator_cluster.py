"""Searches over MLPClassifier: in local processes, and on a Dask cluster of two workers."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlp_functional.estimator import MLPClassifier, dask_backend

GRID = {
    "mlpclassifier__hidden_layer_sizes": [(16,), (64,)],
    "mlpclassifier__learning_rate_init": [1e-3, 1e-2],
}


def search(**options) -> GridSearchCV:
    """A grid search over sizes and learning rates on the first 600 digits."""
    x, y = load_digits(return_X_y=True)
    model = make_pipeline(StandardScaler(), MLPClassifier(max_iter=15, random_state=0))
    grid = GridSearchCV(model, GRID, cv=3, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return grid.fit(x[:600], y[:600])


@pytest.fixture(scope="module")
def local_search() -> GridSearchCV:
    return search(n_jobs=2)


def test_grid_search_in_two_processes(local_search) -> None:
    assert local_search.best_params_ == {
        "mlpclassifier__hidden_layer_sizes": (64,),
        "mlpclassifier__learning_rate_init": 1e-2,
    }
    assert local_search.best_score_ > 0.8
    serial = search(n_jobs=1)
    np.testing.assert_array_equal(
        serial.cv_results_["mean_test_score"], local_search.cv_results_["mean_test_score"]
    )


def test_grid_search_on_a_dask_cluster_finds_the_same(local_search) -> None:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        dask_backend(cluster.scheduler_address) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        on_cluster = search(n_jobs=-1)
    assert on_cluster.best_params_ == local_search.best_params_
    np.testing.assert_array_equal(
        on_cluster.cv_results_["mean_test_score"], local_search.cv_results_["mean_test_score"]
    )


def run_without(module: str, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter in which ``module`` cannot be imported."""
    hide = f"import sys; sys.modules[{module!r}] = None\n"
    return subprocess.run(
        [sys.executable, "-c", hide + code], capture_output=True, text=True, check=False
    )


def test_without_distributed_the_backend_says_what_to_install() -> None:
    code = (
        "from mlp_functional.estimator import dask_backend\n"
        "try:\n"
        "    with dask_backend('tcp://127.0.0.1:8786'):\n"
        "        pass\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    result = run_without("distributed", code)
    assert result.stdout.strip() == (
        "the Dask backend needs dask.distributed, which is not installed: "
        "pip install 'mlp-functional[dask]'"
    )


def test_without_scikit_learn_the_import_says_what_to_install() -> None:
    result = run_without("sklearn", "import mlp_functional.estimator")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "ImportError: mlp_functional.estimator needs scikit-learn: "
        "pip install 'mlp-functional[sklearn]'"
    )
