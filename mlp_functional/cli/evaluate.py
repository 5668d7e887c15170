"""``mlp-functional evaluate RUN_DIR [RUN_DIR ...]``: accuracy, per-class scores, confusion,
mistakes; of one model, or of a committee of several (the mean of their class probabilities).

>>> print(format_table(["a", "bb"], [[1, 2.5], [10, 0.25]]))
 a    bb
 1  2.50
10  0.25
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from ..data.registry import DATASETS
from .argtypes import positive_int

__all__ = ["add_parser", "format_table", "run", "run_dataset"]

HELP = "measure a trained model on the test set: accuracy, per-class scores, mistakes"


def add_parser(sub: Any) -> None:
    """Register ``evaluate`` with the subcommand parsers."""
    p = sub.add_parser("evaluate", help=HELP, description=HELP + ".")
    p.add_argument(
        "run_dirs",
        nargs="+",
        metavar="RUN_DIR",
        help="a folder written by `train`; several: evaluate their committee, the mean of "
        "their class probabilities (the first run's dataset and class names are used)",
    )
    p.add_argument(
        "--dataset",
        choices=tuple(DATASETS),
        help="test set to use (default: the run's own)",
    )
    p.add_argument("--data-dir", metavar="DIR", help="folder holding the dataset's four files")
    p.add_argument(
        "--top", type=positive_int, default=10, metavar="K", help="mistakes to list (default 10)"
    )
    p.set_defaults(run=run)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Right-aligned columns, floats with two decimals; one string, no trailing newline."""
    cells = [list(header), *([_cell(v) for v in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells
    )


def run_dataset(
    config: dict[str, Any], dataset: str | None = None, data_dir: str | None = None
) -> Any:
    """The data a run was trained on, read again: its own file or folder when the config
    records one (``data.source``, checked unchanged, and scaled as recorded), else the
    built-in dataset by name.

    Args:
      config: the run's ``config.json``.
      dataset: a built-in dataset's name to use instead (``--dataset``).
      data_dir: the folder holding a built-in dataset's files (``--data-dir``).
    """
    from ..data import load, load_recorded
    from ..runs.resources import apply_recorded_scaling

    data = config.get("data") or {}
    if dataset is None and data.get("source"):
        return apply_recorded_scaling(load_recorded(data["source"]), config, "config.json")
    name = dataset or data.get("name") or "mnist"
    return load(name, data_dir=data_dir or (config.get("settings") or {}).get("data_dir"))


def _share(correct: int, total: int) -> str:
    """``'97.50% (39/40)'``."""
    return f"{100 * correct / max(total, 1):.2f}% ({correct}/{total})"


def run(args: argparse.Namespace) -> int:
    """Print the test accuracy, per-class scores, the confusion matrix and top mistakes."""
    from ..engine.table import committee_proba, predict
    from ..inputs import class_names
    from ..metrics import confident_mistakes, confusion_matrix, per_class, percent
    from ..runs import load_run

    runs = [load_run(folder) for folder in args.run_dirs]
    run_ = runs[0]
    dataset = run_dataset(run_.config, args.dataset, args.data_dir)
    name = dataset.name
    test = dataset.test
    classes = run_.params.sizes[-1]
    names = class_names({"data": {"classes": list(dataset.classes)}}, classes)
    probs = committee_proba([r.params for r in runs], test.images)
    predicted = probs.argmax(axis=1)
    cm = confusion_matrix(test.labels, predicted, classes)
    scores = per_class(cm)
    correct = int(cm.trace())
    for folder, member in zip(args.run_dirs, runs, strict=True):
        sizes = "-".join(str(n) for n in member.params.sizes)
        print(f"{folder}: {sizes} {member.params.activation.name}, evaluated on {name} test")
        if len(runs) > 1:
            alone = int((predict(member.params, test.images) == test.labels).sum())
            print(f"  alone: {_share(alone, len(predicted))}")
    if len(runs) > 1:
        print(f"Committee of {len(runs)} (the mean of their class probabilities)")
    print(f"Test accuracy: {_share(correct, len(predicted))}")
    print()
    rows = [
        [
            names[c],
            100 * scores.precision[c],
            100 * scores.recall[c],
            100 * scores.f1[c],
            int(scores.support[c]),
        ]
        for c in range(classes)
    ]
    print(format_table(["class", "precision %", "recall %", "F1 %", "support"], rows))
    print()
    print("Confusion matrix (rows: true label, columns: predicted label)")
    header = ["true\\pred", *names]
    print(format_table(header, [[names[c], *cm[c].tolist()] for c in range(classes)]))
    mistakes = confident_mistakes(probs, test.labels, args.top)
    print()
    print(f"Most confident mistakes ({len(mistakes)} of {len(predicted) - correct})")
    print(
        format_table(
            ["test index", "true", "predicted", "confidence"],
            [
                [
                    int(i),
                    names[int(test.labels[i])],
                    names[int(predicted[i])],
                    percent(float(probs[i, predicted[i]])),
                ]
                for i in mistakes
            ],
        )
    )
    return 0
