"""Own data end to end: scikit-learn's 8x8 digits as a CSV, an .npz and an image folder, and
MNIST as Kaggle's CSV, each read by load_data and trained with the library."""

from __future__ import annotations

import numpy as np
import pytest
import toolz
from _own_data_util import as_csv, as_folder, as_npz

import mlp_functional as mf
from mlp_functional.data import Dataset, load, load_data

datasets = pytest.importorskip("sklearn.datasets")
PIL = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8x8 digits: pixels 0..16 as integers, labels 0..9."""
    bunch = datasets.load_digits()
    return bunch.images.astype(np.uint8), bunch.target.astype(np.int64)


def train_and_score(data: Dataset, epochs: int = 30) -> float:
    sizes = [data.train.images[0].size, 128, len(data.classes)]
    state = mf.init_state(mf.key(1), mf.init(mf.key(0), sizes), mf.adam(1e-2))
    state, _ = toolz.last(
        mf.fit(state, data.train.images, data.train.labels, epochs=epochs, batch_size=32)
    )
    return mf.accuracy(state.params, data.test.images, data.test.labels)


@pytest.mark.parametrize("write", [as_csv, as_npz, as_folder])
def test_digits_in_each_form_train_to_95_percent(tmp_path, digits, write):
    images, labels = digits
    data = load_data(write(tmp_path, images, labels))
    assert data.classes == tuple(str(d) for d in range(10))
    # 20% of each class, rounded per class: 35.6 -> 36, 36.4 -> 36, 35.4 -> 35, ...
    expected = sum(int(c * 0.2 + 0.5) for c in np.bincount(labels))
    assert expected == 359 and len(data.test.labels) == expected
    assert data.train.images.dtype == np.uint8
    assert train_and_score(data) >= 0.95


def test_the_three_forms_give_the_same_split(tmp_path, digits):
    images, labels = digits
    splits = [load_data(w(tmp_path, images, labels)) for w in (as_csv, as_npz, as_folder)]
    csv, npz, folder = splits
    assert np.array_equal(csv.test.images, npz.test.images.reshape(-1, 64))
    assert np.array_equal(csv.test.labels, npz.test.labels)
    # the folder lists files by class, so its rows come in another order: compare sets
    assert sorted(folder.test.labels.tolist()) == sorted(csv.test.labels.tolist())


@pytest.mark.slow
def test_mnist_as_kaggle_csv_matches_the_built_in_dataset(tmp_path, mnist_dir):
    """Train and test written as Kaggle-style CSVs into an .npz-free folder: same accuracy."""
    mnist = load("mnist", data_dir=mnist_dir)
    train, test = mnist.train, mnist.test
    x = np.concatenate([train.images, test.images]).reshape(70_000, -1)
    y = np.concatenate([train.labels, test.labels])
    path = tmp_path / "train.csv"
    header = ",".join(["label", *(f"pixel{i}" for i in range(784))])
    np.savetxt(path, np.column_stack([y, x]), fmt="%d", delimiter=",", header=header, comments="")
    mine = load_data(path, test_size=1 / 7)
    assert mine.train.images.dtype == np.uint8 and mine.test.images.shape == (10_000, 784)

    def score(tr_x: np.ndarray, tr_y: np.ndarray, te_x: np.ndarray, te_y: np.ndarray) -> float:
        state = mf.init_state(mf.key(1), mf.init(mf.key(0), [784, 64, 10]), mf.adam(1e-3))
        state, _ = toolz.last(mf.fit(state, tr_x, tr_y, epochs=2))
        return mf.accuracy(state.params, te_x, te_y)

    built_in = score(train.images, train.labels, test.images, test.labels)
    own = score(mine.train.images, mine.train.labels, mine.test.images, mine.test.labels)
    # two different 10,000-image test sets: the standard error of each is about 0.2%
    assert built_in > 0.95 and abs(own - built_in) < 0.01
