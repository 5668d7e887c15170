"""Figures of a run with matplotlib: digits, learning curves, confusion, mistakes, weights.

Each function takes plain arrays and returns a :class:`matplotlib.figure.Figure` built
without pyplot (no global figure state, no display needed); :func:`png_bytes` renders
one. matplotlib is the optional extra ``plot`` and is imported only here, when a figure
is made: without it these functions raise an ``ImportError`` whose message says
``pip install 'mlp-functional[plot]'``.

>>> import numpy as np
>>> fig = sample_grid(np.zeros((4, 28, 28), np.uint8), np.arange(4), [str(i) for i in range(4)])
>>> png_bytes(fig)[:8]
b'\\x89PNG\\r\\n\\x1a\\n'
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..metrics import percent
from ..textbook.params import Params

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "PLOT_HINT",
    "confusion_heatmap",
    "first_layer_weights",
    "mistakes_gallery",
    "png_bytes",
    "require_matplotlib",
    "sample_grid",
    "training_curves",
]

#: How to get the optional dependency the figures need.
PLOT_HINT = "pip install 'mlp-functional[plot]'"
_DPI = 100


def require_matplotlib() -> None:
    """Import matplotlib, or raise an ImportError that says how to install it."""
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        raise ImportError(f"the figures need matplotlib: {PLOT_HINT}") from None


def _figure(width: float, height: float) -> Figure:
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=_DPI, layout="constrained")


def png_bytes(fig: Figure) -> bytes:
    """The figure rendered as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return buf.getvalue()


def _column_width(titles: Sequence[str], least: float) -> float:
    """Inches per grid column so that the longest title line fits (about 0.065 in a char)."""
    longest = max((len(line) for t in titles for line in t.splitlines()), default=0)
    return max(least, 0.065 * longest + 0.25)


def _grid(n: int, cols: int) -> tuple[int, int]:
    cols = max(1, min(cols, n))
    return max(1, math.ceil(n / cols)), cols


def _digit(ax: Any, image: np.ndarray, title: str, color: str = "black") -> None:
    """One image: grayscale ``(H, W)`` as dark ink on white, ``(H, W, 3)`` in its colours;
    a flat row of 784 pixels is taken for a 28x28 digit."""
    image = np.asarray(image)
    if image.ndim == 1:
        image = image.reshape(28, 28)
    if image.ndim == 3:
        ax.imshow(image)
    else:
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=255)
    ax.set_title(title, fontsize=9, color=color)
    ax.set_xticks([])
    ax.set_yticks([])


def sample_grid(
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    class_names: Sequence[str],
    cols: int = 10,
    title: str = "Sample images and their labels",
) -> Figure:
    """Digits in a grid, each titled with its label (dark ink on white, as on paper).

    Args:
      images: ``(N, H, W)`` (or ``(N, H, W, 3)`` colour) uint8.
      labels: ``(N,)`` labels, indices into ``class_names``.
      class_names: the name of each class.
      cols: digits per row.
    """
    n = len(images)
    rows, cols = _grid(n, cols)
    titles = [class_names[int(label)] for label in labels[:n]]
    fig = _figure(_column_width(titles, 1.1) * cols, 1.25 * rows + 0.4)
    fig.suptitle(title)
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            _digit(ax, images[i], titles[i])
        else:
            ax.axis("off")
    return fig


