"""The report's figures: what each one shows, and a clear error without matplotlib."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import mlp_functional as mf
from mlp_functional.runs import plots

pytest.importorskip("matplotlib")

NAMES = [str(i) for i in range(10)]
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"]
FASHION += ["Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def _visible(fig) -> list:
    return [ax for ax in fig.axes if ax.axison]


def _png_ok(fig) -> None:
    data = plots.png_bytes(fig)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def test_sample_grid_titles_each_digit_with_its_label() -> None:
    images = np.zeros((13, 28, 28), np.uint8)
    labels = np.arange(13) % 10
    fig = plots.sample_grid(images, labels, NAMES, cols=5)
    shown = _visible(fig)
    assert len(shown) == 13 and len(fig.axes) == 15  # 3 rows of 5, two left empty
    assert [ax.get_title() for ax in shown] == [NAMES[i] for i in labels]
    _png_ok(fig)


def test_training_curves_draw_validation_only_when_there_is_some() -> None:
    with_val = [
        {
            "epoch": e,
            "train_loss": 1 / e,
            "train_accuracy": 0.9,
            "val_loss": 1.1 / e,
            "val_accuracy": 0.88,
        }
        for e in (1, 2, 3)
    ]
    fig = plots.training_curves(with_val)
    loss, acc = fig.axes
    assert [line.get_label() for line in loss.lines] == ["training", "validation"]
    assert acc.lines[0].get_ydata().tolist() == [90.0, 90.0, 90.0]  # percent
    assert loss.get_xlabel() == "epoch" and "loss" in loss.get_ylabel()
    without = [{**r, "val_loss": None, "val_accuracy": None} for r in with_val]
    assert [len(ax.lines) for ax in plots.training_curves(without).axes] == [1, 1]
    _png_ok(fig)


@pytest.mark.parametrize("names", [NAMES, FASHION])
def test_confusion_heatmap_writes_every_nonzero_count(names: list[str]) -> None:
    rng = np.random.default_rng(0)
    cm = rng.integers(0, 5, (10, 10)) + np.diag(np.full(10, 900))
    cm[3, 4] = 0
    fig = plots.confusion_heatmap(cm, names)
    ax = fig.axes[0]
    texts = {
        (round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts
    }
    assert texts == {(t, p): str(cm[t, p]) for t in range(10) for p in range(10) if cm[t, p]}
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    assert ax.get_xlabel() == "predicted label" and ax.get_ylabel() == "true label"
    assert f"{int(np.trace(cm))} of {int(cm.sum())} correct" in ax.get_title()
    _png_ok(fig)


def test_mistakes_gallery_shows_true_prediction_and_confidence() -> None:
    images = np.zeros((3, 28, 28), np.uint8)
    fig = plots.mistakes_gallery(images, [4, 7, 9], [9, 1, 4], [0.987, 0.5, 0.3], NAMES)
    titles = [ax.get_title() for ax in _visible(fig)]
    assert titles == ["true 4\npred 9 98.7%", "true 7\npred 1 50.0%", "true 9\npred 4 30.0%"]
    empty = plots.mistakes_gallery(images[:0], [], [], [], NAMES)
    assert any(t.get_text() == "no mistakes" for ax in empty.axes for t in ax.texts)
    _png_ok(fig)


def test_first_layer_weights_are_28x28_images_with_a_symmetric_scale() -> None:
    params = mf.init(mf.key(0), [784, 12, 10])
    fig = plots.first_layer_weights(params, units=64, cols=4)
    shown = _visible(fig)
    assert len(shown) == 12
    image = shown[5].images[0]
    assert image.get_array().shape == (28, 28)
    low, high = image.get_clim()
    assert low == -high and high == pytest.approx(np.abs(params.layers[0].w[:, 5]).max())
    assert np.allclose(image.get_array(), params.layers[0].w[:, 5].reshape(28, 28))
    _png_ok(fig)


def test_weights_of_a_non_image_model_are_refused() -> None:
    with pytest.raises(ValueError, match="only 784"):
        plots.first_layer_weights(mf.init(mf.key(0), [10, 4, 2]))


def test_without_matplotlib_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'mlp-functional\[plot\]'"):
        plots.sample_grid(np.zeros((1, 28, 28), np.uint8), [0], NAMES)
