"""MLPClassifier against scikit-learn's MLPClassifier: 5-fold accuracy and fit time.

Both run with the same settings (hidden sizes, Adam, learning rate, batch size, epochs;
no L2 penalty, no early stopping, and ``n_iter_no_change`` equal to the epochs so that
both train exactly that many), each behind a ``StandardScaler``, on the same stratified,
shuffled 5-fold splits, with the same float32 inputs (scikit-learn keeps float32 too).
Repeat ``r`` seeds both with ``random_state=r``; the two alternate, repeat after repeat.
The table gives the accuracy averaged over folds and repeats, and the median over the
repeats of the mean fit time of a fold.

Usage (MNIST from ``$MLP_FUNCTIONAL_DATA`` or the cache; without it, MNIST is left out)::

    python benchmarks/vs_sklearn.py [--repeats 5] [--threads 1] [--only NAME]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from sklearn import datasets
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlp_functional.cli.bench import blas_info, cpu_model
from mlp_functional.estimator import MLPClassifier

#: MNIST training images used (the first ones of the training set).
MNIST_SUBSET = 10_000


class Task(NamedTuple):
    name: str
    load: Callable[[], tuple[np.ndarray, np.ndarray]]
    hidden: tuple[int, ...]
    batch_size: int
    epochs: int
    learning_rate: float = 1e-3


def _sklearn_set(loader: Callable[..., Any]) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    def load() -> tuple[np.ndarray, np.ndarray]:
        x, y = loader(return_X_y=True)
        return x.astype(np.float32), y

    return load


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    from mlp_functional.data import load

    train = load("mnist").train
    x = np.asarray(train.images[:MNIST_SUBSET]).reshape(MNIST_SUBSET, -1)
    return (x / np.float32(255)).astype(np.float32), np.asarray(train.labels[:MNIST_SUBSET])


TASKS = (
    Task("digits", _sklearn_set(datasets.load_digits), (100,), 64, 100),
    Task("breast-cancer", _sklearn_set(datasets.load_breast_cancer), (100,), 64, 100),
    Task("wine", _sklearn_set(datasets.load_wine), (100,), 64, 100),
    Task(f"MNIST {MNIST_SUBSET:,}", _mnist, (256, 128), 128, 20),
)


def peers(task: Task, seed: int) -> dict[str, Any]:
    """The two pipelines, with matched settings."""
    shared = dict(
        hidden_layer_sizes=task.hidden,
        solver="adam",
        learning_rate_init=task.learning_rate,
        batch_size=task.batch_size,
        max_iter=task.epochs,
        n_iter_no_change=task.epochs,
        alpha=0.0,
        early_stopping=False,
        random_state=seed,
    )
    return {
        "mlp_functional": make_pipeline(StandardScaler(), MLPClassifier(**shared)),
        "scikit-learn": make_pipeline(StandardScaler(), SklearnMLP(**shared)),
    }


class Result(NamedTuple):
    accuracy: float
    fit_seconds: float  # mean over the folds


def cross_validate(model: Any, x: np.ndarray, y: np.ndarray, folds: list[Any]) -> Result:
    scores, seconds = [], []
    for train, test in folds:
        fold_model = clone(model)
        start = time.perf_counter()
        fold_model.fit(x[train], y[train])
        seconds.append(time.perf_counter() - start)
        assert fold_model[-1].n_iter_ == model[-1].max_iter, "a peer stopped early"
        scores.append(fold_model.score(x[test], y[test]))
    return Result(float(np.mean(scores)), float(np.mean(seconds)))


def compare(task: Task, repeats: int) -> dict[str, Any]:
    x, y = task.load()
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(x, y))
    names = list(peers(task, 0))
    runs: dict[str, list[Result]] = {name: [] for name in names}
    for repeat in range(repeats):
        models = peers(task, seed=repeat)
        for name in names if repeat % 2 == 0 else names[::-1]:
            runs[name].append(cross_validate(models[name], x, y, folds))
    ours, theirs = (runs[name] for name in names)
    ratios = [a.fit_seconds / b.fit_seconds for a, b in zip(ours, theirs, strict=True)]
    return {
        "task": task,
        "shape": x.shape,
        "accuracy": {name: statistics.mean(r.accuracy for r in runs[name]) for name in names},
        "spread": {name: [r.accuracy for r in runs[name]] for name in names},
        "seconds": {name: statistics.median(r.fit_seconds for r in runs[name]) for name in names},
        "ratios": ratios,
    }


def table(rows: list[dict[str, Any]], repeats: int) -> str:
    lines = [
        "| data | examples x features | network, epochs, batch | accuracy ours | accuracy "
        "scikit-learn | fit s ours | fit s scikit-learn | time ratio (median) | ratio per repeat |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        task, (n, d) = row["task"], row["shape"]
        acc, sec = row["accuracy"], row["seconds"]
        net = "-".join(map(str, (d, *task.hidden, "k")))
        lines.append(
            f"| {task.name} | {n} x {d} | {net}, {task.epochs}, {task.batch_size} "
            f"| {acc['mlp_functional']:.2%} | {acc['scikit-learn']:.2%} "
            f"| {sec['mlp_functional']:.3f} | {sec['scikit-learn']:.3f} "
            f"| {statistics.median(row['ratios']):.2f} "
            f"| {' '.join(f'{r:.2f}' for r in row['ratios'])} |"
        )
    lines.append("")
    lines.append(
        "5-fold stratified shuffled CV (split seed 0), StandardScaler in front, Adam lr 1e-3, "
        f"no L2, float32; {repeats} alternating repeats, repeat r with random_state=r for both; "
        "accuracy: mean over folds and repeats; fit time: the mean per fold, median over "
        "repeats; ratio = ours / scikit-learn's."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", help="run only the tasks whose name starts with this")
    parser.add_argument("--threads", type=int, help="BLAS threads for both (threadpoolctl)")
    args = parser.parse_args()
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads, user_api="blas")
    warnings.simplefilter("ignore", ConvergenceWarning)
    import sklearn

    print(f"machine: {cpu_model()}; numpy {np.__version__}; scikit-learn {sklearn.__version__}")
    print(f"BLAS: {blas_info()}")
    rows = []
    for task in TASKS:
        if args.only and not task.name.startswith(args.only):
            continue
        try:
            rows.append(compare(task, args.repeats))
        except Exception as error:  # MNIST missing: say so and go on with the rest
            if not task.name.startswith("MNIST"):
                raise
            print(f"(skipped {task.name}: {error})", file=sys.stderr)
            continue
        spread = {k: " ".join(f"{a:.4f}" for a in v) for k, v in rows[-1]["spread"].items()}
        print(f"done: {task.name}; accuracy per repeat: {spread}", file=sys.stderr, flush=True)
    print()
    print(table(rows, args.repeats))


if __name__ == "__main__":
    main()
