"""The estimator against scikit-learn's MLPClassifier on small tables: accuracy, not time.

Each dataset (wine, breast cancer, iris, digits: bundled with scikit-learn, no download)
is cross-validated 5-fold (stratified, shuffled) in a ``StandardScaler`` pipeline, for
seeds 0, 1 and 2 (the seed shuffles the folds and seeds both models); the table gives
the mean accuracy over the 15 folds. scikit-learn's model runs with its defaults; ours
with its defaults plus the settings given as JSON::

    python benchmarks/small_tables.py
    python benchmarks/small_tables.py --ours '{"learning_rate_init": 0.01}' --skip-sklearn

``--datasets`` picks some of them (``wine,iris``).
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlp_functional.cli.bench import blas_info, cpu_model
from mlp_functional.estimator import MLPClassifier

LOADERS = {
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
    "iris": datasets.load_iris,
    "digits": datasets.load_digits,
}
SEEDS = (0, 1, 2)


def mean_accuracy(make_model, x: np.ndarray, y: np.ndarray) -> float:
    """Mean accuracy over 5 stratified folds for each seed."""
    scores = []
    for seed in SEEDS:
        folds = StratifiedKFold(5, shuffle=True, random_state=seed)
        model = make_pipeline(StandardScaler(), make_model(seed))
        scores.extend(cross_val_score(model, x, y, cv=folds))
    return float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ours", default="{}", help="our estimator's settings, as JSON")
    parser.add_argument("--datasets", default=",".join(LOADERS))
    parser.add_argument("--skip-sklearn", action="store_true")
    args = parser.parse_args()
    ours = json.loads(args.ours)
    print(f"processor: {cpu_model()}; BLAS: {blas_info()}")
    print(f"ours: MLPClassifier(**{ours})")
    print("| dataset | rows | scikit-learn MLPClassifier | mlp_functional | difference |")
    print("|---|---|---|---|---|")
    warnings.simplefilter("ignore", ConvergenceWarning)
    for name in args.datasets.split(","):
        x, y = LOADERS[name](return_X_y=True)
        theirs = (
            float("nan")
            if args.skip_sklearn
            else mean_accuracy(lambda seed: SklearnMLP(random_state=seed), x, y)
        )
        mine = mean_accuracy(lambda seed: MLPClassifier(random_state=seed, **ours), x, y)
        print(
            f"| {name} | {len(x)} | {theirs:.4f} | {mine:.4f} | {mine - theirs:+.4f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
