"""``mlp-functional report RUN_DIR``: the run's figures as PNGs and an index.html page.

>>> html = index_html("runs/demo", [("Test accuracy", "97.41%")], [("a.png", "A & B")])
>>> "<td>97.41%</td>" in html and 'src="a.png"' in html and "A &amp; B" in html
True
"""

from __future__ import annotations

import argparse
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["FIGURES", "add_parser", "index_html", "run"]

HELP = "draw the run's figures (matplotlib) and write them with an index.html page"

#: The figures a report holds: file name and caption.
FIGURES = (
    ("samples.png", "Sample test images with their labels."),
    ("curves.png", "Loss and accuracy per epoch, on the training and validation sets."),
    ("confusion.png", "Confusion matrix on the test set: rows are true labels."),
    ("mistakes.png", "Misclassified test images: true label, prediction and its confidence."),
    ("weights.png", "The first layer's weights, one 28x28 image per hidden unit."),
)
SAMPLES = 40
MISTAKES = 32
#: The figures that show the data's images, left out for tables of features.
IMAGE_FIGURES = ("samples.png", "mistakes.png", "weights.png")


def add_parser(sub: Any) -> None:
    """Register ``report`` with the subcommand parsers."""
    p = sub.add_parser("report", help=HELP, description=HELP + ".")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by `train`")
    p.add_argument("--out", metavar="DIR", help="where to write (default RUN_DIR/report)")
    p.add_argument("--data-dir", metavar="DIR", help="folder holding the dataset's four files")
    p.set_defaults(run=run)


def index_html(
    title: str, numbers: Sequence[tuple[str, str]], figures: Sequence[tuple[str, str]]
) -> str:
    """A self-contained page: the key numbers in a table, then each figure with its caption."""
    esc = html.escape
    rows = "\n".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in numbers)
    figs = "\n".join(
        f'<figure><img src="{esc(name)}" alt="{esc(caption)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
        for name, caption in figures
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{esc(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 2em; }}
th, td {{ text-align: left; padding: 0.25em 1em 0.25em 0; border-bottom: 1px solid #ddd; }}
figure {{ margin: 0 0 2.5em 0; }}
img {{ max-width: 100%; }}
figcaption {{ color: #555; }}
</style>
</head>
<body>
<h1>{esc(title)}</h1>
<table>
{rows}
</table>
{figs}
</body>
</html>
"""


def _pct(value: Any) -> str:
    return f"{100 * value:.2f}%" if isinstance(value, (int, float)) else "-"


def _numbers(run: Any, test_accuracy: float) -> list[tuple[str, str]]:
    settings = run.config.get("settings") or {}
    metrics = run.metrics or {}
    sizes = "-".join(str(n) for n in run.params.sizes)
    numbers = [
        ("Test accuracy", _pct(test_accuracy)),
        ("Train accuracy", _pct(metrics.get("train_accuracy"))),
        ("Epochs", str(metrics.get("epochs", len(run.history)))),
        ("Training time", f"{sum(r.get('seconds') or 0 for r in run.history):.1f} s"),
        ("Network", f"{sizes}, {run.params.activation.name}"),
        ("Dataset", str((run.config.get("data") or {}).get("name", "?"))),
    ]
    if settings:
        numbers.append(
            (
                "Optimizer",
                f"{settings.get('optimizer')} (lr {settings.get('lr')}), batch size "
                f"{settings.get('batch_size')}, seed {settings.get('seed')}",
            )
        )
    if run.metrics is None:
        numbers.append(("Note", "training did not finish; figures show the last saved epoch"))
    return numbers


def run(args: argparse.Namespace) -> int:
    """Write the figures and index.html; print where."""
    from ..engine.table import predict_proba
    from ..inputs import class_names
    from ..metrics import confident_mistakes, confusion_matrix
    from ..runs import load_run, plots
    from ..runs.checkpoint import write_atomic
    from .evaluate import run_dataset

    plots.require_matplotlib()  # before any work
    run_ = load_run(args.run_dir)
    data = run_.config.get("data") or {}
    dataset = run_dataset(run_.config, data_dir=args.data_dir)
    test = dataset.test
    names = class_names(run_.config, run_.params.sizes[-1])
    probs = predict_proba(run_.params, test.images)
    predicted = probs.argmax(axis=1)
    cm = confusion_matrix(test.labels, predicted, len(names))
    wrong = confident_mistakes(probs, test.labels, MISTAKES)
    things = "digits" if data.get("name", "mnist") == "mnist" else "images"
    figures = {
        "samples.png": lambda: plots.sample_grid(
            test.images[:SAMPLES],
            test.labels[:SAMPLES],
            names,
            title=f"Sample test {things} and their labels",
        ),
        "curves.png": lambda: plots.training_curves(run_.history),
        "confusion.png": lambda: plots.confusion_heatmap(cm, names),
        "mistakes.png": lambda: plots.mistakes_gallery(
            test.images[wrong],
            test.labels[wrong],
            predicted[wrong],
            probs[wrong, predicted[wrong]],
            names,
            title=f"Misclassified test {things} (most confident first)",
        ),
        "weights.png": lambda: plots.first_layer_weights(
            run_.params, image_shape=test.images.shape[1:3]
        ),
    }
    shown, note = _shown(dataset.kind, test.images.shape[1:])
    out = Path(args.out) if args.out else Path(args.run_dir) / "report"
    out.mkdir(parents=True, exist_ok=True)
    for name, _ in shown:
        write_atomic(out / name, plots.png_bytes(figures[name]()))
    accuracy = float(cm.trace()) / max(int(cm.sum()), 1)
    page = index_html(f"Run {Path(args.run_dir).name}", _numbers(run_, accuracy), shown)
    write_atomic(out / "index.html", page.encode("utf-8"))
    if note:
        print(f"note: {note}")
    print(f"report written to {out / 'index.html'} ({len(shown)} figures)")
    return 0


def _shown(
    kind: str, example_shape: tuple[int, ...]
) -> tuple[tuple[tuple[str, str], ...], str | None]:
    """The figures the data allow, and a note on those left out: the image grids need
    images, the first-layer weights grayscale images.

    >>> shown, note = _shown("table", (64,))
    >>> [name for name, _ in shown], note.split(":")[1]
    (['curves.png', 'confusion.png'], ' the data are a table of features, not images')
    >>> len(_shown("images", (28, 28))[0]), len(_shown("images", (32, 32, 3))[0])
    (5, 4)
    """
    left: tuple[str, ...]
    if kind != "images":
        left = IMAGE_FIGURES
        reason = "the data are a table of features, not images"
    elif len(example_shape) != 2:
        left, reason = ("weights.png",), "colour images have no one weight image per unit"
    else:
        return FIGURES, None
    return tuple(f for f in FIGURES if f[0] not in left), f"no {', '.join(left)}: {reason}"
