"""A scikit-learn classifier on top of the engine, and searches spread over a Dask cluster.

:class:`MLPClassifier` trains with :func:`mlp_functional.fit` and predicts with
:func:`mlp_functional.predict_proba`; it passes scikit-learn's own estimator checks, so
it goes wherever a scikit-learn classifier goes: pipelines, cross-validation, searches,
pickles. Needs the ``sklearn`` extra; :func:`dask_backend` needs the ``dask`` extra.
See ``docs/estimator.md``.

>>> from sklearn.datasets import load_iris
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> x, y = load_iris(return_X_y=True)
>>> net = MLPClassifier((16,), learning_rate_init=0.03, max_iter=500, random_state=0)
>>> model = make_pipeline(StandardScaler(), net).fit(x, y)
>>> net.n_iter_, round(model.score(x, y), 2)
(151, 0.99)
"""

from __future__ import annotations

#: How to get the optional dependency this package needs.
SKLEARN_HINT = "pip install 'mlp-functional[sklearn]'"

try:
    import sklearn  # noqa: F401
except ImportError:
    raise ImportError(f"mlp_functional.estimator needs scikit-learn: {SKLEARN_HINT}") from None

from .classifier import MLPClassifier  # noqa: E402
from .cluster import dask_backend  # noqa: E402

__all__ = ["SKLEARN_HINT", "MLPClassifier", "dask_backend"]
