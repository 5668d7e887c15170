"""Tables of your own are standardised by their training rows, and the run keeps the
scaling so that evaluation and prediction see the same features."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _own_data_util import as_csv
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import datasets

from mlp_functional.data import (
    Dataset,
    Split,
    fit_scaling,
    load_data,
    needs_scaling,
    scale_features,
    scaling_from_record,
    scaling_record,
)
from mlp_functional.data.scaling import LIMIT


def command(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlp_functional", *argv], cwd=cwd, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def trained_on_digits(tmp_path_factory) -> tuple[Path, Path]:
    """The 8x8 digits as a CSV (pixels 0..16), trained with the default settings."""
    root = tmp_path_factory.mktemp("scaled")
    bunch = datasets.load_digits()
    data = as_csv(root, bunch.images.astype(np.uint8), bunch.target)
    result = command("train", "--data", str(data), "--out", "run", "--quiet", cwd=root)
    assert result.returncode == 0, result.stderr
    return data, root / "run"


def test_the_8x8_digits_as_a_csv_train_past_95_percent_with_the_default_settings(
    trained_on_digits,
):
    _, run = trained_on_digits
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.95, metrics


def test_the_scaling_is_the_training_rows_mean_and_deviation(trained_on_digits):
    data, run = trained_on_digits
    config = json.loads((run / "config.json").read_text())
    dataset = load_data(data)
    recorded = scaling_from_record(config["data"]["scaling"])
    # Fitted on the training rows the run trained on, not the test rows nor all of them.
    train_rows = dataset.train.images.astype(np.float64)
    assert not np.allclose(recorded.mean, dataset.test.images.mean(axis=0))
    assert config["data"]["train_examples"] < len(train_rows)
    assert np.all(np.asarray(recorded.std) > 0)
    assert len(recorded.mean) == train_rows.shape[1] == 64


def test_predict_scales_csv_rows_as_training_did(trained_on_digits, tmp_path):
    data, run = trained_on_digits
    dataset = load_data(data)
    rows = tmp_path / "rows.csv"
    np.savetxt(rows, dataset.test.images[:40], fmt="%d", delimiter=",")
    result = command("predict", str(run), str(rows), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    said = [line.split(": ")[1].split(" ")[0] for line in result.stdout.splitlines()]
    right = np.mean([s == str(y) for s, y in zip(said, dataset.test.labels[:40], strict=True)])
    assert right >= 0.9, result.stdout


def test_mnist_like_tables_and_images_are_not_standardised():
    def dataset(images):
        split = Split(images, np.zeros(len(images), np.int64))
        return Dataset(split, split, ("a", "b"), "d")

    assert not needs_scaling(dataset(np.zeros((2, 784), np.uint8)))
    assert not needs_scaling(dataset(np.zeros((2, 8, 8), np.uint8)))
    assert needs_scaling(dataset(np.zeros((2, 64), np.uint8)))


@settings(max_examples=50, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(2, 30), st.integers(1, 6)),
        elements=st.floats(-1e6, 1e6),
    )
)
def test_scaled_training_rows_have_mean_0_and_deviation_1_within_the_clip(x):
    scaling = fit_scaling(x)
    handed_out = scale_features(x, scaling)
    assert not handed_out.flags.writeable and handed_out.dtype == np.float32
    scaled = handed_out.astype(np.float64)
    assert np.all(np.abs(scaled) <= LIMIT)
    unclipped = np.abs((x - scaling.mean) / scaling.std) < LIMIT
    columns = unclipped.all(axis=0) & (x.std(axis=0) > 1e-6 * (1 + np.abs(x).max(axis=0)))
    np.testing.assert_allclose(scaled[:, columns].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(scaled[:, columns].std(axis=0), 1, atol=1e-4)
    assert scaling_from_record(json.loads(json.dumps(scaling_record(scaling)))) == scaling


def test_a_damaged_scaling_record_is_refused_in_one_line():
    for bad in ({"mean": [0.0]}, {"mean": [0.0], "std": [0.0]}, {"mean": "x", "std": [1.0]}):
        with pytest.raises(ValueError, match="feature scaling record is damaged"):
            scaling_from_record(bad)