def training_curves(history: Sequence[Mapping[str, Any]]) -> Figure:
    """Loss and accuracy per epoch, training and validation, side by side.

    Args:
      history: records with ``epoch``, ``train_loss``, ``train_accuracy`` and optionally
        ``val_loss`` and ``val_accuracy`` (``None`` when there was no validation split).
    """
    fig = _figure(10, 3.8)
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in history]

    def series(name: str) -> list[float]:
        return [math.nan if r.get(name) is None else float(r[name]) for r in history]

    marker = "o" if len(history) <= 30 else None
    for ax, what, scale in ((ax_loss, "loss", 1.0), (ax_acc, "accuracy", 100.0)):
        for split, style in (("train", "-"), ("val", "--")):
            values = [scale * v for v in series(f"{split}_{what}")]
            if values and not all(math.isnan(v) for v in values):
                label = "training" if split == "train" else "validation"
                ax.plot(epochs, values, style, marker=marker, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy loss" if what == "loss" else "accuracy (%)")
        ax.set_title(f"{what.capitalize()} per epoch")
        ax.grid(alpha=0.3)
        if epochs:
            ax.set_xticks(_epoch_ticks(epochs))
            ax.legend()
    return fig


def _epoch_ticks(epochs: Sequence[int]) -> list[int]:
    last = max(epochs)
    step = max(1, math.ceil(last / 10))
    return list(range(step if step > 1 else 1, last + 1, step)) or [last]


def confusion_heatmap(cm: np.ndarray, class_names: Sequence[str]) -> Figure:
    """The confusion matrix as a heat map with the counts written in each cell.

    Colours use a log scale so that the few mistakes stand out beside the large diagonal.
    """
    from matplotlib.colors import LogNorm

    cm = np.asarray(cm)
    k = cm.shape[0]
    fig = _figure(1.0 + 0.62 * k, 0.6 + 0.58 * k)
    ax = fig.subplots()
    shown = np.where(cm > 0, cm, np.nan)
    image = ax.imshow(shown, cmap="Blues", norm=LogNorm(vmin=1, vmax=max(int(cm.max()), 2)))
    fig.colorbar(image, ax=ax, shrink=0.8, label="examples (log scale)")
    threshold = math.sqrt(max(int(cm.max()), 1))
    for t in range(k):
        for p in range(k):
            if cm[t, p]:
                color = "white" if cm[t, p] > threshold else "black"
                ax.text(p, t, str(cm[t, p]), ha="center", va="center", fontsize=8, color=color)
    if max(map(len, class_names)) > 2:
        ax.set_xticks(range(k), class_names, rotation=45, ha="right", rotation_mode="anchor")
    else:
        ax.set_xticks(range(k), class_names)
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.set_title(f"Confusion matrix ({int(np.trace(cm))} of {int(cm.sum())} correct)")
    return fig


def mistakes_gallery(
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    predicted: Sequence[int] | np.ndarray,
    confidence: Sequence[float] | np.ndarray,
    class_names: Sequence[str],
    cols: int = 8,
    title: str = "Misclassified test images (most confident first)",
) -> Figure:
    """Misclassified images, each titled with its true label, the prediction and confidence."""
    n = len(images)
    rows, cols = _grid(max(n, 1), cols)
    titles = [
        f"true {class_names[int(labels[i])]}\n"
        f"pred {class_names[int(predicted[i])]} {percent(float(confidence[i]))}"
        for i in range(n)
    ]
    fig = _figure(_column_width(titles, 1.3) * cols, 1.45 * rows + 0.4)
    fig.suptitle(title)
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            _digit(ax, images[i], titles[i], color="firebrick")
        else:
            ax.axis("off")
    if n == 0:
        axes.flat[0].text(0.5, 0.5, "no mistakes", ha="center", va="center")
    return fig


def first_layer_weights(
    params: Params, units: int = 64, cols: int = 8, image_shape: tuple[int, int] = (28, 28)
) -> Figure:
    """The incoming weights of the first layer's units, each shown as an image.

    Red is positive, blue negative, white zero; each unit has its own symmetric scale
    so that its pattern is visible whatever its magnitude.

    Args:
      image_shape: the ``(H, W)`` of the grayscale images the model reads.
    """
    w = np.asarray(params.layers[0].w)
    height, width = image_shape
    if w.shape[0] != height * width:
        raise ValueError(
            f"the first layer reads {w.shape[0]} inputs; only {height * width} "
            f"({height}x{width}) can be shown"
        )
    n = min(units, w.shape[1])
    rows, cols = _grid(n, cols)
    fig = _figure(1.1 * cols, 1.15 * rows + 0.5)
    fig.suptitle(f"First-layer weights of {n} of {w.shape[1]} units (red +, blue -)")
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.axis("off")
            continue
        unit = w[:, i].reshape(height, width)
        limit = float(np.abs(unit).max()) or 1.0
        ax.imshow(unit, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"unit {i}", fontsize=8)
    return fig
